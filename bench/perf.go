package bench

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Profile summarises where the server spent its CPU in the measured
// window, from perf sampling (cpu-clock, so it works without hardware
// counters, as in VMs): the server can't be profiled from inside without
// pprof, so it is profiled from outside.
type Profile struct {
	Command  string        `json:"command"`
	Report   string        `json:"report"`   // the full text report
	Self     []ProfileLine `json:"self"`     // functions by their own samples
	Children []ProfileLine `json:"children"` // functions by samples in them and their callees
	DSO      []ProfileLine `json:"dso"`      // kernel vs server binary vs vdso
	Error    string        `json:"error,omitempty"`
	// Shares of the samples, from the lists above.
	KernelPct     float64 `json:"kernel_pct"`
	LoopbackRxPct float64 `json:"loopback_rx_pct"` // the receivers' TCP work, which loopback charges to the sender
	WritevPct     float64 `json:"writev_pct"`
	EpollWaitPct  float64 `json:"epoll_wait_pct"`
}

// derive fills the shares.
func (p *Profile) derive() {
	find := func(rows []ProfileLine, sym string) float64 {
		for _, r := range rows {
			if r.Symbol == sym {
				return r.Pct
			}
		}
		return 0
	}
	p.KernelPct = find(p.DSO, "[kernel.kallsyms]")
	p.LoopbackRxPct = find(p.Children, "[k] net_rx_action")
	p.WritevPct = find(p.Children, "[k] do_writev")
	p.EpollWaitPct = find(p.Children, "[k] do_epoll_wait")
}

// ProfileLine is one row of a perf report.
type ProfileLine struct {
	Pct    float64 `json:"pct"`
	Symbol string  `json:"symbol"`
}

type profiler struct {
	cmd  *exec.Cmd
	data string
	prof *Profile
}

// startProfile starts perf on the server when cfg.Profile is set.
func (s *session) startProfile() {
	if !s.cfg.Profile || s.prof != nil {
		return
	}
	data := filepath.Join(s.cfg.Out, s.cfg.Name+"-perf.data")
	// 499 Hz with call graphs: enough samples for shares in a few seconds,
	// and sampling's own cost (charged to the server) stays smaller.
	args := []string{"record", "-e", "cpu-clock", "-F", "499", "-g", "-p", strconv.Itoa(s.tgt.PID), "-o", data}
	p := &profiler{data: data, prof: &Profile{Command: "perf " + strings.Join(args, " ")}}
	s.res.Profile = p.prof
	p.cmd = exec.Command("perf", args...)
	p.cmd.Stderr = nil
	if err := p.cmd.Start(); err != nil {
		p.prof.Error = fmt.Sprintf("perf unavailable: %v (apt-get install linux-perf)", err)
		return
	}
	s.prof = p
	s.res.Notes = append(s.res.Notes, "profiled: perf's sampling is charged to the server, so its CPU figures are "+
		"higher than in an unprofiled run; use this run for shares, not costs")
	time.Sleep(300 * time.Millisecond) // perf attaches to every thread first
}

// stopProfile ends the recording and summarises it.
func (s *session) stopProfile() {
	if s.prof == nil {
		return
	}
	pr := s.prof
	s.prof = nil
	pr.stop()
	p := pr.prof
	report := filepath.Join(s.cfg.Out, s.cfg.Name+"-profile.txt")
	p.Report = report
	var text strings.Builder
	for _, v := range []struct {
		title string
		dst   *[]ProfileLine
		args  []string
	}{
		{"self (own samples)", &p.Self, []string{"--no-children", "--sort", "sym", "--percent-limit", "0.5"}},
		{"children (samples in the function and its callees)", &p.Children, []string{"--children", "--sort", "sym", "--percent-limit", "1"}},
		{"by binary", &p.DSO, []string{"--no-children", "--sort", "dso"}},
	} {
		out, err := exec.Command("perf", append([]string{"report", "-i", pr.data, "--stdio", "-g", "none"}, v.args...)...).Output()
		if err != nil {
			p.Error = fmt.Sprintf("perf report: %v", err)
		}
		*v.dst = parsePerf(string(out), 80)
		fmt.Fprintf(&text, "## %s\n\n%s\n", v.title, out)
	}
	p.derive()
	os.WriteFile(report, []byte(text.String()), 0o644)
}

// stop ends perf recording with SIGINT, which makes it write its data.
func (p *profiler) stop() {
	p.cmd.Process.Signal(syscall.SIGINT)
	p.cmd.Wait()
}

// parsePerf reads "  12.34%  [k] symbol" rows.
func parsePerf(out string, limit int) []ProfileLine {
	var rows []ProfileLine
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() && len(rows) < limit {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !strings.HasSuffix(f[0], "%") || strings.HasPrefix(f[0], "#") {
			continue
		}
		pct, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
		if err != nil {
			continue
		}
		rest := f[1:]
		if len(rest) > 1 && strings.HasSuffix(rest[0], "%") { // children mode: children% self%
			rest = rest[1:]
		}
		rows = append(rows, ProfileLine{Pct: pct, Symbol: strings.Join(rest, " ")})
	}
	return rows
}
