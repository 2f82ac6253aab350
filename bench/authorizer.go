package bench

import (
	"bufio"
	"encoding/json"
	"errors"
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
// It stops when its stdin closes. With usersEnv set to N (fanout's
// -filter) it names the connections it is asked about, in turn, "u0" to
// "u<N-1>", and keeps the client id of the last command it was asked
// about, for GET /client.
func authorizerMain(in io.Reader, out io.Writer) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsbench authorizer:", err)
		return 1
	}
	users, _ := strconv.Atoi(os.Getenv(usersEnv))
	var calls, connects atomic.Int64
	var client atomic.Pointer[string]
	mux := http.NewServeMux()
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if users <= 0 {
			io.Copy(io.Discard, r.Body)
			return
		}
		var m struct {
			Command string
			Client  struct{ ID string }
		}
		json.NewDecoder(r.Body).Decode(&m)
		if m.Command == "connect" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"user":"u%d"}`, (connects.Add(1)-1)%int64(users))
			return
		}
		client.Store(&m.Client.ID)
	})
	mux.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, calls.Load())
	})
	mux.HandleFunc("/client", func(w http.ResponseWriter, r *http.Request) {
		if id := client.Load(); id != nil {
			fmt.Fprint(w, *id)
		}
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

// usersEnv tells the authorizer process how many users to name the
// connections after (0: none, all anonymous).
const usersEnv = "WSBENCH_USERS"

func startAuthorizer(users int) (*authorizer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: authorizer: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), roleEnv+"=authorizer", fmt.Sprintf("%s=%d", usersEnv, users))
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

// client returns the client id of the last command it was asked about.
func (a *authorizer) client() (string, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + a.addr + "/client")
	if err != nil {
		return "", fmt.Errorf("bench: authorizer: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if len(b) == 0 {
		return "", errors.New("bench: the authorizer saw no command")
	}
	return string(b), nil
}

func (a *authorizer) stop() {
	a.stdin.Close()
	a.cmd.Wait()
}
