package brokertest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wsify/wsify/internal/testutil"
)

// Redis is a redis-server process owned by one test.
type Redis struct {
	t    testing.TB
	path string
	port int
	dir  string
	args []string     // added to the command line (a cluster node's settings)
	cmd  *exec.Cmd    // nil while stopped
	out  bytes.Buffer // the server's output, shown when it fails to start
}

// StartRedis starts redis-server on a free loopback port, without
// persistence, and kills it when the test ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	r := newRedis(t)
	r.Start()
	return r
}

// newRedis prepares a redis-server on a free port, killed when the test ends.
func newRedis(t testing.TB, args ...string) *Redis {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed (%v): run `make deps` (Debian package redis-server)", err)
	}
	r := &Redis{t: t, path: path, port: FreePort(t), dir: t.TempDir(), args: args}
	t.Cleanup(r.Stop)
	return r
}

// Addr is the server's host:port.
func (r *Redis) Addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

// URL is the redis:// URL of the server.
func (r *Redis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d", r.port) }

// Start runs the server (again) on its port and waits until it answers.
func (r *Redis) Start() {
	r.t.Helper()
	r.out.Reset()
	args := append([]string{"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--loglevel", "warning"}, r.args...)
	r.cmd = exec.Command(r.path, args...)
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
	r.cmd.SysProcAttr = dieWithParent()
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	if !testutil.Poll(testutil.Timeout, r.answers) {
		r.t.Fatalf("redis-server on port %d did not answer PING within %v; output:\n%s", r.port, testutil.Timeout, r.out.String())
	}
}

func (r *Redis) answers() bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", r.port), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	fmt.Fprint(c, "PING\r\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}

// Stop kills the server abruptly, as a crash would.
func (r *Redis) Stop() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	r.cmd.Wait()
	r.cmd = nil
}

// Pause stops the server with SIGSTOP: its sockets stay open and the
// kernel still accepts connections, but nothing is answered, as with a
// server stuck in a long command or a frozen VM. Stop still kills it.
func (r *Redis) Pause() { r.signal(syscall.SIGSTOP) }

// Resume lets a paused server go on (SIGCONT).
func (r *Redis) Resume() { r.signal(syscall.SIGCONT) }

func (r *Redis) signal(sig syscall.Signal) {
	r.t.Helper()
	if r.cmd == nil {
		r.t.Fatalf("redis-server is not running; cannot send %v", sig)
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatalf("redis-server: %v: %v", sig, err)
	}
}

// NumSub is PUBSUB NUMSUB key: how many connections subscribe to it.
func (r *Redis) NumSub(key string) int {
	r.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port), DisableIdentity: true})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := c.PubSubNumSub(ctx, key).Result()
	if err != nil {
		r.t.Fatalf("PUBSUB NUMSUB %s: %v", key, err)
	}
	return int(m[key])
}

// FreePort returns a TCP port free on 127.0.0.1 a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
