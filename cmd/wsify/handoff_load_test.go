//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/internal/testutil"
)

// TestHandoffUnderLoad is the handoff: 10,000 idle joined
// connections (in a process of their own, the fleet) and 100 active ones
// (gorilla/websocket, each broadcasting once a second), 200 publications a
// second by POST, upgrades all along, one client in the middle of a
// fragmented message and one slow reader whose socket is full, then
// SIGUSR2: the binary starts again and takes everything over. No
// connection closes, no POST or upgrade fails, and every subscriber gets
// every publication once, in order.
//
// The count is sized to the fd limit read at run time: each server holds
// every connection during the handoff, the fleet holds the idle ones.
// WSIFY_HANDOFF_CONNS sets it (bench/RESULTS.md runs 15,000).
func TestHandoffUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 connections handed over under load")
	}
	idle := handoffConns(t)
	bin := plainBinary(t)
	ctl := filepath.Join(t.TempDir(), "control.sock")
	old := startProc(t, bin, []string{"WSIFY_CONTROL_SOCKET=" + ctl, "WSIFY_OUTBOX_BYTES=33554432"})
	began := time.Now()
	fl := startFleet(t, old.addr, idle, 100)
	t.Logf("%d idle connections joined in %v", idle, time.Since(began).Round(time.Millisecond))

	const active = 100
	subs := make([]*liveSub, active)
	for i := range subs {
		subs[i] = watchLive(t, joinedClients(t, old.addr, "live", 1)[0])
	}
	for i, s := range subs {
		go s.broadcastEvery(fmt.Sprintf("ws-%d", i), time.Second)
	}
	frag := beginFragment(t, old.addr)
	slow := fillSlowReader(t, old.addr)

	p := startLoadPoster(t, old.addr, 200)
	up := startDialLoop(t, old.addr, 20*time.Millisecond)
	time.Sleep(2 * time.Second) // steady load before the handoff
	old.cmd.Process.Signal(syscall.SIGUSR2)
	old.successor(t)
	if code := old.exited(t, 60*time.Second); code != 0 {
		t.Fatalf("the old process exited %d:\n%s", code, old.logs)
	}
	handed := regexp.MustCompile(`handed over to the new process"? connections=(\d+) took=(\S+) left=(\d+) unsent_bytes=(\d+) unparsed_bytes=(\d+) messages_begun=(\d+)`).
		FindStringSubmatch(old.logs.String())
	took := regexp.MustCompile(`took over"? connections=(\d+) took=(\S+)`).FindStringSubmatch(old.logs.String())
	if handed == nil || took == nil {
		t.Fatalf("no handoff in the log:\n%s", old.logs)
	}
	t.Logf("handed over %s connections in %s (%s left to drain); the new process took them in %s; unsent %s bytes, unparsed %s bytes, %s messages begun",
		handed[1], handed[2], handed[3], took[2], handed[4], handed[5], handed[6])
	if n, _ := strconv.Atoi(handed[1]); n < idle+active+2 || handed[3] != "0" || handed[4] == "0" || handed[6] == "0" {
		t.Fatalf("handed over %s connections (want at least %d), left %s, %s bytes unsent, %s messages begun",
			handed[1], idle+active+2, handed[3], handed[4], handed[6])
	}
	time.Sleep(2 * time.Second) // steady load after it

	phase := time.Now()
	want := p.halt(t)
	up.halt(t)
	live := map[string]int{"post": want["live"]}
	for _, s := range subs {
		s.halt()
	}
	for i, s := range subs {
		live[fmt.Sprintf("ws-%d", i)] = s.stopSending()
	}
	for i, s := range subs {
		s.waitFor(t, live, fmt.Sprintf("active client %d", i))
	}
	if r := fl.check(t, want); r.OK != idle || r.Closed != 0 {
		t.Fatalf("fleet: %d of %d connections got their publications, %d closed: %v", r.OK, idle, r.Closed, r.Errors)
	}
	frag.finish(t)
	slow.readAll(t)
	t.Logf("checked in %v", time.Since(phase).Round(time.Millisecond))
	t.Logf("%d POSTs (%d on live, the slowest %v), %d client broadcasts, %d upgrades (the slowest %v), no failure",
		p.n.Load(), want["live"], p.slowest.Round(time.Millisecond), sum(live)-want["live"], up.n.Load(), up.slowest.Round(time.Millisecond))
}

// handoffConns is the idle connections to hand over: 10,000, or fewer when
// the fd limit would not hold them with the rest (the servers each hold
// them all at the handoff, with about 1,000 more for the active clients
// and HTTP; the fleet holds them all).
func handoffConns(t testing.TB) int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	n := 10000
	if v := os.Getenv("WSIFY_HANDOFF_CONNS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	if fit := int(lim.Cur) - 1500; n > fit {
		t.Logf("fd limit %d: handing over %d idle connections instead of %d", lim.Cur, fit, n)
		n = fit
	}
	return n
}

var (
	plainOnce sync.Once
	plainBin  string
	plainErr  error
)

// plainBinary is the server built without the race detector, as deployed:
// the load test measures it too.
func plainBinary(t testing.TB) string {
	plainOnce.Do(func() {
		plainBin = filepath.Join(filepath.Dir(binary), "wsify-plain")
		out, err := exec.Command("go", "build", "-o", plainBin, ".").CombinedOutput()
		if err != nil {
			plainErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if plainErr != nil {
		t.Fatal(plainErr)
	}
	return plainBin
}

// fleetProc is the fleet's process.
type fleetProc struct {
	in  io.WriteCloser
	out *bufio.Scanner
}

func startFleet(t testing.TB, addr string, count, groups int) *fleetProc {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d,%d", fleetEnv, addr, count, groups))
	cmd.Stderr = os.Stderr
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
	f := &fleetProc{in: in, out: bufio.NewScanner(out)}
	if !f.out.Scan() || f.out.Text() != "ready" {
		t.Fatalf("the fleet did not get ready: %q", f.out.Text())
	}
	return f
}

// check asks the fleet whether every connection got its channel's count.
func (f *fleetProc) check(t testing.TB, counts map[string]int) fleetReport {
	t.Helper()
	b, _ := json.Marshal(counts)
	fmt.Fprintf(f.in, "check %s\n", b)
	var r fleetReport
	if !f.out.Scan() || json.Unmarshal(f.out.Bytes(), &r) != nil {
		t.Fatalf("the fleet did not report: %q", f.out.Text())
	}
	return r
}

// loadPoster POSTs at a steady rate, each on a fresh connection, alternating
// the channel "live" and the idle groups idle-0..idle-99, each channel's
// publications numbered from 0: {"p":"post","i":n}.
type loadPoster struct {
	n       atomic.Int64
	stop    chan struct{}
	done    chan struct{}
	err     error
	sent    map[string]int // publications acknowledged per channel; the poster's until done
	slowest time.Duration  // the longest POST; the poster's until done
}

func startLoadPoster(t testing.TB, addr string, perSecond int) *loadPoster {
	p := &loadPoster{stop: make(chan struct{}), done: make(chan struct{}), sent: map[string]int{}}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	go func() {
		defer close(p.done)
		every := time.Second / time.Duration(perSecond)
		next := time.Now()
		for k := 0; ; k++ {
			select {
			case <-p.stop:
				return
			case <-time.After(time.Until(next)):
			}
			next = next.Add(every)
			ch := "live"
			if k%2 == 1 {
				ch = fmt.Sprintf("idle-%d", (k/2)%100)
			}
			body := fmt.Sprintf(`{"channel":%q,"content":{"p":"post","i":%d}}`, ch, p.sent[ch])
			sent := time.Now()
			resp, err := hc.Post("http://"+addr+"/broadcast", "application/json", strings.NewReader(body))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					err = errors.New(resp.Status)
				}
			}
			if err != nil {
				p.err = fmt.Errorf("POST %d: %w", k, err)
				return
			}
			p.sent[ch]++
			p.n.Add(1)
			p.slowest = max(p.slowest, time.Since(sent))
		}
	}()
	t.Cleanup(func() { p.halt(nil) })
	return p
}

// halt stops the poster and returns the publications per channel; with t,
// a failed POST fails the test.
func (p *loadPoster) halt(t testing.TB) map[string]int {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
	if p.err != nil && t != nil {
		t.Fatal(p.err)
	}
	return p.sent
}

// dialLoop opens and closes a WebSocket connection every d.
type dialLoop struct {
	n       atomic.Int64
	stop    chan struct{}
	done    chan struct{}
	err     error
	slowest time.Duration // the longest upgrade; the loop's until done
}

func startDialLoop(t testing.TB, addr string, every time.Duration) *dialLoop {
	u := &dialLoop{stop: make(chan struct{}), done: make(chan struct{})}
	d := websocket.Dialer{HandshakeTimeout: 20 * time.Second}
	go func() {
		defer close(u.done)
		for {
			select {
			case <-u.stop:
				return
			case <-time.After(every):
			}
			began := time.Now()
			c, _, err := d.Dial("ws://"+addr+"/ws", nil)
			if err != nil {
				u.err = fmt.Errorf("upgrade %d: %w", u.n.Load(), err)
				return
			}
			u.slowest = max(u.slowest, time.Since(began))
			c.Close()
			u.n.Add(1)
		}
	}()
	t.Cleanup(func() { u.halt(nil) })
	return u
}

func (u *dialLoop) halt(t testing.TB) {
	select {
	case <-u.stop:
	default:
		close(u.stop)
	}
	<-u.done
	if u.err != nil && t != nil {
		t.Fatal(u.err)
	}
}

// liveSub reads one active client's deliveries on "live" and checks each
// publisher's numbers come once, in order; it also broadcasts.
type liveSub struct {
	c *websocket.Conn

	mu      sync.Mutex
	next    map[string]int // guarded by mu
	err     error          // guarded by mu
	over    bool           // the test ended: a read error is expected; guarded by mu
	halting bool           // stop broadcasting; guarded by mu
	sent    int            // broadcasts sent; set before stopped closes
	stopped chan struct{}
}

func watchLive(t testing.TB, c *websocket.Conn) *liveSub {
	s := &liveSub{c: c, next: map[string]int{}, stopped: make(chan struct{})}
	t.Cleanup(func() {
		s.mu.Lock()
		s.over = true
		s.mu.Unlock()
		c.Close()
	})
	go s.read()
	return s
}

func (s *liveSub) read() {
	for {
		s.c.SetReadDeadline(time.Now().Add(5 * time.Minute))
		_, p, err := s.c.ReadMessage()
		s.mu.Lock()
		if err != nil {
			if !s.over && s.err == nil {
				s.err = fmt.Errorf("connection ended: %v", err)
			}
			s.mu.Unlock()
			return
		}
		var m struct {
			Content struct {
				P string
				I int
			}
		}
		json.Unmarshal(p, &m)
		if want := s.next[m.Content.P]; (m.Content.P == "" || m.Content.I != want) && s.err == nil {
			s.err = fmt.Errorf("got %s, want %d from %q", p, want, m.Content.P)
		}
		s.next[m.Content.P] = m.Content.I + 1
		s.mu.Unlock()
	}
}

func (s *liveSub) broadcastEvery(name string, d time.Duration) {
	defer close(s.stopped)
	for i := 0; ; i++ {
		s.mu.Lock()
		halt := s.halting || s.over
		s.mu.Unlock()
		if halt {
			s.sent = i
			return
		}
		msg := fmt.Sprintf(`{"command":"broadcast","args":{"channel":"live","content":{"p":%q,"i":%d}}}`, name, i)
		if err := s.c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			s.mu.Lock()
			if s.err == nil {
				s.err = fmt.Errorf("broadcast: %v", err)
			}
			s.mu.Unlock()
		}
		time.Sleep(d)
	}
}

// halt tells s to stop broadcasting; stopSending waits until it has.
func (s *liveSub) halt() {
	s.mu.Lock()
	s.halting = true
	s.mu.Unlock()
}

func (s *liveSub) stopSending() int {
	s.halt()
	<-s.stopped
	return s.sent
}

func (s *liveSub) waitFor(t testing.TB, want map[string]int, who string) {
	t.Helper()
	ok := testutil.Poll(time.Minute, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.err != nil || maps.Equal(s.next, want)
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil || !ok {
		t.Fatalf("%s: %v; got %v of %v", who, s.err, s.next, want)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// rawClient is a hand-driven client connection.
type rawClient struct {
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string, rcvbuf int, channel string) *rawClient {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf) })
		}
	}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	r := &rawClient{nc: nc, br: bufio.NewReader(nc)}
	io.WriteString(nc, "GET /ws HTTP/1.1\r\nHost: "+addr+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	r.nc.Write(clientFrame(0x1, []byte(fmt.Sprintf(`{"command":"join","args":{"channel":%q},"id":"j"}`, channel))))
	r.expect(t, 0x1, `{"id":"j","ok":true}`)
	return r
}

// next reads one server frame.
func (r *rawClient) next(t testing.TB) (byte, []byte) {
	t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	var head [10]byte
	if _, err := io.ReadFull(r.br, head[:2]); err != nil {
		t.Fatalf("read: %v", err)
	}
	n := int(head[1] & 0x7f)
	switch n {
	case 126:
		io.ReadFull(r.br, head[2:4])
		n = int(head[2])<<8 | int(head[3])
	case 127:
		io.ReadFull(r.br, head[2:10])
		n = 0
		for _, b := range head[2:10] {
			n = n<<8 | int(b)
		}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r.br, p); err != nil {
		t.Fatalf("read: %v", err)
	}
	return head[0] & 0x0f, p
}

func (r *rawClient) expect(t testing.TB, op byte, want string) {
	t.Helper()
	if gotOp, p := r.next(t); gotOp != op || string(p) != want {
		t.Fatalf("got op %d %q, want op %d %q", gotOp, p, op, want)
	}
}

// fragmenter is a client in the middle of a fragmented broadcast.
type fragmenter struct{ *rawClient }

// beginFragment joins "frag" and sends the first fragment of a broadcast;
// the pong of the ping behind it says the server read it.
func beginFragment(t testing.TB, addr string) fragmenter {
	r := dialRaw(t, addr, 0, "frag")
	first := []byte(`{"command":"broadcast","args":{"channel":"frag","content":`)
	frame := clientFrame(0x1, first)
	frame[0] &^= 0x80 // FIN cleared: more fragments follow
	r.nc.Write(append(frame, clientFrame(0x9, []byte("p"))...))
	r.expect(t, 0xA, "p")
	return fragmenter{r}
}

// finish sends the last fragment to the new process, which runs the
// broadcast once.
func (f fragmenter) finish(t testing.TB) {
	t.Helper()
	f.nc.Write(clientFrame(0x0, []byte(`"whole"},"id":"f"}`)))
	f.expect(t, 0x1, `{"channel":"frag","content":"whole"}`)
	f.expect(t, 0x1, `{"id":"f","ok":true,"receivers":1}`)
}

// slowReader is a subscriber that reads nothing until the end, with a
// 4 KiB receive buffer: publications pile up in its server's outbox.
type slowReader struct {
	*rawClient
	addr string
	n    int
}

const slowPad = 60000

func slowMsg(i int) string {
	return fmt.Sprintf(`{"channel":"slow","content":{"i":%d,"pad":%q}}`, i, strings.Repeat("x", slowPad))
}

// fillSlowReader publishes 128 publications of 60 KB to a slow reader:
// more than the kernel's buffers hold, so its outbox holds the rest.
func fillSlowReader(t testing.TB, addr string) *slowReader {
	s := &slowReader{rawClient: dialRaw(t, addr, 4096, "slow"), addr: addr, n: 128}
	for i := range s.n {
		publish(t, addr, "slow", slowMsg(i)[len(`{"channel":"slow","content":`):len(slowMsg(i))-1])
	}
	return s
}

// readAll publishes one more, then reads them all, whole, once, in order.
func (s *slowReader) readAll(t testing.TB) {
	t.Helper()
	publish(t, s.addr, "slow", slowMsg(s.n)[len(`{"channel":"slow","content":`):len(slowMsg(s.n))-1])
	for i := range s.n + 1 {
		s.expect(t, 0x1, slowMsg(i))
	}
}
