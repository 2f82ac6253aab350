package bench

import (
	"fmt"
	"runtime"
	"time"
)

// Run runs one scenario end to end: it starts what it needs, measures,
// stops everything it started and writes the JSON and charts to cfg.Out.
func Run(cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err == nil {
		err = setNice(cfg.Nice)
	}
	if err != nil {
		return nil, err
	}
	s := &session{cfg: cfg, t0: time.Now()}
	s.res = &Result{Scenario: cfg.Scenario, Name: cfg.Name, Started: time.Now(), Params: params(cfg),
		LoadAvg: loadAvg(), CPUs: runtime.NumCPU()}
	defer s.close()
	if err := s.open(); err != nil {
		return s.res, err
	}
	s.res.Target = s.tgt
	s.logf("server %s pid %d (self-started: %v)", s.tgt.Addr, s.tgt.PID, s.tgt.SelfStarted)
	s.calibrate()
	switch cfg.Scenario {
	case "idle":
		err = s.idle()
	case "fanout":
		err = s.fanout()
	case "connect":
		err = s.connect()
	}
	if err != nil {
		return s.res, fmt.Errorf("bench: %s: %w", cfg.Name, err)
	}
	s.calibrate()
	if f := s.res.Fanout; f != nil {
		f.BareWrites = f.MicrosPerWrite / s.bareWrite()
	}
	s.close()
	return s.res, s.write()
}

// calibrate measures the bare loopback write cost now (see Calibration).
func (s *session) calibrate() {
	c, err := calibrate(s.cfg.Size, 200, 50)
	if err != nil {
		s.res.Notes = append(s.res.Notes, err.Error())
		return
	}
	s.res.Calibration = append(s.res.Calibration, c)
}

// bareWrite is the mean calibrated write cost.
func (s *session) bareWrite() float64 {
	var sum float64
	for _, c := range s.res.Calibration {
		sum += c.WriteUs
	}
	return sum / float64(max(len(s.res.Calibration), 1))
}

// params are the run's settings as reported.
func params(c Config) map[string]any {
	p := map[string]any{"server_env": c.ServerEnv, "procs_min": c.Procs, "dialers": c.Dialers, "timeout": c.Timeout.String(),
		"nice": c.Nice, "profile": c.Profile}
	switch c.Scenario {
	case "idle":
		p["conns"], p["channels"], p["idle_window"] = c.Conns, c.Channels, c.IdleWindow.String()
	case "fanout":
		p["subscribers"], p["channels"], p["msgs"], p["rate"] = c.Conns, c.Channels, c.Msgs, c.Rate
		p["via"], p["size"], p["window"], p["drain"] = c.Via, c.Size, c.Window, c.Drain.String()
		p["history"], p["filter"] = c.History, c.Filter
	case "connect":
		p["rate"], p["duration"], p["max_cycles"], p["auth"] = c.Rate, c.Duration.String(), c.MaxCycles, c.Auth
		p["client"] = c.ChurnClient
	}
	return p
}

// plan sizes the client side for conns held connections using ports
// source ports in all.
func (s *session) plan(conns, ports int) error {
	sz, err := size(conns, ports, s.cfg.Procs, 2)
	s.res.Sizing = sz
	if err == nil {
		s.logf("sizing: %s", sz.Note)
	}
	return err
}
