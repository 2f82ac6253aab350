package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// SuiteResult is every run of the suite and the targets checked
// against them.
type SuiteResult struct {
	Runs    []*Result `json:"runs"`
	Targets []Check   `json:"targets"`
}

// suiteRuns are the sizes; scale divides the connection and
// message counts (1: as specified; larger for a quick smoke run).
func suiteRuns(base Config, scale int) []Config {
	d := func(n int) int { return max(n/scale, 10) }
	mk := func(name, scenario string, f func(*Config)) Config {
		c := base
		c.Name, c.Scenario = name, scenario
		f(&c)
		return c
	}
	return []Config{
		mk("idle", "idle", func(c *Config) { c.Conns = d(15000) }),
		mk("fanout-latency", "fanout", func(c *Config) { c.Conns, c.Msgs, c.Rate, c.Window = d(5000), d(100), 5, 16 }),
		mk("fanout-cost-http", "fanout", func(c *Config) { c.Conns, c.Msgs = d(1000), d(1000) }),
		mk("fanout-cost-ws", "fanout", func(c *Config) { c.Conns, c.Msgs, c.Via = d(1000), d(1000), "ws" }),
		mk("fanout-paced-http", "fanout", func(c *Config) { c.Conns, c.Msgs, c.Rate, c.Window = d(1000), d(500), 100, 16 }),
		mk("fanout-50ps", "fanout", func(c *Config) { c.Conns, c.Msgs, c.Rate, c.Window = d(5000), d(200), 50, 16 }),
		mk("connect", "connect", func(c *Config) { c.Duration = 10 * time.Second / time.Duration(scale) }),
		mk("connect-auth", "connect", func(c *Config) { c.Auth, c.Duration = true, 10*time.Second/time.Duration(scale) }),
	}
}

// RunSuite runs every scenario at the sizes (divided by scale)
// against a server built once, printing each table to w as it completes.
func RunSuite(base Config, scale int, w io.Writer) (*SuiteResult, error) {
	if base.Addr == "" && base.Bin == "" {
		c, err := base.withPaths()
		if err != nil {
			return nil, err
		}
		fmt.Fprintln(os.Stderr, "wsbench suite: building ./cmd/wsify")
		if base.Bin, err = buildServer(c.Src); err != nil {
			return nil, err
		}
		defer os.RemoveAll(filepath.Dir(base.Bin))
	}
	sr := &SuiteResult{}
	for _, c := range suiteRuns(base, max(scale, 1)) {
		r, err := Run(c)
		if err != nil {
			return sr, err
		}
		sr.Runs = append(sr.Runs, r)
		PrintTable(w, r)
	}
	sr.Targets = checkTargets(sr.Runs)
	return sr, writeSuite(base, sr)
}

func writeSuite(base Config, sr *SuiteResult) error {
	c, err := base.withPaths()
	if err != nil {
		return err
	}
	b, _ := json.MarshalIndent(sr, "", "  ")
	return os.WriteFile(filepath.Join(c.Out, "suite.json"), append(b, '\n'), 0o644)
}
