package server_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/server"
)

func TestClusterRedis(t *testing.T) { testCluster(t, redisCluster(t)) }
func TestClusterNATS(t *testing.T)  { testCluster(t, natsCluster(t)) }

// TestClusterMemory runs the same scenario on an in-process bus: it checks
// the server's wiring without a network.
func TestClusterMemory(t *testing.T) {
	testCluster(t, cluster{cfg: broker.Config{URL: "memory://" + t.Name()}})
}

func TestBrokerOutageRedis(t *testing.T) { testOutage(t, redisCluster(t)) }
func TestBrokerOutageNATS(t *testing.T)  { testOutage(t, natsCluster(t)) }

// testCluster: three nodes, clients on each, joins and leaves on different
// nodes. A broadcast from a client on A and a POST /broadcast on B each
// reach every subscriber exactly once, and a node holds the broker
// subscription of a channel exactly while it has local subscribers.
func testCluster(t *testing.T, c cluster) {
	nodes := startNodes(t, 3, c.cfg)
	A, B, C := nodes[0], nodes[1], nodes[2]
	a1, a2, b1, c1, c2 := dialPeer(t, A), dialPeer(t, A), dialPeer(t, B), dialPeer(t, C), dialPeer(t, C)
	for _, p := range []*peer{a1, a2, b1, c1} {
		p.join(t, "room")
	}
	c2.join(t, "other")
	waitSubscribers(t, c, "room", A, B, C)

	a1.send(t, `{"command":"broadcast","args":{"channel":"room","content":{"n":1}}}`)
	expectAll(t, `{"channel":"room","content":{"n":1}}`, a1, a2, b1, c1)
	postToChannel(t, B, "room", `"two"`)
	expectAll(t, `{"channel":"room","content":"two"}`, a1, a2, b1, c1)
	quiet(t, a1, a2, b1, c1, c2)

	c1.leave(t, "room") // C's last subscriber of room
	a2.Close()          // A keeps a1
	waitSubscribers(t, c, "room", A, B)
	postToChannel(t, C, "room", "3")
	expectAll(t, `{"channel":"room","content":3}`, a1, b1)
	quiet(t, a1, b1, c1, c2)

	b1.leave(t, "room")
	c1.join(t, "room")
	waitSubscribers(t, c, "room", A, C)
	b1.send(t, `{"command":"broadcast","args":{"channel":"room","content":4},"id":9}`)
	b1.expect(t, `{"id":9,"ok":true,"receivers":0}`) // this node's: b1 left, the receivers are on A and C
	expectAll(t, `{"channel":"room","content":4}`, a1, c1)
	quiet(t, a1, b1, c1, c2)
}

// testOutage: the broker goes away under connected clients. No client is
// dropped; /healthz, POST /broadcast and the broadcast command say the
// service is unavailable; each node logs it once. When the broker is back,
// delivery resumes to every subscriber without any client joining again.
func testOutage(t *testing.T, c cluster) {
	logs := &logRecorder{}
	A := start(t, server.Config{Broker: c.cfg, Logger: slog.New(logs)})
	nodes := append([]*server.Server{A}, startNodes(t, 2, c.cfg)...)
	waitHealth(t, A, http.StatusOK)
	var clients []*peer
	for _, s := range nodes {
		for range 2 {
			p := dialPeer(t, s)
			p.join(t, "room")
			clients = append(clients, p)
		}
	}
	waitSubscribers(t, c, "room", nodes...)

	c.stop()
	for _, s := range nodes {
		body := waitHealth(t, s, http.StatusServiceUnavailable)
		if !strings.Contains(body, `"reason":"broker down"`) {
			t.Fatalf("healthz while down: %s", body)
		}
		if m := scrape(t, httpURL(s, "/metrics")); m["wsify_broker_up"] != 0 {
			t.Fatalf("wsify_broker_up = %v while the broker is down", m["wsify_broker_up"])
		}
		if _, body := get(t, httpURL(s, "/stats")); !strings.Contains(body, `"broker_up":false`) {
			t.Fatalf("/stats while down: %s", body)
		}
	}
	code, body := post(t, httpURL(A, "/broadcast"), "application/json", `{"channel":"room","content":0}`)
	if code != http.StatusServiceUnavailable || errorCode(t, body) != "unavailable" {
		t.Fatalf("POST /broadcast while down: %d %s", code, body)
	}
	clients[2].send(t, `{"command":"broadcast","args":{"channel":"room","content":0},"id":1}`)
	if got := clients[2].next(t); errorCode(t, got) != "unavailable" || !strings.HasPrefix(got, `{"id":1,`) {
		t.Fatalf("broadcast command while down: %s", got)
	}
	for _, s := range nodes {
		if open := s.Stats().Open; open != 2 {
			t.Fatalf("a node lost clients while the broker was down: %d open", open)
		}
	}

	c.start()
	for _, s := range nodes {
		waitHealth(t, s, http.StatusOK)
		if m := scrape(t, httpURL(s, "/metrics")); m["wsify_broker_up"] != 1 {
			t.Fatalf("wsify_broker_up = %v after the broker came back", m["wsify_broker_up"])
		}
	}
	postToChannel(t, A, "room", `"back"`)
	expectAll(t, `{"channel":"room","content":"back"}`, clients...)
	clients[3].send(t, `{"command":"broadcast","args":{"channel":"room","content":"again"}}`)
	expectAll(t, `{"channel":"room","content":"again"}`, clients...)
	quiet(t, clients...)
	if down, up := logs.count("WARN broker down"), logs.count("INFO broker up"); down != 1 || up != 2 {
		t.Fatalf("want one log line for down and one per up (start, recovery); got %d down, %d up:\n%s",
			down, up, strings.Join(logs.msgs, "\n"))
	}
}
