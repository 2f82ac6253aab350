package server_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/server"
)

// TestShutdownDeliversWhatWasAcknowledged: a publication is acknowledged
// once it is queued for every subscriber, so a graceful shutdown must
// write every queued frame, whole, before its close 1001, even to a
// subscriber that was not reading when the shutdown began.
func TestShutdownDeliversWhatWasAcknowledged(t *testing.T) {
	s := start(t, server.Config{OutboxBytes: 16 << 20, ShutdownTimeout: 20 * time.Second})
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if err == nil {
			c.(*net.TCPConn).SetReadBuffer(64 << 10) // the kernel holds little: most stays in the outbox
		}
		return c, err
	}}
	sub, _, err := d.Dial(wsURL(s, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	joinSync(t, sub, "feed")
	const n = 8000
	pad := strings.Repeat("x", 1000)
	for i := range n {
		if _, err := s.Publish([]byte("feed"), fmt.Appendf(nil, `"%d %s"`, i, pad)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	for i := range n {
		sub.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, msg, err := sub.ReadMessage()
		if err != nil {
			t.Fatalf("publication %d of %d: %v", i, n, err)
		}
		if want := fmt.Sprintf(`{"channel":"feed","content":"%d %s"}`, i, pad); string(msg) != want {
			t.Fatalf("publication %d: got %.40q", i, msg)
		}
	}
	if _, _, err := sub.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("after the publications: %v, want close 1001", err)
	}
	sub.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
