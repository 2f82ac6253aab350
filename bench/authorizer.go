package bench

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// authorizerMain is the local authorizer the connect scenario measures
// with: it allows everything and counts calls. It runs in its own process
// so that its CPU is reported apart from the server's and the clients'.
// It stops when its stdin closes.
func authorizerMain(in io.Reader, out io.Writer) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsbench authorizer:", err)
		return 1
	}
	var calls atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		calls.Add(1)
	})
	mux.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, calls.Load())
	})
	go http.Serve(ln, mux)
	fmt.Fprintln(out, ln.Addr().String())
	io.Copy(io.Discard, in)
	return 0
}

// authorizer is a running authorizer process.
type authorizer struct {
	cmd   *exec.Cmd
	stdin io.Closer
	addr  string
}

func startAuthorizer() (*authorizer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: authorizer: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), roleEnv+"=authorizer")
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: starting authorizer: %w", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stdin.Close()
		cmd.Wait()
		return nil, fmt.Errorf("bench: authorizer did not start: %w", err)
	}
	return &authorizer{cmd: cmd, stdin: stdin, addr: strings.TrimSpace(line)}, nil
}

func (a *authorizer) url() string { return "http://" + a.addr + "/auth" }
func (a *authorizer) pid() int    { return a.cmd.Process.Pid }

// calls returns how many authorizations it answered.
func (a *authorizer) calls() int64 {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + a.addr + "/count")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	n, _ := strconv.ParseInt(string(b), 10, 64)
	return n
}

func (a *authorizer) stop() {
	a.stdin.Close()
	a.cmd.Wait()
}
