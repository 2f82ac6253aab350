package server_test

import (
	"errors"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/server"
)

// Dead-peer tests run with a 200ms ping interval and timeout.
var pingConfig = server.Config{PingInterval: 200 * time.Millisecond, PingTimeout: 200 * time.Millisecond}

// TestSilentPeerIsDropped: a client that reads the pings but never sends a
// byte is pinged, then reset (no close frame), no sooner than interval +
// timeout after its last byte.
func TestSilentPeerIsDropped(t *testing.T) {
	s := start(t, pingConfig)
	r := rawDialTCP(t, s)
	lastByte := time.Now()
	r.write(handshakeRequest(s.Addr().String()))
	r.expectUpgrade()
	pings := 0
	for {
		f, err := r.readFrame()
		if err != nil {
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("after %d pings: %v, want the connection reset", pings, err)
			}
			break
		}
		if f.op != opPing || len(f.payload) != 0 {
			t.Fatalf("got frame op %#x %q, want only empty pings", f.op, f.payload)
		}
		pings++
	}
	if pings == 0 {
		t.Fatal("dropped without a ping")
	}
	if floor := pingConfig.PingInterval + pingConfig.PingTimeout; time.Since(lastByte) < floor {
		t.Fatalf("dropped %v after the last byte, before interval+timeout %v", time.Since(lastByte), floor)
	}
	eventually(t, "no connection left", func() bool { st := s.Stats(); return st.Open == 0 && st.Sockets == 0 })
	if got := s.LimitStats().DeadPeers; got != 1 {
		t.Fatalf("dead peers %d, want 1", got)
	}
}

// TestPongingClientStaysConnected: gorilla answers pings by itself while
// its reader runs; the client outlives several intervals and still works.
func TestPongingClientStaysConnected(t *testing.T) {
	s := start(t, pingConfig)
	c := dial(t, s)
	pings := countPings(c)
	msgs := readInBackground(c)
	eventually(t, "4 pings", func() bool { return pings.Load() >= 4 })
	send(t, c, `{"command":"join","args":{"channel":"x"},"id":1}`)
	if m := <-msgs; m != `{"id":1,"ok":true}` {
		t.Fatalf("after %d pings: %s, want the join's reply", pings.Load(), m)
	}
	if got := s.LimitStats().DeadPeers; got != 0 {
		t.Fatalf("dead peers %d, want 0", got)
	}
}

// readInBackground runs c's reader (which answers pings) and passes on
// each message, or the error that ended it.
func readInBackground(c *websocket.Conn) <-chan string {
	msgs := make(chan string, 16)
	go func() {
		for {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, p, err := c.ReadMessage()
			if err != nil {
				msgs <- "error: " + err.Error()
				return
			}
			msgs <- string(p)
		}
	}()
	return msgs
}

// TestAnyFrameAnswersAPing: a client that answers each ping with a command
// instead of a pong stays connected through several pings.
func TestAnyFrameAnswersAPing(t *testing.T) {
	s := start(t, pingConfig)
	r := rawDial(t, s)
	for range 4 {
		r.expectFrame(opPing, "")
		r.write(frame(opText, `{"command":"leave","args":{"channel":"x"}}`))
	}
	r.write(frame(opText, `{"command":"leave","args":{"channel":"x"},"id":1}`))
	r.expectText(`{"id":1,"ok":true}`)
	if got := s.LimitStats().DeadPeers; got != 0 {
		t.Fatalf("dead peers %d, want 0", got)
	}
}

// countPings answers pings as gorilla does by itself, and counts them.
func countPings(c *websocket.Conn) *atomic.Int32 {
	var pings atomic.Int32
	c.SetPingHandler(func(data string) error {
		pings.Add(1)
		return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	return &pings
}
