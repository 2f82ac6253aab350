package main

import (
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestIdleConnectionsCostOneFDAndNoGoroutine holds thousands of joined idle
// connections on the real binary: the server's goroutine count must stay
// flat and each connection must cost exactly one fd.
func TestIdleConnectionsCostOneFDAndNoGoroutine(t *testing.T) {
	n := startNode(t)
	count := idleCount(t)
	fds0, g0 := n.settledFDs(t), n.stats(t)["goroutines"]
	clients := dialMany(t, n, count)
	fds1, st := n.settledFDs(t), n.stats(t)
	if st["connections"] != float64(count) || st["channels"] != 10 {
		t.Fatalf("stats %v, want %d connections in 10 channels", st, count)
	}
	if fds1-fds0 != count {
		t.Errorf("%d connections cost %d fds, want exactly one each", count, fds1-fds0)
	}
	if grew := st["goroutines"] - g0; grew > 4 {
		t.Errorf("goroutines grew by %v for %d connections", grew, count)
	}
	t.Logf("%d idle joined connections: fds %d -> %d, goroutines %v -> %v", count, fds0, fds1, g0, st["goroutines"])
	_ = clients
}

// idleCount is 2,000 connections, or fewer when this process cannot open
// that many fds.
func idleCount(t testing.TB) int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	n := min(2000, int(lim.Cur)-200)
	if n < 2000 {
		t.Logf("fd limit %d: testing %d connections", lim.Cur, n)
	}
	return n
}

// dialMany opens count connections, each joined to one of 10 channels.
func dialMany(t testing.TB, n *node, count int) []*websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, NetDial: (&net.Dialer{}).Dial}
	var out []*websocket.Conn
	for i := range count {
		c, _, err := d.Dial("ws://"+n.addr+"/ws", nil)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
		msg := fmt.Sprintf(`{"command":"join","args":{"channel":"c%d"},"id":1}`, i%10)
		c.WriteMessage(websocket.TextMessage, []byte(msg))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, p, err := c.ReadMessage(); err != nil || string(p) != `{"id":1,"ok":true}` {
			t.Fatalf("join %d: %s %v", i, p, err)
		}
		out = append(out, c)
	}
	return out
}

// closeCode reads until the server closes and returns its close code.
func closeCode(c *websocket.Conn) int {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if ce, ok := err.(*websocket.CloseError); ok {
			return ce.Code
		}
		if err != nil {
			return -1
		}
	}
}
