package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// session is one run's state on the coordinator.
type session struct {
	cfg     Config
	res     *Result
	tgt     *target
	auth    *authorizer      // nil without -auth
	fleet   *fleet           // nil until started
	prof    *profiler        // nil without -profile
	results []*workerResult  // the workers' final reports
	hists   map[string]*Hist // latency distributions to chart, by label
	binDir  string           // temporary directory of the server binary built
	t0      time.Time
}

// logf writes a progress line.
func (s *session) logf(format string, args ...any) {
	fmt.Fprintf(s.cfg.Log, "wsbench %s %6.1fs  %s\n", s.cfg.Name, time.Since(s.t0).Seconds(), fmt.Sprintf(format, args...))
}

// open starts (or attaches to) the server, with the authorizer if asked.
func (s *session) open() error {
	if s.cfg.Addr != "" {
		t, err := attach(s.cfg.Addr, s.cfg.PID)
		s.tgt = t
		return err
	}
	bin := s.cfg.Bin
	if bin == "" {
		s.logf("building ./cmd/wsify")
		var err error
		if bin, err = buildServer(s.cfg.Src); err != nil {
			return err
		}
		s.binDir = filepath.Dir(bin) // removed by close, after perf has read the symbols
	}
	env := s.cfg.ServerEnv
	if s.cfg.History > 0 {
		env = append(env, fmt.Sprintf("WSIFY_HISTORY_SIZE=%d", s.cfg.History), "WSIFY_HISTORY_TTL=1h", "WSIFY_HISTORY_MAX_BYTES=4294967296")
	}
	if s.cfg.Auth {
		a, err := startAuthorizer(filterUsers(s.cfg.Filter))
		if err != nil {
			return err
		}
		s.auth = a
		env = append(env, "WSIFY_AUTHORIZER_URL="+a.url())
	}
	t, err := startServer(bin, env, filepath.Join(s.cfg.Out, s.cfg.Name+"-server.log"))
	s.tgt = t
	return err
}

// close stops whatever the session started; a second call does nothing.
func (s *session) close() {
	if s.prof != nil {
		s.prof.stop()
	}
	if s.fleet != nil {
		s.fleet.kill()
	}
	if s.tgt != nil {
		s.tgt.stop()
	}
	if s.auth != nil {
		s.auth.stop()
	}
	if s.binDir != "" {
		os.RemoveAll(s.binDir)
	}
	s.fleet, s.tgt, s.auth, s.prof, s.binDir = nil, nil, nil, nil, ""
}

// toolPIDs are the tool's own processes: coordinator and workers.
func (s *session) toolPIDs() []int {
	pids := []int{os.Getpid()}
	if s.fleet != nil {
		pids = append(pids, s.fleet.pids()...)
	}
	return pids
}

// snapshot is the state of everything measured at one instant.
type snapshot struct {
	at    time.Time
	srv   procSample
	tool  float64 // CPU seconds of the tool's processes
	auth  float64 // CPU seconds of the authorizer
	busy  float64 // CPU seconds the machine was busy
	steal float64 // CPU seconds the hypervisor took
	stats ServerStats
}

func (s *session) snap() (snapshot, error) {
	var sn snapshot
	var err error
	if sn.stats, err = s.tgt.stats(); err != nil {
		return sn, err
	}
	sn.at = time.Now()
	if sn.srv, err = readProc(s.tgt.PID); err != nil {
		return sn, err
	}
	sn.tool = cpuSum(s.toolPIDs())
	if s.auth != nil {
		sn.auth = cpuSum([]int{s.auth.pid()})
	}
	sn.busy, sn.steal = systemCPU()
	return sn, nil
}

// Window is what a stretch of time cost.
type Window struct {
	Seconds       float64 `json:"seconds"`
	ServerCPU     float64 `json:"server_cpu_s"`
	ServerCPUPct  float64 `json:"server_cpu_pct_of_core"`
	ToolCPU       float64 `json:"tool_cpu_s"` // coordinator + client processes
	ToolCPUPct    float64 `json:"tool_cpu_pct_of_core"`
	AuthCPU       float64 `json:"authorizer_cpu_s,omitempty"`
	OtherCPU      float64 `json:"other_cpu_s"` // machine busy time beyond server, tool and authorizer
	ServerWrites  uint64  `json:"server_write_syscalls"`
	MachineBusyPc float64 `json:"machine_busy_pct"` // of all cores
	StealCPU      float64 `json:"steal_cpu_s"`      // taken by the hypervisor from our virtual CPUs
}

func window(a, b snapshot) Window {
	w := Window{Seconds: b.at.Sub(a.at).Seconds(), ServerCPU: b.srv.CPU - a.srv.CPU, ToolCPU: b.tool - a.tool,
		AuthCPU: b.auth - a.auth, ServerWrites: b.srv.Writes - a.srv.Writes, StealCPU: b.steal - a.steal}
	w.OtherCPU = max(0, (b.busy-a.busy)-w.ServerCPU-w.ToolCPU-w.AuthCPU)
	if w.Seconds > 0 {
		w.ServerCPUPct = 100 * w.ServerCPU / w.Seconds
		w.ToolCPUPct = 100 * w.ToolCPU / w.Seconds
		w.MachineBusyPc = 100 * (b.busy - a.busy) / w.Seconds / float64(runtime.NumCPU())
	}
	return w
}
