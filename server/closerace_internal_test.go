package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"

	"github.com/wsify/wsify/internal/testutil"
)

// TestCloseDuringABlockedWriteReleases replays, step by step, a close that
// lands while another worker's writev is under way and then comes back
// EAGAIN: the writer role is taken with a frame queued, the handler closes,
// then the writer accounts for a writev that wrote nothing and would block.
// The connection must still send what it kept and its close frame, and
// give its fd back; before, nobody released it.
func TestCloseDuringABlockedWriteReleases(t *testing.T) {
	s, ws, c := oneClient(t)

	frame := []byte{0x81, 2, 'h', 'i'}
	c.mu.Lock()
	c.writing = true // another worker is in its writev
	c.mu.Unlock()
	if c.enqueue(frame) {
		t.Fatal("enqueue asked for a flush while a writer works")
	}
	c.requestClose(discShutdown) // the handler closes meanwhile
	testutil.Eventually(t, "the close", c.isClosed)
	c.mu.Lock()
	if !c.wroteLocked(0, unix.EAGAIN) { // the writev comes back: nothing written, would block
		c.mu.Unlock()
	}

	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, msg, err := ws.ReadMessage(); err != nil || string(msg) != "hi" {
		t.Fatalf("read %q, %v: want the frame queued before the close", msg, err)
	}
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("read %v: want close 1001", err)
	}
	ws.Close()
	testutil.Eventually(t, "the connection released", func() bool { return s.conns.len() == 0 })
}

// oneClient starts a server with one gorilla client connected, and returns
// the server's side of it; both end with the test.
func oneClient(t *testing.T) (*Server, *websocket.Conn, *conn) {
	t.Helper()
	s, err := New(Config{Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil {
		err = s.Start()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	u := url.URL{Scheme: "ws", Host: s.Addr().String(), Path: "/ws"}
	ws, _, err := websocket.DefaultDialer.Dial(u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return s, ws, onlyConn(t, s)
}

// onlyConn returns the one connection s holds, once it is upgraded.
func onlyConn(t *testing.T, s *Server) *conn {
	t.Helper()
	var c *conn
	testutil.Eventually(t, "the connection upgraded", func() bool {
		s.conns.each(func(x *conn) { c = x })
		return c != nil && s.stats.open.Load() == 1
	})
	return c
}

// TestRearmRefusedClosesAndCounts: when the poller refuses to watch a
// connection again, it would never wake: it is counted and closed, and its
// fd given back.
func TestRearmRefusedClosesAndCounts(t *testing.T) {
	s, ws, c := oneClient(t)
	testutil.Eventually(t, "the handler idle", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return !c.running
	})
	s.poller.Remove(c.fd) // the poller forgets the socket behind the server's back
	c.mu.Lock()
	c.settleLocked() // as the handler does when it goes idle: the re-arm fails
	c.mu.Unlock()
	testutil.Eventually(t, "the connection released", func() bool { return s.conns.len() == 0 })
	if n := s.Stats().PollerErrors; n != 1 {
		t.Fatalf("%d poller errors counted, want 1", n)
	}
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := ws.ReadMessage(); err == nil {
		t.Fatal("the client can still read")
	}
}

// TestListenerNotWatchedAgainIsRetried: when the poller refuses the
// listener after an accept pause, the node would silently stop accepting:
// it is logged, counted and tried again.
func TestListenerNotWatchedAgainIsRetried(t *testing.T) {
	s, _, _ := oneClient(t)
	s.resumeAccepts() // the listener is watched already: the poller refuses it
	if n := s.stats.pollerErrors.Load(); n != 1 {
		t.Fatalf("%d poller errors counted, want 1", n)
	}
	s.poller.Remove(s.lfd) // now nothing accepts, but for the retry scheduled above
	testutil.Eventually(t, "accepting again", func() bool {
		nc, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			return false
		}
		defer nc.Close()
		nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		nc.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
		buf := make([]byte, 12)
		n, _ := nc.Read(buf)
		return n >= 12 && string(buf[:12]) == "HTTP/1.1 200"
	})
}
