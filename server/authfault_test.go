package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/internal/testutil"
	"github.com/wsify/wsify/server"
)

// These tests put a hand-written authorizer behind the server: a raw TCP
// server that parses each request itself and answers with bytes no HTTP
// library would send, so the server's HTTP client meets garbage, cut
// responses, silence, endless bodies and redirects. The verdicts are the
// documented ones: 5xx, a timeout, an unreachable or broken authorizer
// mean "down" (503 at connect, 1013 on a command); any other status
// denies (403, not_authorized); 200 allows whatever body comes with it.

// faultTimeout is the authorizer timeout of these tests.
const faultTimeout = 300 * time.Millisecond

// reply answers one authorizer request on nc; it returns false when the
// connection must not serve another request.
type reply func(fa *faultyAuthorizer, nc net.Conn) (keep bool)

// faultyAuthorizer answers every request with the reply chosen for its
// kind: the connect check or a command.
type faultyAuthorizer struct {
	ln         net.Listener
	onConnect  atomic.Pointer[reply]
	onCommand  atomic.Pointer[reply]
	requests   atomic.Int64 // requests read
	goroutines atomic.Int64 // its goroutines running now
	stop       chan struct{}
	wg         sync.WaitGroup
	mu         sync.Mutex
	conns      map[net.Conn]struct{} // open connections; guarded by mu
}

func newFaultyAuthorizer(t testing.TB) *faultyAuthorizer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fa := &faultyAuthorizer{ln: ln, stop: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	fa.set(replyStatus(http.StatusOK), replyStatus(http.StatusOK))
	fa.spawn(fa.accept)
	t.Cleanup(fa.close)
	return fa
}

func (fa *faultyAuthorizer) url() string { return "http://" + fa.ln.Addr().String() + "/auth" }

func (fa *faultyAuthorizer) config() server.Config {
	return server.Config{Auth: auth.Config{URL: fa.url(), Timeout: faultTimeout}}
}

// set chooses the replies to connects and to commands.
func (fa *faultyAuthorizer) set(connect, command reply) {
	fa.onConnect.Store(&connect)
	fa.onCommand.Store(&command)
}

// spawn runs f on a goroutine the authorizer counts as its own.
func (fa *faultyAuthorizer) spawn(f func()) {
	fa.wg.Add(1)
	fa.goroutines.Add(1)
	go func() {
		defer fa.wg.Done()
		defer fa.goroutines.Add(-1)
		f()
	}()
}

func (fa *faultyAuthorizer) accept() {
	for {
		nc, err := fa.ln.Accept()
		if err != nil {
			return
		}
		fa.mu.Lock()
		fa.conns[nc] = struct{}{}
		fa.mu.Unlock()
		fa.spawn(func() { fa.serve(nc) })
	}
}

// serve reads requests on nc, body included, and answers each.
func (fa *faultyAuthorizer) serve(nc net.Conn) {
	defer fa.drop(nc)
	br := bufio.NewReader(nc)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, _ := io.ReadAll(req.Body)
		fa.requests.Add(1)
		if !(*fa.replyFor(body))(fa, nc) {
			return
		}
	}
}

func (fa *faultyAuthorizer) replyFor(body []byte) *reply {
	var r struct{ Command string }
	json.Unmarshal(body, &r)
	if r.Command == "connect" {
		return fa.onConnect.Load()
	}
	return fa.onCommand.Load()
}

func (fa *faultyAuthorizer) drop(nc net.Conn) {
	nc.Close()
	fa.mu.Lock()
	delete(fa.conns, nc)
	fa.mu.Unlock()
}

// openConns is how many connections the server holds to the authorizer.
func (fa *faultyAuthorizer) openConns() int {
	fa.mu.Lock()
	defer fa.mu.Unlock()
	return len(fa.conns)
}

func (fa *faultyAuthorizer) close() {
	select {
	case <-fa.stop:
		return
	default:
	}
	close(fa.stop)
	fa.ln.Close()
	fa.mu.Lock()
	for nc := range fa.conns {
		nc.Close()
	}
	fa.mu.Unlock()
	fa.wg.Wait()
}

// write sends raw bytes; a failed write ends the connection.
func write(nc net.Conn, s string) bool {
	_, err := io.WriteString(nc, s)
	return err == nil
}

// replyRaw writes raw as the whole answer and keeps the connection when
// keep is set.
func replyRaw(raw string, keep bool) reply {
	return func(_ *faultyAuthorizer, nc net.Conn) bool { return write(nc, raw) && keep }
}

// replyStatus is a well-formed empty answer with status.
func replyStatus(status int) reply {
	return replyRaw(fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Length: 0\r\n\r\n", status, http.StatusText(status)), true)
}

// replySilent reads nothing more and answers nothing until the server
// gives up on the connection or the test ends.
func replySilent(fa *faultyAuthorizer, nc net.Conn) bool {
	done := make(chan struct{})
	fa.spawn(func() { io.Copy(io.Discard, nc); close(done) })
	select {
	case <-done:
	case <-fa.stop:
	}
	return false
}

// replyEndless answers 200 with a 1 GiB body it writes until the server
// stops reading it and closes, or the test ends.
func replyEndless(fa *faultyAuthorizer, nc net.Conn) bool {
	if !write(nc, "HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n") {
		return false
	}
	chunk := strings.Repeat("x", 64<<10)
	for {
		nc.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		_, err := io.WriteString(nc, chunk)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			select { // the server holds the connection without reading
			case <-fa.stop:
				return false
			default:
				continue
			}
		}
		if err != nil {
			return false
		}
	}
}

// chunkedBody is a 200 whose body comes in chunks, 12 KiB in all: more
// than a read buffer, so part of it is still unread when the head is
// parsed.
var chunkedBody = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
	strings.Repeat("1000\r\n"+strings.Repeat("c", 4096)+"\r\n", 3) + "0\r\n\r\n"

// bigBody is a 200 with a 10,000-byte body on a kept connection.
var bigBody = "HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n" + strings.Repeat("b", 10000)

// smallBody is a 200 with a body, as most web frameworks answer.
var smallBody = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\nallowed"

// faultCase is one misbehaviour and the verdict it must produce.
type faultCase struct {
	name  string
	reply reply
	down  bool // the server must take the authorizer for down
	deny  bool // the server must refuse (403 / not_authorized)
}

func faultCases() []faultCase {
	redirect := "HTTP/1.1 %d Moved\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"
	return []faultCase{
		{name: "garbage then close", reply: replyRaw("SSH-2.0-OpenSSH_9.2\r\nnot http at all\r\n\r\n", false), down: true},
		{name: "garbage kept open", reply: replyRaw("\x00\x01\x02\xff\xfe garbage\r\n\r\n", true), down: true},
		{name: "malformed status line", reply: replyRaw("HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n", true), down: true},
		{name: "status line only, then close", reply: replyRaw("HTTP/1.1 200 OK\r\n", false), down: true},
		{name: "half the headers, then close", reply: replyRaw("HTTP/1.1 200 OK\r\nContent-Type: text/pl", false), down: true},
		{name: "nothing, then close", reply: replyRaw("", false), down: true},
		{name: "silent past the timeout", reply: replySilent, down: true},
		{name: "200 with an endless body", reply: replyEndless},
		{name: "200 with a chunked body", reply: replyRaw(chunkedBody, true)},
		{name: "200 with a 10k body", reply: replyRaw(bigBody, true)},
		{name: "200 with a small body", reply: replyRaw(smallBody, true)},
		{name: "200 then close without saying so", reply: replyRaw("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false)},
		{name: "301", reply: replyRaw(fmt.Sprintf(redirect, 301), true), deny: true},
		{name: "302", reply: replyRaw(fmt.Sprintf(redirect, 302), true), deny: true},
		{name: "307", reply: replyRaw(fmt.Sprintf(redirect, 307), true), deny: true},
		{name: "308", reply: replyRaw(fmt.Sprintf(redirect, 308), true), deny: true},
		{name: "304 not modified", reply: replyStatus(http.StatusNotModified), deny: true},
	}
}

func (fc faultCase) handshakeWant() int {
	switch {
	case fc.down:
		return http.StatusServiceUnavailable
	case fc.deny:
		return http.StatusForbidden
	}
	return http.StatusSwitchingProtocols
}

// serverGoroutines counts the goroutines that are not the authorizer's.
func serverGoroutines(fa *faultyAuthorizer) int {
	return runtime.NumGoroutine() - int(fa.goroutines.Load())
}

// expectGoroutinesBack polls until the server is back to base goroutines.
func expectGoroutinesBack(t testing.TB, fa *faultyAuthorizer, base int) {
	t.Helper()
	settles(t, "goroutines", func() int { return serverGoroutines(fa) }, base)
}

// warmBase makes one allowed connection, so the authorizer client has its
// kept connection, and returns the goroutine count from then on.
func warmBase(t testing.TB, s *server.Server, fa *faultyAuthorizer) int {
	t.Helper()
	if got := handshakeStatus(t, s); got != http.StatusSwitchingProtocols {
		t.Fatalf("healthy authorizer: handshake %d", got)
	}
	waitClosed(t, s)
	return serverGoroutines(fa)
}

func TestAuthorizerFaultsAtConnect(t *testing.T) {
	fa := newFaultyAuthorizer(t)
	s := start(t, fa.config())
	base := warmBase(t, s, fa)
	for _, fc := range faultCases() {
		fa.set(fc.reply, replyStatus(http.StatusOK))
		if got := handshakeStatus(t, s); got != fc.handshakeWant() {
			t.Errorf("%s: handshake %d, want %d", fc.name, got, fc.handshakeWant())
		}
		fa.set(replyStatus(http.StatusOK), replyStatus(http.StatusOK))
		for i := range 3 { // the next verdicts are the healthy authorizer's own
			if got := handshakeStatus(t, s); got != http.StatusSwitchingProtocols {
				t.Errorf("%s: recovered authorizer, handshake %d: %d, want 101", fc.name, i, got)
			}
		}
	}
	waitClosed(t, s)
	expectGoroutinesBack(t, fa, base)
}

func TestAuthorizerFaultsOnCommand(t *testing.T) {
	fa := newFaultyAuthorizer(t)
	s := start(t, fa.config())
	base := warmBase(t, s, fa)
	for _, fc := range faultCases() {
		c := dial(t, s)
		fa.set(replyStatus(http.StatusOK), fc.reply)
		send(t, c, `{"command":"join","args":{"channel":"f"},"id":1}`)
		checkCommandVerdict(t, fc, c)
		fa.set(replyStatus(http.StatusOK), replyStatus(http.StatusOK))
		if !fc.down { // the connection goes on with the next verdicts
			joinSync(t, c, "f")
			send(t, c, `{"command":"broadcast","args":{"channel":"f","content":2},"id":2}`)
			expectInOrder(t, c, `{"channel":"f","content":2}`, `{"id":2,"ok":true,"receivers":1}`)
		}
		c.Close()
		stillServesWithAuthorizer(t, s, fc.name)
	}
	waitClosed(t, s)
	expectGoroutinesBack(t, fa, base)
}

func checkCommandVerdict(t testing.TB, fc faultCase, c *websocket.Conn) {
	t.Helper()
	switch {
	case fc.down:
		expectClose(t, c, websocket.CloseTryAgainLater)
	case fc.deny:
		expect(t, c, `{"id":1,"error":{"code":"not_authorized","message":"the authorizer refused this command"}}`)
	default:
		expect(t, c, `{"id":1,"ok":true}`)
	}
}

// stillServesWithAuthorizer checks a new client can connect and run
// commands through the (healthy again) authorizer.
func stillServesWithAuthorizer(t testing.TB, s *server.Server, after string) {
	t.Helper()
	c, err := dialQuery(s, "")
	if err != nil {
		t.Fatalf("after %s: %v", after, err)
	}
	defer c.Close()
	joinSync(t, c, "after")
	send(t, c, `{"command":"broadcast","args":{"channel":"after","content":"ok"},"id":"b"}`)
	expectInOrder(t, c, `{"channel":"after","content":"ok"}`, `{"id":"b","ok":true,"receivers":1}`)
}

// TestAuthorizerFaultsUnderConcurrentConnects sends 12 handshakes at once
// for each fault, through 2 authorizer connections (so they queue, six
// timeouts deep for the silent authorizer): every one gets its
// verdict, and afterwards the server holds no more than its 2 connections
// to the authorizer and no goroutine more than before.
func TestAuthorizerFaultsUnderConcurrentConnects(t *testing.T) {
	fa := newFaultyAuthorizer(t)
	cfg := fa.config()
	cfg.Auth.MaxConns = 2
	s := start(t, cfg)
	base := warmBase(t, s, fa)
	for _, fc := range faultCases() {
		fa.set(fc.reply, fc.reply)
		for status, n := range concurrentHandshakes(t, s, 12) {
			if status != fc.handshakeWant() && !(fc.down && status == http.StatusServiceUnavailable) {
				t.Errorf("%s: %d handshakes got %d, want %d", fc.name, n, status, fc.handshakeWant())
			}
		}
	}
	fa.set(replyStatus(http.StatusOK), replyStatus(http.StatusOK))
	stillServesWithAuthorizer(t, s, "the faults")
	eventually(t, "at most 2 authorizer connections", func() bool { return fa.openConns() <= 2 })
	waitClosed(t, s)
	expectGoroutinesBack(t, fa, base)
}

// concurrentHandshakes runs n handshakes at once and counts their statuses.
func concurrentHandshakes(t testing.TB, s *server.Server, n int) map[int]int {
	t.Helper()
	statuses := make(chan int, n)
	for range n {
		go func() { status, _ := dialStatus(s); statuses <- status }()
	}
	counts := map[int]int{}
	for range n {
		counts[<-statuses]++
	}
	return counts
}

// TestAuthorizerNotAskedForConnectionsAlreadyGone stalls the authorizer
// while 8 clients connect through its one connection; their handshakes
// time out while the first call is still held. The 7 calls still queued
// then belong to connections that are gone: making them would only keep
// the authorizer busy and the next clients waiting, one timeout each.
func TestAuthorizerNotAskedForConnectionsAlreadyGone(t *testing.T) {
	fa := newFaultyAuthorizer(t)
	cfg := fa.config()
	cfg.Auth.MaxConns = 1
	cfg.Auth.Timeout = 2 * time.Second
	cfg.HandshakeTimeout = 300 * time.Millisecond
	s := start(t, cfg)
	warmBase(t, s, fa)
	fa.set(replySilent, replySilent)
	before := fa.requests.Load()
	if counts := concurrentHandshakes(t, s, 8); counts[0] != 8 {
		t.Fatalf("handshakes %v, want all 8 dropped at the handshake timeout", counts)
	}
	waitAuthorizerIdle(t, fa)
	fa.set(replyStatus(http.StatusOK), replyStatus(http.StatusOK))
	stillServesWithAuthorizer(t, s, "the stalled calls")
	if n := fa.requests.Load() - before; n != 1+3 { // the held call, then a connect, a join and a broadcast
		t.Fatalf("authorizer asked %d times, want 4: calls were made for connections already gone", n)
	}
}

// waitAuthorizerIdle waits until the server holds no connection to the
// authorizer: the held call timed out and no queued call followed it.
func waitAuthorizerIdle(t testing.TB, fa *faultyAuthorizer) {
	t.Helper()
	if !testutil.Poll(testutil.Timeout, func() bool { return fa.openConns() == 0 }) {
		t.Fatalf("the authorizer was still being asked after %v (%d requests): queued calls for connections already gone",
			testutil.Timeout, fa.requests.Load())
	}
}
