package brokertest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// NATS is a NATS server run in-process, owned by one test.
type NATS struct {
	t    testing.TB
	port int
	srv  *server.Server // nil while stopped
}

// StartNATS starts a NATS server on a free loopback port and shuts it down
// when the test ends.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	n := &NATS{t: t, port: FreePort(t)}
	t.Cleanup(n.Stop)
	n.Start()
	return n
}

// URL is the nats:// URL of the server.
func (n *NATS) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

// Start runs the server (again) on its port and waits until it is ready.
func (n *NATS) Start() {
	n.t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: n.port, NoLog: true, NoSigs: true})
	if err != nil {
		n.t.Fatalf("nats server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		n.t.Fatalf("nats server on port %d not ready within 10s", n.port)
	}
	n.srv = srv
}

// Stop shuts the server down, closing every client connection.
func (n *NATS) Stop() {
	if n.srv == nil {
		return
	}
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
	n.srv = nil
}

// Subscribers returns the names of the client connections that hold a
// subscription on subject exactly.
func (n *NATS) Subscribers(subject string) []string {
	n.t.Helper()
	cz, err := n.srv.Connz(&server.ConnzOptions{Subscriptions: true, Limit: 1 << 16})
	if err != nil {
		n.t.Fatalf("connz: %v", err)
	}
	var names []string
	for _, c := range cz.Conns {
		if slices.Contains(c.Subs, subject) {
			names = append(names, c.Name)
		}
	}
	slices.Sort(names)
	return names
}
