package main

import (
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
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/server/servertest"
)

// proc is a wsify process whose log the test reads. A process it starts on
// SIGUSR2 inherits its stderr, so the new process's lines land there too.
type proc struct {
	cmd  *exec.Cmd
	logs *servertest.SyncBuffer
	addr string
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

// startProc runs bin on a free loopback port with env added, and waits
// until it listens.
func startProc(t testing.TB, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{logs: new(servertest.SyncBuffer), done: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"--listen-addr", "127.0.0.1:0"}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	// A pipe of our own rather than an io.Writer: Wait would otherwise wait
	// for the pipe to close, which the process's children hold open.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	go func() { copyLines(p.logs, pr); pr.Close() }()
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	p.addr = p.waitLog(t, listening)
	return p
}

func copyLines(dst *servertest.SyncBuffer, src *os.File) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		dst.Write(buf[:n])
		if err != nil {
			return
		}
	}
}

// waitLog polls the log until re matches, and returns the match's last
// group.
func (p *proc) waitLog(t testing.TB, re *regexp.Regexp) string {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(p.logs.String()); m != nil {
			return m[len(m)-1]
		}
	}
	t.Fatalf("the log never matched %s:\n%s", re, p.logs)
	return ""
}

// exited waits for the process to exit and returns its exit code.
func (p *proc) exited(t testing.TB, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return exitCode(p.err)
	case <-time.After(within):
		t.Fatalf("the process did not exit within %v:\n%s", within, p.logs)
		return 0
	}
}

var startedChild = regexp.MustCompile(`started a new process to take over.* pid=(\d+)`)

// successor is the process p started on SIGUSR2; it is killed with the test.
func (p *proc) successor(t testing.TB) int {
	t.Helper()
	pid, _ := strconv.Atoi(p.waitLog(t, startedChild))
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGKILL)
	})
	return pid
}

// notifySocket listens as systemd's notification socket would, and
// returns its path and the messages it receives.
func notifySocket(t testing.TB) (string, <-chan string) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	msgs := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	return path, msgs
}

func expectNotify(t testing.TB, msgs <-chan string, want string) {
	t.Helper()
	select {
	case got := <-msgs:
		if got != want {
			t.Fatalf("sd_notify %q, want %q", got, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no sd_notify %q", want)
	}
}

// joinedClients opens count connections to addr joined to channel.
func joinedClients(t testing.TB, addr, channel string, count int) []*websocket.Conn {
	t.Helper()
	var out []*websocket.Conn
	for i := range count {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
		c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"command":"join","args":{"channel":%q},"id":1}`, channel)))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, p, err := c.ReadMessage(); err != nil || string(p) != `{"id":1,"ok":true}` {
			t.Fatalf("join %d: %s %v", i, p, err)
		}
		out = append(out, c)
	}
	return out
}

// publish POSTs content to channel on a fresh connection and wants 201.
func publish(t testing.TB, addr, channel, content string) {
	t.Helper()
	hc := http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := hc.Post("http://"+addr+"/broadcast", "application/json",
		strings.NewReader(fmt.Sprintf(`{"channel":%q,"content":%s}`, channel, content)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /broadcast: %s", resp.Status)
	}
}

// expectEach reads one message on every client and compares it with want.
func expectEach(t testing.TB, clients []*websocket.Conn, want string) {
	t.Helper()
	for i, c := range clients {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, p, err := c.ReadMessage(); err != nil || string(p) != want {
			t.Fatalf("client %d: %s %v, want %s", i, p, err, want)
		}
	}
}

// TestReloadOnSIGUSR2: on SIGUSR2 wsify starts its own binary, which takes
// every connection over and tells systemd it is the main process now; the
// old process exits 0 and the clients never notice.
func TestReloadOnSIGUSR2(t *testing.T) {
	ctl := filepath.Join(t.TempDir(), "control.sock")
	notify, msgs := notifySocket(t)
	old := startProc(t, binary, []string{"WSIFY_CONTROL_SOCKET=" + ctl, "NOTIFY_SOCKET=" + notify})
	expectNotify(t, msgs, "READY=1")
	clients := joinedClients(t, old.addr, "c", 20)
	old.cmd.Process.Signal(syscall.SIGUSR2)
	pid := old.successor(t)
	expectNotify(t, msgs, fmt.Sprintf("MAINPID=%d\nREADY=1", pid))
	if code := old.exited(t, 30*time.Second); code != 0 {
		t.Fatalf("the old process exited %d:\n%s", code, old.logs)
	}
	publish(t, old.addr, "c", `"after"`)
	expectEach(t, clients, `{"channel":"c","content":"after"}`)
	more := joinedClients(t, old.addr, "c", 1)
	publish(t, old.addr, "c", `"again"`)
	expectEach(t, append(clients, more...), `{"channel":"c","content":"again"}`)
	if !strings.Contains(old.logs.String(), "took over") {
		t.Fatalf("no takeover in the log:\n%s", old.logs)
	}
}

// TestTakeoverRefusedOnVersionMismatch: a binary speaking another handoff
// protocol is refused with a message saying so and exits 1, and the running
// process serves on, its clients connected, and can still be taken over.
func TestTakeoverRefusedOnVersionMismatch(t *testing.T) {
	other := filepath.Join(t.TempDir(), "wsify-other")
	build := exec.Command("go", "build", "-o", other,
		"-ldflags=-X github.com/wsify/wsify/server/internal/handoff.version=wsify-handoff/0", ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ctl := filepath.Join(t.TempDir(), "control.sock")
	old := startProc(t, binary, []string{"WSIFY_CONTROL_SOCKET=" + ctl})
	clients := joinedClients(t, old.addr, "c", 3)
	out, err := exec.Command(other, "--takeover", ctl).CombinedOutput()
	want := "handoff protocol mismatch: the running process speaks wsify-handoff/1, the new one wsify-handoff/0"
	if code := exitCode(err); code != 1 || !strings.Contains(string(out), want) {
		t.Fatalf("the other binary exited %d saying %q; want 1 and %q", code, out, want)
	}
	old.waitLog(t, regexp.MustCompile(`refused a takeover; still serving.*mismatch`))
	publish(t, old.addr, "c", `"still"`)
	expectEach(t, clients, `{"channel":"c","content":"still"}`)
	joinedClients(t, old.addr, "c", 1)

	old.cmd.Process.Signal(syscall.SIGUSR2) // the same protocol still takes over
	old.successor(t)
	if code := old.exited(t, 30*time.Second); code != 0 {
		t.Fatalf("the old process exited %d:\n%s", code, old.logs)
	}
	publish(t, old.addr, "c", `"moved"`)
	expectEach(t, clients, `{"channel":"c","content":"moved"}`)
}
