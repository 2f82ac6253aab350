package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/server"
)

// authorizer is a real HTTP authorizer on loopback. It records every body
// and answers with what answer returns; answer may block until the request
// is abandoned or the test ends (stop).
type authorizer struct {
	srv      *httptest.Server
	stop     chan struct{} // closed when the test ends: blocked answers return
	answer   func(r *authRequest) int
	mu       sync.Mutex
	bodies   []string // guarded by mu
	inFlight atomic.Int32
	maxSeen  atomic.Int32 // most requests in flight at once
	closed   sync.Once
}

// authRequest is one request the authorizer got, decoded.
type authRequest struct {
	Command string          `json:"command"`
	Args    json.RawMessage `json:"args"`
	ID      json.RawMessage `json:"id"`
	Client  *auth.ClientInfo
	ctx     <-chan struct{} // closed when the server abandons the request
	stop    <-chan struct{} // closed when the test ends
}

func newAuthorizer(t testing.TB, answer func(r *authRequest) int) *authorizer {
	t.Helper()
	a := &authorizer{stop: make(chan struct{}), answer: answer}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.close)
	return a
}

func (a *authorizer) serve(w http.ResponseWriter, r *http.Request) {
	n := a.inFlight.Add(1)
	defer a.inFlight.Add(-1)
	for m := a.maxSeen.Load(); n > m && !a.maxSeen.CompareAndSwap(m, n); m = a.maxSeen.Load() {
	}
	b, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.bodies = append(a.bodies, string(b))
	a.mu.Unlock()
	req := &authRequest{ctx: r.Context().Done(), stop: a.stop}
	if err := json.Unmarshal(b, req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.WriteHeader(a.answer(req))
}

// wait blocks until release is closed, the request is abandoned or the
// test ends, and reports whether release was the reason.
func (r *authRequest) wait(release <-chan struct{}) bool {
	select {
	case <-release:
		return true
	case <-r.ctx:
	case <-r.stop:
	}
	return false
}

func (r *authRequest) channel() string {
	var args struct{ Channel string }
	json.Unmarshal(r.Args, &args)
	return args.Channel
}

func (a *authorizer) close() {
	a.closed.Do(func() {
		close(a.stop)
		a.srv.Close()
	})
}

func (a *authorizer) seen() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.bodies...)
}

// commands returns the non-connect bodies seen so far.
func (a *authorizer) commands() []string {
	var out []string
	for _, b := range a.seen() {
		if !strings.Contains(b, `"command":"connect"`) {
			out = append(out, b)
		}
	}
	return out
}

func (a *authorizer) config(timeout time.Duration) server.Config {
	return server.Config{Auth: auth.Config{URL: a.srv.URL, Timeout: timeout}}
}

// allowConnect answers 200 to connects and status to everything else.
func allowConnect(status func(r *authRequest) int) func(r *authRequest) int {
	return func(r *authRequest) int {
		if r.Command == "connect" {
			return http.StatusOK
		}
		return status(r)
	}
}

// closedPortURL is the URL of a loopback port nobody listens on.
func closedPortURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/auth"
}

func TestAuthorizerConnectVerdicts(t *testing.T) {
	var status atomic.Int32
	a := newAuthorizer(t, func(r *authRequest) int { return int(status.Load()) })
	s := start(t, a.config(0))
	for _, tc := range []struct{ answer, want int }{
		{200, http.StatusSwitchingProtocols},
		{403, http.StatusForbidden},
		{401, http.StatusForbidden},
		{404, http.StatusForbidden},
		{500, http.StatusServiceUnavailable},
		{503, http.StatusServiceUnavailable},
	} {
		status.Store(int32(tc.answer))
		before := len(a.seen())
		if got := handshakeStatus(t, s); got != tc.want {
			t.Errorf("authorizer %d: handshake %d, want %d", tc.answer, got, tc.want)
		}
		if n := len(a.seen()) - before; n != 1 {
			t.Errorf("authorizer %d: asked %d times, want 1", tc.answer, n)
		}
	}
}

func TestAuthorizerAllowedConnectionWorks(t *testing.T) {
	a := newAuthorizer(t, func(r *authRequest) int { return http.StatusOK })
	s := start(t, a.config(0))
	c := dial(t, s)
	joinSync(t, c, "n")
	send(t, c, `{"command":"broadcast","args":{"channel":"n","content":[1]}}`)
	expect(t, c, `{"channel":"n","content":[1]}`)
}

func TestAuthorizerSlowOrUnreachableOnConnectIs503(t *testing.T) {
	t.Run("slow", func(t *testing.T) {
		a := newAuthorizer(t, func(r *authRequest) int {
			r.wait(nil) // never released: answers only once abandoned
			return http.StatusOK
		})
		s := start(t, a.config(200*time.Millisecond))
		if got := handshakeStatus(t, s); got != http.StatusServiceUnavailable {
			t.Fatalf("handshake %d, want 503", got)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		s := start(t, server.Config{Auth: auth.Config{URL: closedPortURL(t), Timeout: 200 * time.Millisecond}})
		if got := handshakeStatus(t, s); got != http.StatusServiceUnavailable {
			t.Fatalf("handshake %d, want 503", got)
		}
	})
}

// TestAuthorizerConnectBody sends a raw handshake with repeated and
// lower-case headers and a repeated query parameter.
func TestAuthorizerConnectBody(t *testing.T) {
	a := newAuthorizer(t, func(r *authRequest) int { return http.StatusOK })
	s := start(t, a.config(0))
	nc := plainDial(t, s)
	writePieces(t, nc, "GET /ws?a=1&a=2&b=x HTTP/1.1\r\nHost: wsify.test\r\nupgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"+
		"x-custom-thing: one\r\nX-CUSTOM-THING: two\r\n\r\n", nil)
	if resp := readResponse(t, nc, http.MethodGet); resp.status != http.StatusSwitchingProtocols {
		t.Fatalf("handshake %d %s", resp.status, resp.body)
	}
	bodies := a.seen()
	if len(bodies) != 1 {
		t.Fatalf("authorizer got %d requests, want 1: %q", len(bodies), bodies)
	}
	var got struct {
		Command string
		Args    struct{ Headers, Query map[string][]string }
	}
	if err := json.Unmarshal([]byte(bodies[0]), &got); err != nil {
		t.Fatalf("connect body %s: %v", bodies[0], err)
	}
	if got.Command != "connect" {
		t.Errorf("command %q, want connect", got.Command)
	}
	for name, want := range map[string][]string{
		"X-Custom-Thing": {"one", "two"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
	} {
		if v := got.Args.Headers[name]; !reflect.DeepEqual(v, want) {
			t.Errorf("header %s = %q, want %q (body %s)", name, v, want, bodies[0])
		}
	}
	if want := map[string][]string{"a": {"1", "2"}, "b": {"x"}}; !reflect.DeepEqual(got.Args.Query, want) {
		t.Errorf("query %v, want %v", got.Args.Query, want)
	}
}

func TestAuthorizerCommandVerdicts(t *testing.T) {
	a := newAuthorizer(t, allowConnect(func(r *authRequest) int {
		switch r.channel() {
		case "secret":
			return http.StatusForbidden
		case "broken":
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}))
	s := start(t, a.config(0))
	c := dial(t, s)
	joinSync(t, c, "open")
	send(t, c, `{"command":"join","args":{"channel":"secret"},"id":"s"}`)
	got := recv(t, c)
	if code := errorCode(t, got); code != "not_authorized" || !strings.HasPrefix(got, `{"id":"s",`) {
		t.Fatalf("denied command: got %s", got)
	}
	send(t, c, `{"command":"broadcast","args":{"channel":"open","content":"still here"}}`)
	expect(t, c, `{"channel":"open","content":"still here"}`)
	send(t, c, `{"command":"broadcast","args":{"channel":"secret","content":1},"id":2}`)
	expect(t, c, `{"id":2,"error":{"code":"not_authorized","message":"the authorizer refused this command"}}`)
	send(t, c, `{"command":"join","args":{"channel":"broken"},"id":3}`)
	expectClose(t, c, websocket.CloseTryAgainLater)
}

func TestAuthorizerCommandTimeoutCloses1013(t *testing.T) {
	a := newAuthorizer(t, allowConnect(func(r *authRequest) int {
		r.wait(nil)
		return http.StatusOK
	}))
	s := start(t, a.config(200*time.Millisecond))
	c := dial(t, s)
	send(t, c, `{"command":"join","args":{"channel":"n"},"id":1}`)
	expectClose(t, c, websocket.CloseTryAgainLater)
}

func TestAuthorizerGoneAfterConnectCloses1013(t *testing.T) {
	a := newAuthorizer(t, func(r *authRequest) int { return http.StatusOK })
	s := start(t, a.config(200*time.Millisecond))
	c := dial(t, s)
	joinSync(t, c, "n")
	a.close()
	send(t, c, `{"command":"join","args":{"channel":"m"},"id":1}`)
	expectClose(t, c, websocket.CloseTryAgainLater)
}

// TestAuthorizerCommandBody checks that the authorizer gets the command as
// the server built it, content and id byte for byte, with a "client"
// member unique per connection.
func TestAuthorizerCommandBody(t *testing.T) {
	a := newAuthorizer(t, func(r *authRequest) int { return http.StatusOK })
	s := start(t, a.config(0))
	ids := map[string]bool{}
	for i, query := range []string{"a=1&a=2&b=x", ""} {
		c := mustDialQuery(t, s, query)
		sent := fmt.Sprintf(`{ "id" : %d, "command":"broadcast","args":{"channel":"n","content":{"k": [1, "\u00e9"]}} }`, i)
		send(t, c, sent)
		expect(t, c, fmt.Sprintf(`{"id":%d,"ok":true,"receivers":0}`, i))
		cmds := a.commands()
		body := cmds[len(cmds)-1]
		prefix := fmt.Sprintf(`{"command":"broadcast","args":{"channel":"n","content":{"k": [1, "\u00e9"]}},"id":%d,"client":`, i)
		if !strings.HasPrefix(body, prefix) {
			t.Fatalf("body %s\ndoes not start with %s", body, prefix)
		}
		var got struct{ Client auth.ClientInfo }
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("body %s: %v", body, err)
		}
		wantQuery, _ := url.ParseQuery(query)
		switch cl := got.Client; {
		case cl.ID == "" || ids[cl.ID]:
			t.Errorf("client id %q empty or reused (seen %v)", cl.ID, ids)
		case cl.RemoteAddr != c.LocalAddr().String():
			t.Errorf("remote_addr %q, want %q", cl.RemoteAddr, c.LocalAddr())
		case !reflect.DeepEqual(cl.Query, map[string][]string(wantQuery)):
			t.Errorf("query %v, want %v", cl.Query, wantQuery)
		}
		ids[got.Client.ID] = true
	}
}

// TestAuthorizerKeepsOrderAndServesOthers holds the first command of
// client A until client B, sent later, has been answered: B must not wait
// behind A (the held call must not block a worker: there is only one), and
// A's later commands must reach the authorizer and run only after the first.
func TestAuthorizerKeepsOrderAndServesOthers(t *testing.T) {
	release := make(chan struct{})
	var held atomic.Bool
	a := newAuthorizer(t, allowConnect(func(r *authRequest) int {
		if r.Client.Query["who"][0] == "a" && held.CompareAndSwap(false, true) {
			r.wait(release)
		}
		return http.StatusOK
	}))
	cfg := a.config(10 * time.Second)
	cfg.Workers = 1
	s := start(t, cfg)
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before the server's shutdown, which waits for the call
	ca, cb := mustDialQuery(t, s, "who=a"), mustDialQuery(t, s, "who=b")
	send(t, ca, `{"command":"join","args":{"channel":"o"},"id":1}`)
	send(t, ca, `{"command":"broadcast","args":{"channel":"o","content":"x"},"id":2}`)
	send(t, ca, `{"command":"leave","args":{"channel":"o"},"id":3}`)
	eventually(t, "A's first command at the authorizer", held.Load)
	send(t, cb, `{"command":"join","args":{"channel":"o"},"id":"b"}`)
	expect(t, cb, `{"id":"b","ok":true}`)
	if n := commandsFrom(a, "a"); n != 1 {
		t.Fatalf("authorizer saw %d commands of A while the first was held, want 1", n)
	}
	free()
	expectInOrder(t, ca, `{"id":1,"ok":true}`, `{"channel":"o","content":"x"}`, `{"id":2,"ok":true,"receivers":2}`, `{"id":3,"ok":true}`)
	expect(t, cb, `{"channel":"o","content":"x"}`)
	if got := commandIDsFrom(a, "a"); !reflect.DeepEqual(got, []string{"1", "2", "3"}) {
		t.Fatalf("authorizer saw A's commands in order %v, want [1 2 3]", got)
	}
}

func commandsFrom(a *authorizer, who string) int { return len(commandIDsFrom(a, who)) }

// commandIDsFrom lists the ids of who's commands in the order the
// authorizer got them.
func commandIDsFrom(a *authorizer, who string) []string {
	var ids []string
	for _, b := range a.commands() {
		var r authRequest
		json.Unmarshal([]byte(b), &r)
		if r.Client != nil && slices.Equal(r.Client.Query["who"], []string{who}) {
			ids = append(ids, string(r.ID))
		}
	}
	return ids
}

// expectInOrder reads len(want) messages and compares them as a sequence.
func expectInOrder(t testing.TB, c *websocket.Conn, want ...string) {
	t.Helper()
	got := make([]string, len(want))
	for i := range want {
		got[i] = recv(t, c)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// TestAuthorizerMaxConnsBoundsCallsAndServesAll has 20 clients whose
// commands the authorizer holds 200ms each, with 4 authorizer connections:
// never more than 4 calls in flight, and every client gets its reply. The
// timeout (600ms) is longer than one call but shorter than the whole queue
// (1s), so calls must wait in the server's queue, not in the HTTP client's
// connection pool, whose wait counts against the timeout.
func TestAuthorizerMaxConnsBoundsCallsAndServesAll(t *testing.T) {
	a := newAuthorizer(t, allowConnect(func(r *authRequest) int {
		time.Sleep(200 * time.Millisecond)
		return http.StatusOK
	}))
	cfg := a.config(600 * time.Millisecond)
	cfg.Auth.MaxConns = 4
	s := start(t, cfg)
	clients := make([]*websocket.Conn, 20)
	for i := range clients {
		clients[i] = dial(t, s)
	}
	for i, c := range clients {
		send(t, c, fmt.Sprintf(`{"command":"join","args":{"channel":"n"},"id":%d}`, i))
	}
	for i, c := range clients {
		expect(t, c, fmt.Sprintf(`{"id":%d,"ok":true}`, i))
	}
	if m := a.maxSeen.Load(); m > 4 {
		t.Fatalf("%d authorizer calls in flight, want at most 4", m)
	}
}
