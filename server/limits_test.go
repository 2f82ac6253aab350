package server_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/server"
)

// TestMaxConnectionsAnswers503 fills the cap with two upgraded clients and
// one half-sent handshake: the next upgrade gets 503 at once, the upgraded
// clients and plain HTTP keep working, and freeing a place lets a new
// client in.
func TestMaxConnectionsAnswers503(t *testing.T) {
	s := start(t, server.Config{MaxConnections: 3})
	a, b := dial(t, s), dial(t, s)
	half := plainDial(t, s)
	half.Write([]byte("GET /ws HTTP/1.1\r\nHost: x\r\n"))
	eventually(t, "3 sockets held", func() bool { return s.Stats().Sockets == 3 })
	expectRefused(t, s, nil, http.StatusServiceUnavailable)
	expectRefused(t, s, nil, http.StatusServiceUnavailable)

	joinSync(t, b, "room")
	send(t, a, `{"command":"broadcast","args":{"channel":"room","content":1}}`)
	expect(t, b, `{"channel":"room","content":1}`)
	postToChannel(t, s, "room", "2") // on a full server
	expect(t, b, `{"channel":"room","content":2}`)

	half.Close()
	c := dialWhenFree(t, s)
	expectRefused(t, s, nil, http.StatusServiceUnavailable)
	a.Close()
	dialWhenFree(t, s)
	joinSync(t, c, "room")
	if got := s.LimitStats().OverCapacity; got < 3 {
		t.Fatalf("over capacity count %d, want at least 3", got)
	}
}

// expectRefused dials with header and checks the handshake fails with want.
func expectRefused(t testing.TB, s *server.Server, header http.Header, want int) {
	t.Helper()
	c, err := dialWithHeader(s, header)
	if err == nil {
		c.Close()
		t.Fatalf("handshake with %v succeeded, want %d", header, want)
	}
	if statusOf(err) != want {
		t.Fatalf("handshake with %v: %v, want status %d", header, err, want)
	}
}

// dialWhenFree dials until the server has a place again; only 503 may
// come meanwhile.
func dialWhenFree(t testing.TB, s *server.Server) *websocket.Conn {
	t.Helper()
	var c *websocket.Conn
	eventually(t, "a free place", func() bool {
		var err error
		c, err = dialQuery(s, "")
		if err != nil && statusOf(err) != http.StatusServiceUnavailable {
			t.Fatalf("dial: %v, want success or 503", err)
		}
		return err == nil
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestMaxChannelsPerConnection refuses a join past the limit with
// too_many_channels and no subscription, while rejoining a joined channel
// and joining after a leave still work.
func TestMaxChannelsPerConnection(t *testing.T) {
	s := start(t, server.Config{MaxChannels: 2})
	c := dial(t, s)
	joinSync(t, c, "a")
	joinSync(t, c, "b")
	send(t, c, `{"command":"join","args":{"channel":"c"},"id":"x"}`)
	reply := recv(t, c)
	if code := errorCode(t, reply); code != "too_many_channels" || !strings.Contains(reply, `"id":"x"`) {
		t.Fatalf("join over the limit: %s", reply)
	}
	postToChannel(t, s, "c", "1")
	postToChannel(t, s, "a", "2")
	expect(t, c, `{"channel":"a","content":2}`) // nothing from c came first
	joinSync(t, c, "a")
	send(t, c, `{"command":"leave","args":{"channel":"a"},"id":"l"}`)
	expect(t, c, `{"id":"l","ok":true}`)
	joinSync(t, c, "c")
	postToChannel(t, s, "c", "3")
	expect(t, c, `{"channel":"c","content":3}`)
	if got := s.LimitStats().TooManyChannels; got != 1 {
		t.Fatalf("too_many_channels count %d, want 1", got)
	}
}

// TestAllowedOrigins lets in the listed origins, compared as scheme, host
// and port without regard to case or an explicit default port, and clients
// without an Origin header; any other origin gets 403.
func TestAllowedOrigins(t *testing.T) {
	s := start(t, server.Config{AllowedOrigins: []string{"https://Example.com", "http://localhost:8080"}})
	for _, origin := range []string{"", "https://example.com", "HTTPS://EXAMPLE.COM:443", "https://example.com/", "http://localhost:8080"} {
		c, err := dialWithHeader(s, originHeader(origin))
		if err != nil {
			t.Fatalf("origin %q: %v, want it allowed", origin, err)
		}
		c.Close()
	}
	for _, origin := range []string{"https://evil.com", "http://example.com", "https://example.com:8443",
		"https://example.com.evil.com", "http://localhost", "null", "example.com"} {
		expectRefused(t, s, originHeader(origin), http.StatusForbidden)
	}
	if code := rawHandshakeStatus(t, s, "Origin: https://example.com", "Origin: https://evil.com"); code != 403 {
		t.Fatalf("two Origin headers, one foreign: %d, want 403", code)
	}
	open := start(t, server.Config{})
	c, err := dialWithHeader(open, originHeader("https://evil.com"))
	if err != nil {
		t.Fatalf("no allowed origins configured: %v, want every origin allowed", err)
	}
	c.Close()
}

func originHeader(origin string) http.Header {
	if origin == "" {
		return nil
	}
	return http.Header{"Origin": {origin}}
}

// rawHandshakeStatus sends an upgrade request with extra header lines and
// returns the response status.
func rawHandshakeStatus(t testing.TB, s *server.Server, extra ...string) int {
	t.Helper()
	nc := plainDial(t, s)
	writePieces(t, nc, string(handshakeRequest(s.Addr().String(), extra...)), nil)
	return readResponse(t, nc, http.MethodGet).status
}

// TestTCPKeepAlive reads the server side of a connection in /proc/net/tcp:
// with keep-alive its keep-alive timer (timer kind 2) runs and expires
// within the configured period; without, no timer runs.
func TestTCPKeepAlive(t *testing.T) {
	on := start(t, server.Config{TCPKeepAlive: 7 * time.Second})
	kind, ticks := serverSocketTimer(t, on, dial(t, on))
	if kind != 2 || ticks <= 0 || ticks > 700 {
		t.Fatalf("keep-alive 7s: timer kind %d expiring in %d ticks, want kind 2 within 700", kind, ticks)
	}
	off := start(t, server.Config{TCPKeepAlive: -1})
	if kind, _ := serverSocketTimer(t, off, dial(t, off)); kind != 0 {
		t.Fatalf("keep-alive off: timer kind %d, want none", kind)
	}
}

// serverSocketTimer finds the server's end of c in /proc/net/tcp or tcp6
// (the listener may be an IPv6 socket with a mapped address) and
// returns its timer kind and the clock ticks (1/100 s) until it fires. The
// file is not a snapshot (lines of a changing table can be skipped), so it
// is read until the line turns up.
func serverSocketTimer(t testing.TB, s *server.Server, c *websocket.Conn) (kind int, ticks int64) {
	t.Helper()
	local := fmt.Sprintf(":%04X", s.Addr().Port())
	remote := fmt.Sprintf(":%04X", c.LocalAddr().(*net.TCPAddr).Port)
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skipf("no /proc/net/tcp: %v", err)
	}
	eventually(t, "the server socket in /proc/net/tcp", func() bool {
		v4, _ := os.ReadFile("/proc/net/tcp")
		v6, _ := os.ReadFile("/proc/net/tcp6")
		data := append(v4, v6...)
		for line := range strings.Lines(string(data)) {
			f := strings.Fields(line)
			if len(f) > 5 && strings.HasSuffix(f[1], local) && strings.HasSuffix(f[2], remote) {
				k, when, _ := strings.Cut(f[5], ":")
				kind, _ = strconv.Atoi(k)
				ticks, _ = strconv.ParseInt(when, 16, 64)
				return true
			}
		}
		return false
	})
	return kind, ticks
}
