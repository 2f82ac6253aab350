package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsify/wsify/internal/testutil"
)

var binary string

// TestMain builds the real binary once; the tests below run it.
func TestMain(m *testing.M) {
	if os.Getenv(fleetEnv) != "" {
		os.Exit(fleetMain())
	}
	dir, err := os.MkdirTemp("", "wsify-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "wsify")
	build := exec.Command("go", "build", "-race", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// node is a running wsify process.
type node struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

var listening = regexp.MustCompile(`wsify listening"? addr=(\S+)`)

// startNode runs the binary on a free loopback port and waits until it
// says where it listens.
func startNode(t testing.TB, env ...string) *node {
	t.Helper()
	cmd := exec.Command(binary, "--listen-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), env...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &node{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go scanLog(stderr, addr)
	go func() { n.err = cmd.Wait(); close(n.done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-n.done })
	select {
	case n.addr = <-addr:
	case <-time.After(20 * time.Second):
		t.Fatal("the server did not start")
	}
	return n
}

func scanLog(r io.Reader, addr chan<- string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			addr <- m[1]
		}
	}
}

// stats fetches GET /stats on a fresh connection, so no keep-alive
// connection stays behind to be counted.
func (n *node) stats(t testing.TB) map[string]float64 {
	t.Helper()
	c := http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + n.addr + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]float64
	json.NewDecoder(resp.Body).Decode(&m)
	return m
}

func (n *node) fds(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", n.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// settledFDs polls until the fd count has held still for 200ms: nothing
// signals that the node is done opening and closing files, so a count
// that stops moving is the observable.
func (n *node) settledFDs(t testing.TB) int {
	t.Helper()
	last, since := -1, time.Now()
	still := func() bool {
		if cur := n.fds(t); cur != last {
			last, since = cur, time.Now()
		}
		return time.Since(since) >= 200*time.Millisecond
	}
	testutil.Eventually(t, "the fd count to settle", still)
	return last
}

func TestHelpListsEveryVariableAndDefault(t *testing.T) {
	out, err := exec.Command(binary, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	for _, s := range settings(&options{}) {
		if !strings.Contains(string(out), s.env) || !strings.Contains(string(out), "-"+s.name) {
			t.Errorf("--help does not list %s / -%s", s.env, s.name)
		}
	}
	for _, def := range []string{"(default :3000)", "(default 65536)", "(default 1s)"} {
		if !strings.Contains(string(out), def) {
			t.Errorf("--help does not show %s", def)
		}
	}
}

func TestInvalidSettingsStopStartup(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{nil, "WSIFY_WORKERS=abc", "WSIFY_WORKERS"},
		{nil, "WSIFY_AUTHORIZER_TIMEOUT=soon", "WSIFY_AUTHORIZER_TIMEOUT"},
		{nil, "WSIFY_AUTHORIZER_URL=ftp://x", "WSIFY_AUTHORIZER_URL"},
		{nil, "WSIFY_REUSE_PORT=maybe", "WSIFY_REUSE_PORT"},
		{[]string{"--max-message-bytes", "-5"}, "", "max-message-bytes"},
		{[]string{"--log-level", "loud"}, "", "log level"},
		{[]string{"--listen-addr", "nowhere:xx"}, "", "listen"},
	} {
		checkStartupFails(t, tc.args, []string{tc.env}, tc.want)
	}
}

// checkStartupFails runs the binary with args, and env added to this
// process's environment, and checks it exits non-zero saying want.
func checkStartupFails(t *testing.T, args, env []string, want string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if code := exitCode(err); code == 0 || !strings.Contains(string(out), want) {
		t.Errorf("%q %q: exit %d, output %q; want a failure saying %q", args, env, code, out, want)
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestFlagOverridesEnvironment(t *testing.T) {
	o, err := parseOptions([]string{"--workers", "3"}, mapEnv("WSIFY_WORKERS=7", "WSIFY_BROADCAST_KEY=k"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.server.Workers != 3 || o.server.BroadcastKey != "k" {
		t.Fatalf("workers %d key %q", o.server.Workers, o.server.BroadcastKey)
	}
}

func mapEnv(kv ...string) func(string) string {
	return func(k string) string {
		for _, e := range kv {
			if name, v, _ := strings.Cut(e, "="); name == k {
				return v
			}
		}
		return ""
	}
}

func TestSIGTERMClosesClientsWith1001AndExits(t *testing.T) {
	n := startNode(t, "WSIFY_SHUTDOWN_TIMEOUT=3s")
	clients := dialMany(t, n, 50)
	n.cmd.Process.Signal(syscall.SIGTERM)
	for _, c := range clients {
		if code := closeCode(c); code != 1001 {
			t.Fatalf("close code %d, want 1001", code)
		}
	}
	select {
	case <-n.done:
		if code := exitCode(n.err); code != 0 {
			t.Fatalf("exit code %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not exit after SIGTERM")
	}
}
