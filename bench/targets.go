package bench

import (
	"fmt"
	"io"
)

// Check is one of the targets against what was measured.
type Check struct {
	Target   string `json:"target"`
	Run      string `json:"run"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
}

// checkTargets compares the suite's runs with the targets.
func checkTargets(runs []*Result) []Check {
	by := map[string]*Result{}
	for _, r := range runs {
		by[r.Name] = r
	}
	var cs []Check
	add := func(run, target string, ok bool, format string, args ...any) {
		cs = append(cs, Check{Target: target, Run: run, Measured: fmt.Sprintf(format, args...), Met: ok})
	}
	if r := by["idle"]; r != nil && r.Idle != nil {
		i := r.Idle
		add("idle", "RSS growth <= 2 KiB per joined idle connection", i.RSSPerConn <= rssBudget, "%.0f B/conn", i.RSSPerConn)
		add("idle", "goroutines independent of the count", i.GoroutinesAfter-i.GoroutinesBefore <= 4,
			"%d before, %d after", i.GoroutinesBefore, i.GoroutinesAfter)
		add("idle", "idle CPU < 1% of one core", i.Window.ServerCPUPct < 1, "%.2f%%", i.Window.ServerCPUPct)
	}
	if f := fanoutOf(by["fanout-latency"]); f != nil {
		add("fanout-latency", "5,000 subs, 100 msgs at 5/s: nothing lost", f.Lost+f.DroppedByClose == 0, "lost %d, dropped %d", f.Lost, f.DroppedByClose)
		add("fanout-latency", "p99 publish-to-receive <= 25 ms", f.Latency.P99 <= 25, "p99 %.2f ms", f.Latency.P99)
	}
	for _, run := range []string{"fanout-cost-http", "fanout-cost-ws"} {
		if f := fanoutOf(by[run]); f != nil {
			add(run, "nothing lost or every slow-consumer close counted", f.Lost == 0 && (f.DroppedByClose == 0 || f.SlowConsumers > 0),
				"lost %d, dropped %d, slow consumers %d", f.Lost, f.DroppedByClose, f.SlowConsumers)
			add(run, "<= 3 us server CPU per delivery", f.MicrosPerDeliv <= 3, "%.2f us (%.3f writes/delivery)", f.MicrosPerDeliv, f.WritesPerDeliv)
		}
	}
	if f := fanoutOf(by["fanout-50ps"]); f != nil {
		add("fanout-50ps", "5,000 subs, 200 msgs at 50/s: nothing lost", f.Lost+f.DroppedByClose == 0,
			"lost %d, dropped %d; p99 %.2f ms", f.Lost, f.DroppedByClose, f.Latency.P99)
	}
	if r := by["connect"]; r != nil && r.Connect != nil {
		add("connect", ">= 8,000 upgrades/s without an authorizer", r.Connect.UpgradesPerSec >= 8000, "%.0f/s", r.Connect.UpgradesPerSec)
	}
	if r := by["connect-auth"]; r != nil && r.Connect != nil {
		add("connect-auth", "upgrade rate with an authorizer (reported)", true, "%.0f/s", r.Connect.UpgradesPerSec)
	}
	return cs
}

func fanoutOf(r *Result) *FanoutResult {
	if r == nil {
		return nil
	}
	return r.Fanout
}

// PrintTargets writes the checks for people.
func PrintTargets(w io.Writer, cs []Check) {
	t := &table{}
	t.row("== targets", "")
	for _, c := range cs {
		mark := "MET"
		if !c.Met {
			mark = "NOT MET"
		}
		t.row(c.Run, "%-7s %s: %s", mark, c.Target, c.Measured)
	}
	t.print(w)
}
