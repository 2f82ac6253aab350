package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/server"
)

// TestStalledClientsDoNotHoldWorkers opens more half-frame and half-handshake
// clients than there are workers; with timeouts far away, everyone else must
// still be served at once. A server that blocked a worker on a partial read
// would not answer until those timeouts.
func TestStalledClientsDoNotHoldWorkers(t *testing.T) {
	s := start(t, server.Config{Workers: 2, HandshakeTimeout: time.Minute, ReadTimeout: time.Minute})
	for range 8 {
		halfHandshake(t, s)
		halfFrame(t, s)
	}
	c, d := dial(t, s), dial(t, s)
	joinSync(t, d, "live")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20 {
			send(t, c, fmt.Sprintf(`{"command":"broadcast","args":{"channel":"live","content":%d},"id":%d}`, i, i))
			expect(t, c, fmt.Sprintf(`{"id":%d,"ok":true,"receivers":1}`, i))
			expect(t, d, fmt.Sprintf(`{"channel":"live","content":%d}`, i))
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("clients were not served while stalled clients held partial data")
	}
	postToChannel(t, s, "live", "0")
}

func halfHandshake(t testing.TB, s *server.Server) {
	plainDial(t, s).Write([]byte("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"))
}

// halfFrame upgrades, then sends a header announcing 100 bytes and only 3.
func halfFrame(t testing.TB, s *server.Server) {
	t.Helper()
	c := dial(t, s)
	c.UnderlyingConn().Write([]byte{0x81, 0x80 | 100, 1, 2, 3, 4, 'a', 'b', 'c'})
}

// TestRegistryEmptiesAfterLeaveAndDisconnect checks nothing is left behind
// by clients that leave, close, or vanish.
func TestRegistryEmptiesAfterLeaveAndDisconnect(t *testing.T) {
	s := start(t, server.Config{})
	var clients []*websocket.Conn
	for i := range 30 {
		c := dial(t, s)
		joinSync(t, c, fmt.Sprintf("room-%d", i%7))
		joinSync(t, c, "all")
		clients = append(clients, c)
	}
	eventually(t, "8 channels", func() bool { return s.Stats().Channels == 8 })
	for i, c := range clients {
		switch i % 3 {
		case 0: // leaves everything, then closes properly
			send(t, c, fmt.Sprintf(`{"command":"leave","args":{"channel":"room-%d"}}`, i%7))
			send(t, c, `{"command":"leave","args":{"channel":"all"},"id":1}`)
			expect(t, c, `{"id":1,"ok":true}`)
			c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
		case 1: // closes properly while joined
			c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
		default: // drops the TCP connection
			c.UnderlyingConn().Close()
		}
	}
	eventually(t, "empty registry", func() bool {
		st := s.Stats()
		return st.Channels == 0 && st.Open == 0 && st.Sockets == 0
	})
}

// TestShutdownClosesClientsWith1001 checks a graceful shutdown.
func TestShutdownClosesClientsWith1001(t *testing.T) {
	s := start(t, server.Config{})
	var clients []*websocket.Conn
	for range 20 {
		c := dial(t, s)
		joinSync(t, c, "x")
		clients = append(clients, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- s.Shutdown(ctx) }()
	for _, c := range clients {
		expectClose(t, c, websocket.CloseGoingAway)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if _, err := dialQuery(s, ""); err == nil {
		t.Fatal("a connection was accepted after shutdown")
	}
}
