// Command wsbench is wsify's load tool: idle connections, fan-out and
// connection churn against a running or self-started server on loopback.
// It prints a table and one JSON line and writes the JSON and SVG charts
// into -out. See bench/RESULTS.md for the figures and commands.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wsify/wsify/bench"
)

func main() {
	bench.Child() // a worker or authorizer process started by the tool itself
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type envList []string

func (e *envList) String() string     { return strings.Join(*e, " ") }
func (e *envList) Set(s string) error { *e = append(*e, s); return nil }

// run parses the flags into a Config. Flags left out stay zero, so the
// defaults are bench.Config's alone.
func run(args []string, stdout, stderr io.Writer) int {
	var c bench.Config
	var scale int
	fs := flag.NewFlagSet("wsbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(fs) }
	fs.StringVar(&c.Addr, "addr", "", "target a running server on loopback (host:port); default: build ./cmd/wsify and start it")
	fs.IntVar(&c.PID, "pid", 0, "pid of the running server (default: found from its listening socket)")
	fs.StringVar(&c.Src, "src", "", "module root to build cmd/wsify from (default: found from the working directory)")
	fs.StringVar(&c.Bin, "bin", "", "wsify binary to start instead of building one")
	fs.StringVar(&c.Out, "out", "", "output directory for JSON and charts (default <module>/bench/out)")
	fs.StringVar(&c.Name, "name", "", "base name of the output files (default: scenario and mode)")
	fs.Var((*envList)(&c.ServerEnv), "server-env", "KEY=VALUE for the self-started server, e.g. GOGC=50 (repeatable)")
	fs.IntVar(&c.Procs, "procs", 0, "client processes at least (default: from the fd limit, at least 2)")
	fs.IntVar(&c.Dialers, "dialers", 0, "concurrent dials (connect: concurrent cycles) per client process (default 16)")
	fs.IntVar(&c.Conns, "conns", 0, "idle: connections (default 15000); fanout: subscribers (default 5000)")
	fs.IntVar(&c.Channels, "channels", 0, "channels the connections spread over (default 1)")
	fs.DurationVar(&c.IdleWindow, "idle-window", 0, "idle: CPU measuring window (default 10s)")
	fs.DurationVar(&c.Settle, "settle", 0, "idle: longest wait for RSS to settle (default 20s)")
	fs.IntVar(&c.Msgs, "msgs", 0, "fanout: publications (default 100)")
	fs.Float64Var(&c.Rate, "rate", 0, "fanout: publications/s; connect: cycles/s; 0: as fast as accepted")
	fs.StringVar(&c.Via, "via", "", "fanout: publish via http (POST /broadcast, the default) or ws (a client's broadcast command)")
	fs.IntVar(&c.Size, "size", 0, "fanout: bytes of payload each subscriber receives per message (default 100)")
	fs.IntVar(&c.Window, "window", 0, "fanout: publications awaiting acknowledgement at once (default 1)")
	fs.DurationVar(&c.Drain, "drain", 0, "fanout: longest wait for deliveries after the last publication (default 5s)")
	fs.DurationVar(&c.Duration, "duration", 0, "connect: churn duration (default 10s)")
	fs.IntVar(&c.MaxCycles, "max-cycles", 0, "connect: most cycles (default 150000)")
	fs.IntVar(&c.History, "history", 0, "fanout: publications each channel keeps on the self-started server (WSIFY_HISTORY_SIZE); 0: off")
	fs.StringVar(&c.Filter, "filter", "", "fanout: narrow every publication: to (a user list naming every subscriber's user), except (a connection id no subscriber has; over ws, echo:false), or none (the same identities, unfiltered: the baseline)")
	fs.BoolVar(&c.Auth, "auth", false, "connect: start a local authorizer and point the server at it")
	fs.StringVar(&c.ChurnClient, "churn-client", "", "connect: raw (plain syscalls, leanest; the default) or gobwas (ws.Dialer on net.Conn)")
	fs.BoolVar(&c.Profile, "profile", false, "record the server with perf during the measured window")
	fs.IntVar(&c.Nice, "nice", 0, "scheduling priority of the tool, its workers and the self-started server (negative: ahead of other work; root)")
	fs.IntVar(&scale, "scale", 1, "suite: divide the issue's sizes by this (smoke runs)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		usage(fs)
		return 2
	}
	return runScenario(fs.Arg(0), c, scale, stdout, stderr)
}

func runScenario(name string, c bench.Config, scale int, stdout, stderr io.Writer) int {
	if name == "suite" {
		sr, err := bench.RunSuite(c, scale, stdout)
		if sr != nil {
			bench.PrintTargets(stdout, sr.Targets)
			bench.PrintJSON(stdout, sr)
		}
		return report(err, stderr)
	}
	c.Scenario = name
	r, err := bench.Run(c)
	if err == nil {
		bench.PrintTable(stdout, r)
		bench.PrintJSON(stdout, r)
	}
	return report(err, stderr)
}

func report(err error, stderr io.Writer) int {
	if err != nil {
		fmt.Fprintln(stderr, "wsbench:", err)
		return 1
	}
	return 0
}

func usage(fs *flag.FlagSet) {
	fmt.Fprintf(fs.Output(), `Usage: wsbench [flags] idle|fanout|connect|suite

  idle     hold -conns joined connections; RSS per connection, goroutines, threads, idle CPU
  fanout   -conns subscribers, -msgs publications via -via at -rate; latency, losses, CPU per delivery
  connect  connect-join-close churn for -duration at -rate, with -auth a local authorizer
  suite    all of them at the issue's sizes, checked against its targets

Every run is bounded in count and time, targets loopback only and stops by itself.

`)
	fs.PrintDefaults()
}
