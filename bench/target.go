package bench

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// target is the server under test.
type target struct {
	Addr        string   `json:"addr"`
	PID         int      `json:"pid"`
	SelfStarted bool     `json:"self_started"`
	Env         []string `json:"env,omitempty"` // settings passed to a self-started server
	Log         string   `json:"log,omitempty"` // its stderr
	cmd         *exec.Cmd
	http        *http.Client
}

// buildServer compiles cmd/wsify from the module at src into a temporary
// directory and returns the binary's path.
func buildServer(src string) (string, error) {
	dir, err := os.MkdirTemp("", "wsbench-")
	if err != nil {
		return "", fmt.Errorf("bench: build: %w", err)
	}
	bin := filepath.Join(dir, "wsify")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/wsify")
	cmd.Dir, cmd.Stdout, cmd.Stderr = src, os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("bench: go build ./cmd/wsify in %s: %w", src, err)
	}
	return bin, nil
}

// startServer runs bin on a free loopback port with env added to ours
// (GODEBUG=gctrace=1 included, so the log shows the heap after each GC).
func startServer(bin string, env []string, logPath string) (*target, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("bench: server log: %w", err)
	}
	defer logf.Close()
	t := &target{Addr: "127.0.0.1:" + strconv.Itoa(port), SelfStarted: true, Log: logPath,
		Env: append([]string{"GODEBUG=gctrace=1"}, env...)}
	t.cmd = exec.Command(bin, "--listen-addr", t.Addr, "--log-level", "warn")
	t.cmd.Env = append(os.Environ(), t.Env...)
	t.cmd.Stdout, t.cmd.Stderr = logf, logf
	if err := t.cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: starting %s: %w", bin, err)
	}
	t.PID = t.cmd.Process.Pid
	t.http = &http.Client{Timeout: 5 * time.Second}
	if err := t.waitHealthy(10 * time.Second); err != nil {
		t.stop()
		return nil, err
	}
	return t, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("bench: finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// attach targets a running server, which must listen on loopback; pid 0
// means: find the process that owns the listening socket.
func attach(addr string, pid int) (*target, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("bench: -addr %q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	if host == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("bench: -addr %q: the tool only targets loopback", addr)
	}
	t := &target{Addr: net.JoinHostPort(ip.String(), portStr), PID: pid, http: &http.Client{Timeout: 5 * time.Second}}
	if err := t.waitHealthy(5 * time.Second); err != nil {
		return nil, err
	}
	if t.PID == 0 {
		port, _ := strconv.Atoi(portStr)
		if t.PID, err = listenerPID(port); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// waitHealthy polls GET /healthz until it answers 200.
func (t *target) waitHealthy(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		resp, err := t.http.Get("http://" + t.Addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: %s/healthz not ready after %s: %v", t.Addr, limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ServerStats is GET /stats.
type ServerStats struct {
	Connections   int64  `json:"connections"`
	Sockets       int    `json:"sockets"`
	Accepted      int64  `json:"accepted"`
	Channels      int    `json:"channels"`
	Published     uint64 `json:"published"`
	Deliveries    uint64 `json:"deliveries"`
	SlowConsumers int64  `json:"slow_consumers"`
	Rejected      int64  `json:"handshakes_rejected"`
	Goroutines    int    `json:"goroutines"`
}

func (t *target) stats() (ServerStats, error) {
	var s ServerStats
	resp, err := t.http.Get("http://" + t.Addr + "/stats")
	if err != nil {
		return s, fmt.Errorf("bench: GET /stats: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return s, fmt.Errorf("bench: decoding /stats: %w", err)
	}
	return s, nil
}

// metric reads one unlabelled sample of GET /metrics.
func (t *target) metric(name string) (float64, error) {
	resp, err := t.http.Get("http://" + t.Addr + "/metrics")
	if err != nil {
		return 0, fmt.Errorf("bench: GET /metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("bench: GET /metrics has no %s", name)
}

// stop ends a self-started server with SIGTERM (its graceful shutdown).
func (t *target) stop() error {
	if t.cmd == nil {
		return nil
	}
	t.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- t.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(15 * time.Second):
		t.cmd.Process.Kill()
		return errors.New("bench: server ignored SIGTERM for 15s; killed")
	}
}

var gcLine = regexp.MustCompile(`gc \d+ @.* (\d+)->(\d+)->(\d+) MB`)

// lastGC returns the live heap after the last GC the server logged
// (GODEBUG=gctrace=1) and how many GCs it logged.
func (t *target) lastGC() (liveMB int, cycles int) {
	b, err := os.ReadFile(t.Log)
	if err != nil {
		return -1, 0
	}
	for line := range strings.Lines(string(b)) {
		if m := gcLine.FindStringSubmatch(line); m != nil {
			liveMB, _ = strconv.Atoi(m[3])
			cycles++
		}
	}
	return liveMB, cycles
}
