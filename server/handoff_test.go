package server_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/server"
)

// takeOver starts a server that takes old's sockets over on path and
// waits until old has handed everything over.
func takeOver(t testing.TB, old *server.Server, path string, cfg server.Config) *server.Server {
	t.Helper()
	cfg.TakeoverFrom, cfg.ControlSocket = path, path
	s := start(t, cfg)
	select {
	case <-old.HandedOver():
	case <-time.After(30 * time.Second):
		t.Fatal("the old server did not finish the handoff")
	}
	return s
}

func controlPath(t testing.TB) string { return filepath.Join(t.TempDir(), "control.sock") }

// TestHandoffKeepsConnections: a new server takes the listener and joined
// connections of a running one; the clients stay connected, keep their
// channels, and get publications made on the new one.
func TestHandoffKeepsConnections(t *testing.T) {
	path := controlPath(t)
	old := start(t, server.Config{ControlSocket: path})
	clients := make([]*websocket.Conn, 20)
	for i := range clients {
		clients[i] = dial(t, old)
		joinSync(t, clients[i], "a")
	}
	nu := takeOver(t, old, path, server.Config{})
	if nu.Addr() != old.Addr() {
		t.Fatalf("the new server listens on %v, the old one did on %v", nu.Addr(), old.Addr())
	}
	postToChannel(t, nu, "a", `"after"`)
	for _, c := range clients {
		expect(t, c, `{"channel":"a","content":"after"}`)
	}
	send(t, clients[0], `{"command":"broadcast","args":{"channel":"a","content":1},"id":"b"}`)
	for _, c := range clients {
		expect(t, c, `{"channel":"a","content":1}`)
	}
	expect(t, clients[0], `{"id":"b","ok":true}`)
	fresh := dial(t, nu)
	joinSync(t, fresh, "a")
}
