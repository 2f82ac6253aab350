package bench

import "time"

// Result is one run's report: the JSON line and file.
type Result struct {
	Scenario string         `json:"scenario"`
	Name     string         `json:"name"`
	Started  time.Time      `json:"started"`
	Params   map[string]any `json:"params"`
	Target   *target        `json:"server"`
	Sizing   Sizing         `json:"sizing"`
	LoadAvg  float64        `json:"loadavg_1m_before"` // other work on the box when the run began
	CPUs     int            `json:"cpus"`
	// Calibration is the bare loopback write cost at the start and the end.
	Calibration []Calibration  `json:"calibration"`
	Ramp        *Ramp          `json:"ramp,omitempty"`
	Idle        *IdleResult    `json:"idle,omitempty"`
	Fanout      *FanoutResult  `json:"fanout,omitempty"`
	Connect     *ConnectResult `json:"connect,omitempty"`
	Profile     *Profile       `json:"profile,omitempty"`
	Files       []string       `json:"files"`
	Notes       []string       `json:"notes,omitempty"`
}

// IdleResult is the idle scenario's measure.
type IdleResult struct {
	Connections      int64   `json:"connections"` // server's count at the measure
	RSSBefore        int64   `json:"rss_before"`
	RSSAfter         int64   `json:"rss_after"` // once settled
	RSSPerConn       float64 `json:"rss_per_conn_bytes"`
	RSSAfterWindow   int64   `json:"rss_after_window"`
	SettleSeconds    float64 `json:"settle_s"`
	HeapLiveBeforeMB int     `json:"heap_live_before_mb"` // after the last GC before the ramp (gctrace)
	HeapLiveAfterMB  int     `json:"heap_live_after_mb"`  // after the last GC by the measure
	GCCycles         int     `json:"gc_cycles"`
	GoroutinesBefore int     `json:"goroutines_before"`
	GoroutinesAfter  int     `json:"goroutines_after"`
	ThreadsBefore    int     `json:"threads_before"`
	ThreadsAfter     int     `json:"threads_after"`
	Window           Window  `json:"idle_window"`
}

// FanoutResult is the fanout scenario's measure.
type FanoutResult struct {
	Subscribers      int         `json:"subscribers"` // joined
	Published        int         `json:"published"`   // acknowledged
	PublishErrors    int         `json:"publish_errors"`
	PublishSeconds   float64     `json:"publish_s"`
	PublishRate      float64     `json:"publish_per_s"`
	Expected         uint64      `json:"expected"` // deliveries owed to subscribers that stayed open
	Received         uint64      `json:"received"`
	Lost             uint64      `json:"lost"`             // owed to open subscribers, never received
	DroppedByClose   uint64      `json:"dropped_by_close"` // owed to subscribers the server closed
	SlowConsumers    int64       `json:"slow_consumers"`   // from /stats
	Disorder         uint64      `json:"disorder"`
	CloseCodes       map[int]int `json:"close_codes,omitempty"`
	Deliveries       uint64      `json:"server_deliveries"` // /stats delta
	DeliverySeconds  float64     `json:"delivery_s"`        // first send to last receive
	DeliveriesPerSec float64     `json:"deliveries_per_s"`
	Latency          Latency     `json:"latency"`
	CPUPerMillion    float64     `json:"server_cpu_s_per_million"`
	MicrosPerDeliv   float64     `json:"server_us_per_delivery"`
	// MicrosExclRx leaves out the receivers' TCP processing that loopback
	// charges to the server's writev (from the profile; 0 without one).
	MicrosExclRx   float64        `json:"server_us_per_delivery_excl_loopback_rx,omitempty"`
	ToolMicros     float64        `json:"tool_us_per_delivery"`
	WritesPerDeliv float64        `json:"server_writes_per_delivery"` // < 1: frames coalesced
	MicrosPerWrite float64        `json:"server_us_per_write"`        // server CPU / write syscalls
	BareWrites     float64        `json:"server_cost_in_bare_writes"` // MicrosPerWrite / calibrated bare write
	FramesPerRead  float64        `json:"client_frames_per_read"`
	Failures       map[string]int `json:"failures,omitempty"`
	Window         Window         `json:"window"`
	// HistoryBytes is the server's wsify_history_bytes after the run, and
	// HistoryPerPub that over the publications kept (-history only).
	HistoryBytes  int64   `json:"history_bytes,omitempty"`
	HistoryPerPub float64 `json:"history_bytes_per_publication,omitempty"`
}

// ConnectResult is the connect scenario's measure.
type ConnectResult struct {
	Auth           bool           `json:"authorizer"`
	Cycles         int            `json:"cycles"` // connect, join, close: tried
	OK             int            `json:"ok"`
	Failed         int            `json:"failed"`
	Failures       map[string]int `json:"failures,omitempty"`
	Seconds        float64        `json:"seconds"`
	UpgradesPerSec float64        `json:"upgrades_per_s"` // server accepted delta / seconds
	CyclesPerSec   float64        `json:"cycles_per_s"`   // complete cycles / seconds
	Upgrade        Latency        `json:"upgrade_latency"`
	Join           Latency        `json:"join_latency"`
	Cycle          Latency        `json:"cycle_latency"`
	ServerMicros   float64        `json:"server_us_per_cycle"`
	ToolMicros     float64        `json:"tool_us_per_cycle"`
	AuthCalls      int64          `json:"authorizer_calls,omitempty"`
	Window         Window         `json:"window"`
}
