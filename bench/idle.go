package bench

import (
	"math"
	"time"
)

// idle holds cfg.Conns joined connections and measures what they cost.
func (s *session) idle() error {
	ir := &IdleResult{}
	s.res.Idle = ir
	before, settle, err := s.settled()
	if err != nil {
		return err
	}
	ir.RSSBefore, ir.GoroutinesBefore, ir.ThreadsBefore = before.srv.RSS, before.stats.Goroutines, before.srv.Threads
	ir.HeapLiveBeforeMB, _ = s.tgt.lastGC()
	s.logf("baseline: RSS %s, %d goroutines, %d threads (settled in %.1fs)", mib(ir.RSSBefore), ir.GoroutinesBefore, ir.ThreadsBefore, settle)
	if s.res.Ramp, err = s.rampUp(); err != nil {
		return err
	}
	base := Sample{RSS: before.srv.RSS, Goroutines: before.stats.Goroutines, Threads: before.srv.Threads}
	s.res.Ramp.Samples = append([]Sample{base}, s.res.Ramp.Samples...)
	return s.idleMeasure(ir)
}

func (s *session) idleMeasure(ir *IdleResult) error {
	after, settle, err := s.settled()
	if err != nil {
		return err
	}
	ir.SettleSeconds = settle
	ir.Connections = after.stats.Connections
	ir.RSSAfter, ir.GoroutinesAfter, ir.ThreadsAfter = after.srv.RSS, after.stats.Goroutines, after.srv.Threads
	ir.RSSPerConn = float64(ir.RSSAfter-ir.RSSBefore) / float64(max(ir.Connections, 1))
	ir.HeapLiveAfterMB, ir.GCCycles = s.tgt.lastGC()
	s.logf("%d connections: RSS %s (%.0f B/conn, settled in %.1fs); idle window %s", ir.Connections,
		mib(ir.RSSAfter), ir.RSSPerConn, settle, s.cfg.IdleWindow)
	end, err := s.measureWindow(after, s.cfg.IdleWindow)
	if err != nil {
		return err
	}
	ir.Window = window(after, end)
	ir.RSSAfterWindow = end.srv.RSS
	s.res.Ramp.Samples = append(s.res.Ramp.Samples, Sample{T: time.Since(s.t0).Seconds(), Connections: end.stats.Connections,
		RSS: end.srv.RSS, Goroutines: end.stats.Goroutines, Threads: end.srv.Threads})
	return s.stopFleet()
}

// measureWindow waits d (profiling the server when asked) and snapshots.
func (s *session) measureWindow(from snapshot, d time.Duration) (snapshot, error) {
	s.startProfile()
	time.Sleep(time.Until(from.at.Add(d)))
	end, err := s.snap()
	s.stopProfile()
	return end, err
}

// settled waits until the server's RSS stops moving (four samples 500ms
// apart within 1% or 256 KiB) or cfg.Settle passes, and snapshots.
func (s *session) settled() (snapshot, float64, error) {
	start := time.Now()
	var rss []int64
	for {
		sn, err := s.snap()
		if err != nil {
			return sn, 0, err
		}
		rss = append(rss, sn.srv.RSS)
		if stable(rss) || time.Since(start) > s.cfg.Settle {
			return sn, time.Since(start).Seconds(), nil
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func stable(rss []int64) bool {
	if len(rss) < 4 {
		return false
	}
	last := rss[len(rss)-4:]
	lo, hi := int64(math.MaxInt64), int64(0)
	for _, v := range last {
		lo, hi = min(lo, v), max(hi, v)
	}
	return hi-lo <= max(lo/100, 256<<10)
}

// stopFleet collects the workers' results into the ramp's failures.
func (s *session) stopFleet() error {
	results, err := s.fleet.stop(30 * time.Second)
	s.fleet = nil
	if s.res.Ramp != nil {
		s.res.Ramp.Failures = map[string]int{}
		for _, r := range results {
			for k, v := range r.Failures {
				s.res.Ramp.Failures[k] += v
			}
		}
	}
	s.results = results
	return err
}
