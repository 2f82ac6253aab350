package bench

import (
	"fmt"
	"time"
)

// connect churns connections (connect, join, close) for cfg.Duration at
// cfg.Rate (0: as fast as cfg.Dialers cycles per process allow).
func (s *session) connect() error {
	cycles := s.cfg.MaxCycles
	if s.cfg.Rate > 0 {
		cycles = min(cycles, int(s.cfg.Rate*s.cfg.Duration.Seconds())+1)
	}
	// Each cycle takes a port that stays in TIME_WAIT after the close.
	if err := s.plan(s.cfg.Dialers*max(s.cfg.Procs, 2), cycles); err != nil {
		return err
	}
	cr := &ConnectResult{Auth: s.cfg.Auth}
	s.res.Connect = cr
	before, err := s.snap()
	if err != nil {
		return err
	}
	if s.fleet, err = startFleet(s.churnJobs(cycles)); err != nil {
		return err
	}
	s.startProfile()
	s.waitChurn()
	after, err := s.snap()
	s.stopProfile()
	if err != nil {
		return err
	}
	cr.Window = window(before, after)
	if err := s.stopFleet(); err != nil {
		return err
	}
	s.connectCounts(cr, before, after)
	return nil
}

func (s *session) churnJobs(cycles int) []job {
	jobs := s.jobs("churn", cycles)
	for i := range jobs {
		j := &jobs[i]
		j.Rate, j.Duration, j.Client = s.cfg.Rate/float64(len(jobs)), Duration(s.cfg.Duration), s.cfg.ChurnClient
	}
	return jobs
}

// waitChurn waits for every worker to finish its cycles.
func (s *session) waitChurn() {
	limit := time.Now().Add(s.cfg.Duration + 2*s.cfg.Timeout)
	for next := time.Now().Add(time.Second); time.Now().Before(limit); time.Sleep(50 * time.Millisecond) {
		p, done := s.fleet.progress()
		if done {
			return
		}
		if time.Now().After(next) {
			s.logf("churn: %d cycles, %d failed", p.Cycles, p.Failed)
			next = next.Add(time.Second)
		}
	}
	s.res.Notes = append(s.res.Notes, "churn workers did not finish in time")
}

func (s *session) connectCounts(cr *ConnectResult, before, after snapshot) {
	var up, jn, cy Hist
	cr.Failures = map[string]int{}
	for _, r := range s.results {
		up.Merge(r.Upgrade)
		jn.Merge(r.Join)
		cy.Merge(r.Cycle)
		cr.Cycles += r.Progress.Cycles
		cr.Failed += r.Progress.Failed
		cr.Seconds = max(cr.Seconds, r.Elapsed)
		for k, v := range r.Failures {
			cr.Failures[k] += v
		}
	}
	cr.OK = cr.Cycles - cr.Failed
	cr.Upgrade, cr.Join, cr.Cycle = up.Summary(), jn.Summary(), cy.Summary()
	s.hists = map[string]*Hist{"upgrade": &up, "join": &jn, "connect-join-close": &cy}
	accepted := after.stats.Accepted - before.stats.Accepted
	if cr.Seconds > 0 {
		cr.UpgradesPerSec = float64(up.N) / cr.Seconds
		cr.CyclesPerSec = float64(cr.OK) / cr.Seconds
	}
	n := float64(max(cr.Cycles, 1))
	cr.ServerMicros = cr.Window.ServerCPU / n * 1e6
	cr.ToolMicros = cr.Window.ToolCPU / n * 1e6
	if s.auth != nil {
		cr.AuthCalls = s.auth.calls()
	}
	s.logf("%d cycles (%d failed) in %.1fs: %.0f upgrades/s; server accepted %d", cr.Cycles, cr.Failed, cr.Seconds,
		cr.UpgradesPerSec, accepted)
	if accepted < int64(up.N) {
		s.res.Notes = append(s.res.Notes, fmt.Sprintf("server accepted %d < %d upgrades counted by the clients", accepted, up.N))
	}
}
