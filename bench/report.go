package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// rssBudget is the idle target: RSS growth per joined connection.
const rssBudget = 2048

// write saves the JSON and the charts into cfg.Out.
func (s *session) write() error {
	dir, name := s.cfg.Out, s.cfg.Name
	charts := map[string]string{}
	if s.res.Idle != nil && s.res.Ramp != nil {
		charts[name+"-rss.svg"] = rssChart(s.res.Ramp.Samples, s.res.Idle.RSSBefore, rssBudget)
	}
	if len(s.hists) > 0 {
		charts[name+"-latency.svg"] = latencyChart(name, s.hists)
	}
	for f, svg := range charts {
		if svg == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(svg), 0o644); err != nil {
			return fmt.Errorf("bench: writing %s: %w", f, err)
		}
		s.res.Files = append(s.res.Files, filepath.Join(dir, f))
	}
	js := filepath.Join(dir, name+".json")
	s.res.Files = append(s.res.Files, js)
	slices.Sort(s.res.Files)
	b, _ := json.MarshalIndent(s.res, "", "  ")
	if err := os.WriteFile(js, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench: writing %s: %w", js, err)
	}
	return nil
}

// PrintTable writes r for people.
func PrintTable(w io.Writer, r *Result) {
	t := &table{}
	t.header(r)
	switch {
	case r.Idle != nil:
		t.idle(r)
	case r.Fanout != nil:
		t.fanout(r)
	case r.Connect != nil:
		t.connect(r)
	}
	t.profile(r.Profile)
	for _, n := range r.Notes {
		t.row("note", "%s", n)
	}
	t.row("files", "%s", strings.Join(r.Files, " "))
	t.print(w)
}

// PrintJSON writes r (a *Result or *SuiteResult) as one line.
func PrintJSON(w io.Writer, r any) {
	b, _ := json.Marshal(r)
	fmt.Fprintf(w, "%s\n", b)
}

type table struct{ rows [][2]string }

func (t *table) row(k, format string, args ...any) {
	t.rows = append(t.rows, [2]string{k, fmt.Sprintf(format, args...)})
}

func (t *table) print(w io.Writer) {
	width := 0
	for _, r := range t.rows {
		width = max(width, len(r[0]))
	}
	for _, r := range t.rows {
		fmt.Fprintf(w, "  %-*s  %s\n", width, r[0], r[1])
	}
	fmt.Fprintln(w)
}

func (t *table) header(r *Result) {
	t.row("== wsbench", "%s (%s)", r.Name, r.Scenario)
	if r.Target != nil {
		how := "running server"
		if r.Target.SelfStarted {
			how = "self-started, env " + strings.Join(r.Target.Env, " ")
		}
		t.row("server", "%s pid %d (%s)", r.Target.Addr, r.Target.PID, how)
	}
	t.row("sizing", "%s", r.Sizing.Note)
	t.row("sources", "%s", strings.Join(r.Sizing.Sources, " "))
	t.row("machine", "%d CPUs, load average %.2f at start; tool and server at nice %v", r.CPUs, r.LoadAvg, r.Params["nice"])
	var cal []string
	for _, c := range r.Calibration {
		cal = append(cal, fmt.Sprintf("%.2f us", c.WriteUs))
	}
	t.row("bare write", "%s per %d-byte loopback TCP write (start, end): the kernel's price of a delivery right now",
		strings.Join(cal, ", "), r.Calibration[0].Size)
}

func (t *table) ramp(rp *Ramp) {
	if rp == nil {
		return
	}
	peak := "ramp under 1s"
	if rp.PeakPerSec > 0 {
		peak = fmt.Sprintf("best 1s: %.0f/s", rp.PeakPerSec)
	}
	t.row("ramp", "%d joined, %d failed %v in %.2fs: %.0f upgrades/s (%s)", rp.Joined, rp.Failed,
		rp.Failures, rp.Seconds, rp.UpgradesPerSec, peak)
}

func (t *table) window(label string, w Window) {
	t.row(label, "%.1fs: server %.3f CPU-s (%.2f%% of a core), tool %.3f CPU-s (%.2f%%), others %.2f CPU-s; machine %.0f%% busy, %.2f CPU-s stolen by the hypervisor",
		w.Seconds, w.ServerCPU, w.ServerCPUPct, w.ToolCPU, w.ToolCPUPct, w.OtherCPU, w.MachineBusyPc, w.StealCPU)
}

func (t *table) idle(r *Result) {
	ir := r.Idle
	t.ramp(r.Ramp)
	t.row("connections", "%d (server count)", ir.Connections)
	t.row("RSS", "%s before, %s after (settled in %.1fs), %s after the idle window", mib(ir.RSSBefore), mib(ir.RSSAfter),
		ir.SettleSeconds, mib(ir.RSSAfterWindow))
	t.row("RSS per connection", "%.0f B (%.2f KiB; target <= 2 KiB)", ir.RSSPerConn, ir.RSSPerConn/1024)
	t.row("live heap after GC", "%d MB before, %d MB after (%d GCs, gctrace)", ir.HeapLiveBeforeMB, ir.HeapLiveAfterMB, ir.GCCycles)
	t.row("goroutines", "%d before, %d after", ir.GoroutinesBefore, ir.GoroutinesAfter)
	t.row("threads", "%d before, %d after", ir.ThreadsBefore, ir.ThreadsAfter)
	t.window("idle window", ir.Window)
}

func (t *table) fanout(r *Result) {
	f := r.Fanout
	p := r.Params
	t.ramp(r.Ramp)
	t.row("publications", "%d acknowledged, %d errors, via %v, rate %v/s (0: as fast as accepted), window %v, %v B frames; %.2fs (%.0f/s)",
		f.Published, f.PublishErrors, p["via"], p["rate"], p["window"], p["size"], f.PublishSeconds, f.PublishRate)
	t.row("deliveries", "%d received of %d expected: lost %d, dropped by server close %d, out of order %d; server counted %d",
		f.Received, f.Expected, f.Lost, f.DroppedByClose, f.Disorder, f.Deliveries)
	t.row("slow consumers", "%d (/stats); close codes seen %v", f.SlowConsumers, f.CloseCodes)
	if p["filter"] != "" {
		t.row("filter", "%v (every publication narrowed so that every subscriber still gets it; bench/filter.go)", p["filter"])
	}
	if f.HistoryBytes > 0 {
		t.row("history", "%d publications kept per channel: %d B in all, %.0f B per kept publication (wsify_history_bytes)", p["history"], f.HistoryBytes, f.HistoryPerPub)
	}
	t.row("throughput", "%.0f deliveries/s (first publish to last receive, %.2fs)", f.DeliveriesPerSec, f.DeliverySeconds)
	l := f.Latency
	t.row("latency", "p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f ms (publish to receive, n=%d)", l.P50, l.P90, l.P99, l.P999, l.Max, l.Count)
	t.row("server CPU", "%.3f s per million deliveries = %.3f us per delivery", f.CPUPerMillion, f.MicrosPerDeliv)
	if f.MicrosExclRx > 0 {
		t.row("server CPU excl. rx", "%.3f us per delivery without the receivers' loopback TCP work (profile)", f.MicrosExclRx)
	}
	t.row("coalescing", "%.3f server write syscalls per delivery; %.2f frames per client read", f.WritesPerDeliv, f.FramesPerRead)
	t.row("per write", "%.2f us of server CPU per write syscall = %.2f bare loopback writes", f.MicrosPerWrite, f.BareWrites)
	t.row("tool CPU", "%.3f us per delivery", f.ToolMicros)
	t.window("window", f.Window)
}

func (t *table) connect(r *Result) {
	c := r.Connect
	t.row("authorizer", "%v (calls answered: %d); client %v", c.Auth, c.AuthCalls, r.Params["client"])
	t.row("cycles", "%d (connect, join, close) in %.2fs: %d ok, %d failed %v", c.Cycles, c.Seconds, c.OK, c.Failed, c.Failures)
	t.row("upgrade rate", "%.0f upgrades/s; %.0f complete cycles/s", c.UpgradesPerSec, c.CyclesPerSec)
	for _, x := range []struct {
		k string
		l Latency
	}{{"upgrade latency", c.Upgrade}, {"join latency", c.Join}, {"cycle latency", c.Cycle}} {
		t.row(x.k, "p50 %.2f  p90 %.2f  p99 %.2f  max %.2f ms", x.l.P50, x.l.P90, x.l.P99, x.l.Max)
	}
	t.row("CPU per cycle", "server %.1f us, tool %.1f us", c.ServerMicros, c.ToolMicros)
	if c.Auth {
		t.row("authorizer CPU", "%.3f CPU-s", c.Window.AuthCPU)
	}
	t.window("window", c.Window)
}

func (t *table) profile(p *Profile) {
	if p == nil {
		return
	}
	if p.Error != "" {
		t.row("profile", "%s", p.Error)
	}
	var top []string
	for _, l := range p.Self[:min(8, len(p.Self))] {
		top = append(top, fmt.Sprintf("%.1f%% %s", l.Pct, l.Symbol))
	}
	t.row("profile (self)", "%s", strings.Join(top, "; "))
	var dso []string
	for _, l := range p.DSO {
		dso = append(dso, fmt.Sprintf("%.1f%% %s", l.Pct, l.Symbol))
	}
	t.row("profile (binary)", "%s", strings.Join(dso, "; "))
	t.row("profile (where)", "kernel %.1f%% (of which loopback receive processing, net_rx_action, %.1f%%); writev %.1f%%; epoll_wait %.1f%%",
		p.KernelPct, p.LoopbackRxPct, p.WritevPct, p.EpollWaitPct)
}
