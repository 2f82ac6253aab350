package bench

import (
	"encoding/json"
	"io"
	"strconv"
	"sync"
	"time"
)

// job is what the coordinator asks of one worker process, sent as the
// first line of its stdin. Later lines are commands ("stop").
type job struct {
	Kind     string   `json:"kind"` // "subscribe" or "churn"
	Addr     string   `json:"addr"` // server host:port
	Sources  []string `json:"sources"`
	First    int      `json:"first"`    // global index of the first connection
	Count    int      `json:"count"`    // connections (subscribe) or most cycles (churn)
	Stride   int      `json:"stride"`   // connection i of this worker is First+i*Stride
	Channels int      `json:"channels"` // connection k joins channel k % Channels
	Dialers  int      `json:"dialers"`  // concurrent dials
	Timeout  Duration `json:"timeout"`  // per dial / per step
	Rate     float64  `json:"rate"`     // churn: cycles per second of this worker; 0 unlimited
	Duration Duration `json:"duration"` // churn: how long
	Client   string   `json:"client"`   // churn: "raw" (syscalls) or "gobwas" (ws.Dialer on net.Conn)
}

// channelName is the name of channel number i.
func channelName(i int) string { return "bench-" + strconv.Itoa(i) }

// event is a line a worker writes on stdout.
type event struct {
	Type     string        `json:"type"` // "progress" or "result"
	Progress progress      `json:"progress"`
	Result   *workerResult `json:"result,omitempty"`
}

// progress is a worker's running count.
type progress struct {
	Opened int    `json:"opened"` // upgraded
	Joined int    `json:"joined"` // join acknowledged
	Failed int    `json:"failed"` // dial, handshake or join failed
	Closed int    `json:"closed"` // closed by the server or by EOF
	Recv   uint64 `json:"recv"`   // broadcasts received
	Cycles int    `json:"cycles"` // churn cycles done
	// LastJoin is when the last join was acknowledged (unix nanos).
	LastJoin int64 `json:"last_join_ns"`
}

func (p *progress) add(o progress) {
	p.Opened += o.Opened
	p.Joined += o.Joined
	p.Failed += o.Failed
	p.Closed += o.Closed
	p.Recv += o.Recv
	p.Cycles += o.Cycles
	p.LastJoin = max(p.LastJoin, o.LastJoin)
}

// chanCount is what a worker saw on one channel.
type chanCount struct {
	Open       int    `json:"open"`        // subscribers still open
	Closed     int    `json:"closed"`      // subscribers closed by the server
	RecvOpen   uint64 `json:"recv_open"`   // broadcasts the open ones received
	RecvClosed uint64 `json:"recv_closed"` // broadcasts the closed ones received before closing
	Disorder   uint64 `json:"disorder"`    // broadcasts out of order or repeated
}

// workerResult is a worker's final report.
type workerResult struct {
	Progress   progress       `json:"progress"`
	Failures   map[string]int `json:"failures"`
	CloseCodes map[int]int    `json:"close_codes"`
	Channels   []chanCount    `json:"channels"`
	Latency    Hist           `json:"latency"` // publish to receive, µs
	Reads      uint64         `json:"reads"`   // read syscalls that returned data
	Frames     uint64         `json:"frames"`  // frames those reads held
	// churn
	Upgrade Hist    `json:"upgrade"` // connect + handshake, µs
	Join    Hist    `json:"join"`    // join sent to ok received, µs
	Cycle   Hist    `json:"cycle"`   // whole cycle including the close handshake, µs
	Elapsed float64 `json:"elapsed_s"`
}

// lineWriter writes JSON lines from several goroutines.
type lineWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func newLineWriter(w io.Writer) *lineWriter { return &lineWriter{enc: json.NewEncoder(w)} }

func (l *lineWriter) write(v any) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.enc.Encode(v)
}

// Duration is a time.Duration that reads and writes as "1.5s" in JSON.
type Duration time.Duration

func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}
