package bench

import "time"

// Ramp is how the connections were opened.
type Ramp struct {
	Target         int            `json:"target"`
	Opened         int            `json:"opened"` // upgraded
	Joined         int            `json:"joined"`
	Failed         int            `json:"failed"`
	Failures       map[string]int `json:"failures,omitempty"`
	Seconds        float64        `json:"seconds"`
	UpgradesPerSec float64        `json:"upgrades_per_s"`      // Opened / Seconds
	PeakPerSec     float64        `json:"peak_upgrades_per_s"` // best 1s stretch, from the samples
	Samples        []Sample       `json:"samples"`
}

// Sample is the server seen during the run.
type Sample struct {
	T           float64 `json:"t"`           // seconds since the ramp began
	Connections int64   `json:"connections"` // from /stats
	RSS         int64   `json:"rss"`
	Goroutines  int     `json:"goroutines"`
	Threads     int     `json:"threads"`
}

// sample reads /stats and /proc once.
func (s *session) sample(since time.Time) (Sample, error) {
	st, err := s.tgt.stats()
	if err != nil {
		return Sample{}, err
	}
	p, err := readProc(s.tgt.PID)
	return Sample{T: time.Since(since).Seconds(), Connections: st.Connections, RSS: p.RSS,
		Goroutines: st.Goroutines, Threads: p.Threads}, err
}

// jobs splits n connections (subscribe) or cycles (churn) over the
// planned processes.
func (s *session) jobs(kind string, n int) []job {
	procs := s.res.Sizing.Procs
	jobs := make([]job, procs)
	for w := range jobs {
		jobs[w] = job{Kind: kind, Addr: s.tgt.Addr, Sources: s.res.Sizing.Sources, First: w, Stride: procs,
			Count: (n - w + procs - 1) / procs, Channels: s.cfg.Channels, Dialers: s.cfg.Dialers,
			Timeout: Duration(s.cfg.Timeout)}
	}
	return jobs
}

// rampUp sizes the client side for cfg.Conns connections, starts the
// subscribe workers and waits until every connection has joined or failed
// (or a limit passes), sampling the server every 200ms for the RSS chart.
func (s *session) rampUp() (*Ramp, error) {
	n := s.cfg.Conns
	if err := s.plan(n, n); err != nil {
		return nil, err
	}
	r := &Ramp{Target: n}
	start := time.Now()
	f, err := startFleet(s.jobs("subscribe", n))
	if err != nil {
		return r, err
	}
	s.fleet = f
	limit := start.Add(max(60*time.Second, time.Duration(n)*2*time.Millisecond))
	for {
		time.Sleep(200 * time.Millisecond)
		if smp, err := s.sample(start); err == nil {
			r.Samples = append(r.Samples, smp)
		}
		p, _ := f.progress()
		r.Opened, r.Joined, r.Failed = p.Opened, p.Joined, p.Failed
		if p.Joined+p.Failed >= n || time.Now().After(limit) || p.Closed > 0 && p.Opened+p.Failed >= n {
			break
		}
		if len(r.Samples)%10 == 0 {
			s.logf("ramp: %d/%d joined, %d failed", p.Joined, n, p.Failed)
		}
	}
	r.Seconds = time.Since(start).Seconds()
	if p, _ := f.progress(); p.LastJoin > 0 {
		r.Seconds = time.Unix(0, p.LastJoin).Sub(start).Seconds()
	}
	r.UpgradesPerSec = float64(r.Opened) / r.Seconds
	r.PeakPerSec = peakRate(r.Samples)
	s.logf("ramp done: %d joined, %d failed in %.1fs (%.0f upgrades/s)", r.Joined, r.Failed, r.Seconds, r.UpgradesPerSec)
	return r, nil
}

// peakRate is the best connection growth over ~1s of samples.
func peakRate(smp []Sample) float64 {
	best := 0.0
	for i := range smp {
		for j := i + 1; j < len(smp); j++ {
			if dt := smp[j].T - smp[i].T; dt >= 0.95 {
				best = max(best, float64(smp[j].Connections-smp[i].Connections)/dt)
				break
			}
		}
	}
	return best
}
