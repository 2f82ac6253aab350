package bench

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config is one run. The zero value runs the idle scenario at the issue's
// size against a server built and started by the tool.
type Config struct {
	// Scenario is "idle", "fanout" or "connect". Default "idle".
	Scenario string
	// Addr targets a running server (loopback only). Empty: build cmd/wsify
	// into a temporary directory and start it on a free loopback port.
	Addr string
	// PID is the running server's pid. 0: found from its listening socket.
	PID int
	// Src is the module root cmd/wsify is built from. Default: the
	// directory holding go.mod above the working directory.
	Src string
	// Bin is a wsify binary to start instead of building one.
	Bin string
	// Out is where the JSON and charts go. Default <Src>/bench/out.
	Out string
	// Name is the base name of the output files. Default: scenario and mode.
	Name string
	// ServerEnv is added to a self-started server's environment, such as
	// GOGC=50. GODEBUG=gctrace=1 is always added (the live heap after each
	// GC goes to the server log, which the report reads).
	ServerEnv []string
	// Procs is how many client processes to use at least. Default: as many
	// as the fd limit requires, and at least 2.
	Procs int
	// Dialers is how many connections each client process opens at once
	// (connect: concurrent cycles per process). Default 16.
	Dialers int
	// Conns is the connections held: idle sockets or fanout subscribers.
	// Default 15,000 (idle), 5,000 (fanout).
	Conns int
	// Channels is how many channels those connections spread over. Default 1.
	Channels int
	// Settle bounds the wait for the server's RSS to stop moving. Default 20s.
	Settle time.Duration
	// IdleWindow is how long idle CPU is measured. Default 10s.
	IdleWindow time.Duration
	// Msgs is how many publications fanout sends. Default 100.
	Msgs int
	// Rate is publications per second (fanout) or cycles per second
	// (connect); 0 means as fast as the server accepts them.
	Rate float64
	// Via is how fanout publishes: "http" (POST /broadcast) or "ws" (a
	// client's broadcast command). Default "http".
	Via string
	// Size is the payload of the frame each subscriber gets. Default 100.
	Size int
	// Window is how many publications may await their acknowledgement at
	// once. Default 1: each is sent when the previous one is accepted.
	Window int
	// Drain bounds the wait for deliveries after the last publication. Default 5s.
	Drain time.Duration
	// Duration bounds connect's churn. Default 10s.
	Duration time.Duration
	// MaxCycles bounds connect's cycles. Default 150,000.
	MaxCycles int
	// ChurnClient is connect's client: "raw" (blocking sockets driven by
	// plain syscalls, the leanest) or "gobwas" (ws.Dialer on a net.Conn).
	// Default "raw".
	ChurnClient string
	// History is how many publications each channel keeps on a
	// self-started server (WSIFY_HISTORY_SIZE, with a history memory bound
	// no run reaches); deliveries then carry offsets. 0: history off.
	History int
	// Auth starts a local authorizer (its own process) and points the
	// self-started server at it (connect; fanout with Filter).
	Auth bool
	// Filter narrows fanout's publications (filter.go): "except" (a
	// connection id, none of the subscribers'), "to" (a user list that
	// names every subscriber's user), or "none" (the same identities,
	// unfiltered: the baseline to compare with). Any of them starts the
	// authorizer, which names the subscribers. Empty: no identities.
	Filter string
	// Profile records the server with perf during the measured window.
	Profile bool
	// Nice runs the tool, its workers and the self-started server at this
	// scheduling priority (-20..19; negative needs root). Default 0.
	Nice int
	// Timeout bounds one dial or one step of a cycle. Default 10s.
	Timeout time.Duration
	// Log receives progress lines. Default os.Stderr.
	Log io.Writer
}

func (c Config) withDefaults() (Config, error) {
	c.Scenario = cmp.Or(c.Scenario, "idle")
	conns := map[string]int{"idle": 15000, "fanout": 5000, "connect": 0}
	if _, ok := conns[c.Scenario]; !ok {
		return c, fmt.Errorf("bench: unknown scenario %q (idle, fanout, connect)", c.Scenario)
	}
	c.Conns = cmp.Or(c.Conns, conns[c.Scenario])
	c.Channels = cmp.Or(c.Channels, 1)
	c.Dialers = cmp.Or(c.Dialers, 16)
	c.Settle = cmp.Or(c.Settle, 20*time.Second)
	c.IdleWindow = cmp.Or(c.IdleWindow, 10*time.Second)
	c.Msgs = cmp.Or(c.Msgs, 100)
	c.Via = cmp.Or(c.Via, "http")
	c.Size = cmp.Or(c.Size, 100)
	c.Window = cmp.Or(c.Window, 1)
	c.Drain = cmp.Or(c.Drain, 5*time.Second)
	c.Duration = cmp.Or(c.Duration, 10*time.Second)
	c.MaxCycles = cmp.Or(c.MaxCycles, 150000)
	c.Timeout = cmp.Or(c.Timeout, 10*time.Second)
	c.ChurnClient = cmp.Or(c.ChurnClient, "raw")
	if c.Log == nil {
		c.Log = os.Stderr
	}
	if c.Via != "http" && c.Via != "ws" {
		return c, fmt.Errorf("bench: -via %q: want http or ws", c.Via)
	}
	if c.ChurnClient != "raw" && c.ChurnClient != "gobwas" {
		return c, fmt.Errorf("bench: -churn-client %q: want raw or gobwas", c.ChurnClient)
	}
	if c.History < 0 || (c.History > 0 && c.Addr != "") {
		return c, errors.New("bench: -history needs a self-started server (no -addr) and a count from 0")
	}
	if err := c.checkFilter(); err != nil {
		return c, err
	}
	c.Auth = c.Auth || c.Filter != ""
	if c.Auth && c.Addr != "" {
		return c, errors.New("bench: -auth needs a self-started server (no -addr)")
	}
	return c.withPaths()
}

func (c Config) withPaths() (Config, error) {
	if c.Src == "" {
		src, err := moduleRoot()
		if err != nil && c.Addr == "" && c.Bin == "" {
			return c, err // nothing to build the server from
		}
		c.Src = src
	}
	if c.Out == "" {
		c.Out = filepath.Join(c.Src, "bench", "out")
	}
	if c.Name == "" {
		c.Name = defaultName(c)
	}
	return c, os.MkdirAll(c.Out, 0o755)
}

func defaultName(c Config) string {
	switch {
	case c.Scenario == "fanout" && c.Filter != "":
		return c.Scenario + "-" + c.Via + "-filter-" + c.Filter
	case c.Scenario == "fanout":
		return c.Scenario + "-" + c.Via
	case c.Scenario == "connect" && c.Auth:
		return c.Scenario + "-auth"
	}
	return c.Scenario
}

// moduleRoot finds wsify's go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	for err == nil {
		b, rerr := os.ReadFile(filepath.Join(dir, "go.mod"))
		if rerr == nil && strings.Contains(string(b), "module github.com/wsify/wsify\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errors.New("bench: not inside the wsify module; pass -src or -addr")
}
