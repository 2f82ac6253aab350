package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/internal/brokertest"
	"github.com/wsify/wsify/server"
)

// cluster is a broker under test and how to look into it.
type cluster struct {
	cfg         broker.Config
	stop, start func() // stop and restart the broker on the same port
	// subscribers returns the node ids holding a broker subscription on
	// channel, or only their count (ids nil) when the broker cannot tell
	// which nodes they are.
	subscribers func(channel string) (n int, ids []string)
}

// fastReconnect keeps fault tests short: the first retry comes within
// 20ms and none waits more than 200ms.
func fastReconnect(c broker.Config) broker.Config {
	c.MinBackoff, c.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	return c
}

func redisCluster(t *testing.T) cluster {
	r := brokertest.StartRedis(t)
	return cluster{
		cfg:  fastReconnect(broker.Config{Driver: "redis", URL: r.URL()}),
		stop: r.Stop, start: r.Start,
		subscribers: func(ch string) (int, []string) { return r.NumSub("wsify:" + ch), nil },
	}
}

func natsCluster(t *testing.T) cluster {
	n := brokertest.StartNATS(t)
	return cluster{
		cfg:  fastReconnect(broker.Config{Driver: "nats", URL: n.URL()}),
		stop: n.Stop, start: n.Start,
		subscribers: func(ch string) (int, []string) {
			var ids []string
			for _, name := range n.Subscribers("wsify.c." + ch) {
				ids = append(ids, strings.TrimPrefix(name, "wsify-"))
			}
			return len(ids), ids
		},
	}
}

// startNodes starts k servers sharing the broker and waits until each
// reports healthy.
func startNodes(t *testing.T, k int, b broker.Config) []*server.Server {
	t.Helper()
	return startNodesWith(t, k, server.Config{Broker: b})
}

// startNodesWith starts k nodes of cfg and waits until each is healthy.
func startNodesWith(t *testing.T, k int, cfg server.Config) []*server.Server {
	t.Helper()
	nodes := make([]*server.Server, k)
	for i := range nodes {
		nodes[i] = start(t, cfg)
	}
	for _, s := range nodes {
		waitHealth(t, s, http.StatusOK)
	}
	return nodes
}

func waitHealth(t testing.TB, s *server.Server, status int) string {
	t.Helper()
	var body string
	eventually(t, "healthz "+http.StatusText(status), func() bool {
		var got int
		got, body = get(t, httpURL(s, "/healthz"))
		return got == status
	})
	return body
}

// waitSubscribers waits until exactly the nodes given hold a broker
// subscription on channel (by count when the broker cannot name them).
func waitSubscribers(t testing.TB, c cluster, channel string, nodes ...*server.Server) {
	t.Helper()
	if c.subscribers == nil {
		return
	}
	want := nodeIDs(nodes)
	eventually(t, "broker subscriptions on "+channel+" of nodes "+strings.Join(want, ","), func() bool {
		n, ids := c.subscribers(channel)
		return n == len(want) && (ids == nil || sameSet(ids, want))
	})
}

func nodeIDs(nodes []*server.Server) []string {
	var ids []string
	for _, s := range nodes {
		ids = append(ids, s.BrokerStats().Node)
	}
	return ids
}

func sameSet(a, b []string) bool {
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		seen[x]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

// peer is a client whose messages a goroutine reads as they come, so a
// test can check for silence without breaking the connection (gorilla
// gives up on a connection after a read deadline passes).
type peer struct {
	*websocket.Conn
	in chan string // messages in arrival order; closed when the connection ends
}

func dialPeer(t testing.TB, s *server.Server) *peer {
	t.Helper()
	p := &peer{Conn: dial(t, s), in: make(chan string, 256)}
	go func() {
		defer close(p.in)
		for {
			_, m, err := p.ReadMessage()
			if err != nil {
				return
			}
			p.in <- string(m)
		}
	}()
	return p
}

func (p *peer) expect(t testing.TB, want string) {
	t.Helper()
	if got := p.await(t, "; want "+want); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func (p *peer) next(t testing.TB) string {
	t.Helper()
	return p.await(t, "")
}

// await returns the next message within 5s; awaited ends the failure
// messages.
func (p *peer) await(t testing.TB, awaited string) string {
	t.Helper()
	select {
	case got, ok := <-p.in:
		if !ok {
			t.Fatalf("connection %s ended%s", p.LocalAddr(), awaited)
		}
		return got
	case <-time.After(5 * time.Second):
		t.Fatalf("nothing within 5s%s", awaited)
	}
	return ""
}

func (p *peer) send(t testing.TB, msg string) { t.Helper(); send(t, p.Conn, msg) }

func (p *peer) join(t testing.TB, channel string) {
	t.Helper()
	p.send(t, `{"command":"join","args":{"channel":"`+channel+`"},"id":"j"}`)
	p.expect(t, `{"id":"j","ok":true}`)
}

func (p *peer) leave(t testing.TB, channel string) {
	t.Helper()
	p.send(t, `{"command":"leave","args":{"channel":"`+channel+`"},"id":"l"}`)
	p.expect(t, `{"id":"l","ok":true}`)
}

// expectAll checks that each peer's next message is want.
func expectAll(t testing.TB, want string, peers ...*peer) {
	t.Helper()
	for _, p := range peers {
		p.expect(t, want)
	}
}

// quiet checks that none of the peers gets anything more, and none is
// dropped, during one shared short period: no duplicate, no stray delivery.
// Absence can only be shown by waiting; the period is short and shared.
func quiet(t testing.TB, peers ...*peer) {
	t.Helper()
	time.Sleep(150 * time.Millisecond)
	for _, p := range peers {
		select {
		case m, ok := <-p.in:
			if !ok {
				t.Fatalf("connection %s ended", p.LocalAddr())
			}
			t.Fatalf("unexpected message %s", m)
		default:
		}
	}
}

// logRecorder keeps the messages a server logs at info and above.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string // "LEVEL message"; guarded by mu
}

func (r *logRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler           { return r }
func (r *logRecorder) WithGroup(string) slog.Handler                { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Level.String()+" "+rec.Message)
	return nil
}

// count returns how many messages start with prefix.
func (r *logRecorder) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}
