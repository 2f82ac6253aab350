package bench

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wsify/wsify/server"
	"github.com/wsify/wsify/server/servertest"
)

// startInProcess runs wsify in this process on a free loopback port; the
// tool targets it like any running server (its pid is ours).
func startInProcess(t *testing.T) string {
	t.Helper()
	return servertest.Start(t, server.Config{}).Addr().String()
}

// small is a quick run against addr writing into a temporary directory.
func small(t *testing.T, addr, scenario string) Config {
	return Config{Scenario: scenario, Addr: addr, PID: os.Getpid(), Out: t.TempDir(), Procs: 2, Dialers: 4,
		IdleWindow: 200 * time.Millisecond, Settle: 2 * time.Second, Drain: 10 * time.Second, Log: io.Discard}
}

// mustRun runs c and checks that the run wrote its JSON and that it decodes.
func mustRun(t *testing.T, c Config) *Result {
	t.Helper()
	r, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(r.Files[0]), r.Name+".json"))
	var back Result
	if err == nil {
		err = json.Unmarshal(b, &back)
	}
	if err != nil || back.Scenario != r.Scenario {
		t.Fatalf("JSON file: %v (%q)", err, back.Scenario)
	}
	return r
}

func TestIdleHoldsEveryConnectionOverTwoProcesses(t *testing.T) {
	addr := startInProcess(t)
	c := small(t, addr, "idle")
	c.Conns = 300
	r := mustRun(t, c)
	if r.Ramp.Joined != 300 || r.Idle.Connections != 300 || r.Sizing.Procs != 2 {
		t.Fatalf("joined %d, server counted %d, procs %d", r.Ramp.Joined, r.Idle.Connections, r.Sizing.Procs)
	}
	if len(r.Ramp.Samples) == 0 || r.Idle.RSSAfter == 0 {
		t.Fatal("no RSS samples")
	}
	if _, err := os.Stat(filepath.Join(c.Out, "idle-rss.svg")); err != nil {
		t.Fatal(err)
	}
}

func TestFanoutDeliversEveryMessageWithLatency(t *testing.T) {
	addr := startInProcess(t)
	for _, via := range []string{"http", "ws"} {
		t.Run(via, func(t *testing.T) {
			c := small(t, addr, "fanout")
			c.Conns, c.Channels, c.Msgs, c.Via, c.Window = 200, 3, 50, via, 4
			r := mustRun(t, c)
			f := r.Fanout
			if f.Published != 50 || f.Expected != owed(200, 3, 50) || f.Received != f.Expected || f.Lost != 0 || f.Disorder != 0 {
				t.Fatalf("published %d, expected %d, received %d, lost %d, disorder %d", f.Published, f.Expected, f.Received, f.Lost, f.Disorder)
			}
			if f.Latency.Count != f.Received || f.Latency.Max <= 0 || f.Deliveries != f.Expected {
				t.Fatalf("latency %+v, server deliveries %d", f.Latency, f.Deliveries)
			}
			if _, err := os.Stat(filepath.Join(c.Out, "fanout-"+via+"-latency.svg")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConnectChurnsWithoutFailures(t *testing.T) {
	addr := startInProcess(t)
	for _, client := range []string{"raw", "gobwas"} {
		t.Run(client, func(t *testing.T) {
			c := small(t, addr, "connect")
			c.Duration, c.Rate, c.ChurnClient = time.Second, 300, client
			r := mustRun(t, c)
			cr := r.Connect
			if cr.Cycles < 100 || cr.Failed != 0 || cr.Upgrade.Count != uint64(cr.Cycles) || cr.Cycle.Count != uint64(cr.OK) {
				t.Fatalf("%d cycles, %d failed %v, upgrades %d", cr.Cycles, cr.Failed, cr.Failures, cr.Upgrade.Count)
			}
		})
	}
}

// TestSelfStartedServerWithAuthorizer covers the path make bench takes:
// build cmd/wsify, start it with the tool's own authorizer, churn, stop.
func TestSelfStartedServerWithAuthorizer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/wsify")
	}
	c := Config{Scenario: "connect", Auth: true, Out: t.TempDir(), Procs: 2, Dialers: 4, Rate: 200,
		Duration: time.Second, Log: io.Discard}
	r := mustRun(t, c)
	cr := r.Connect
	if !r.Target.SelfStarted || cr.Cycles < 50 || cr.Failed != 0 {
		t.Fatalf("self-started %v, %d cycles, %d failed %v", r.Target.SelfStarted, cr.Cycles, cr.Failed, cr.Failures)
	}
	// every cycle asks twice: the connect, then the join
	if cr.AuthCalls != int64(2*cr.Cycles) {
		t.Fatalf("authorizer answered %d calls for %d cycles", cr.AuthCalls, cr.Cycles)
	}
}

// TestFanoutWithFilters runs fanout's -filter modes on a self-started
// server: the authorizer names the subscribers, every publication is
// narrowed and accepted, and every subscriber still gets every one.
func TestFanoutWithFilters(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/wsify")
	}
	for _, f := range []string{"to", "except"} {
		for _, via := range []string{"http", "ws"} {
			c := Config{Scenario: "fanout", Filter: f, Via: via, Conns: 20, Msgs: 20, Out: t.TempDir(), Procs: 2, Dialers: 4,
				Drain: 10 * time.Second, Log: io.Discard}
			r := mustRun(t, c)
			fr := r.Fanout
			if fr.Published != 20 || fr.PublishErrors != 0 || fr.Lost != 0 || fr.Received != 400 || r.Params["filter"] != f {
				t.Fatalf("-filter %s -via %s: %+v", f, via, fr)
			}
		}
	}
	if _, err := (Config{Scenario: "fanout", Filter: "some"}).withDefaults(); err == nil {
		t.Fatal("an unknown filter was taken")
	}
}
