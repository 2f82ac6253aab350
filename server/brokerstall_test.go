package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/internal/brokertest"
	"github.com/wsify/wsify/server"
)

// stuckRedisNode starts a node on a Redis of its own, with a client
// joined to room and the publications' pooled connection warmed, as in
// steady use.
func stuckRedisNode(t *testing.T, timeout time.Duration) (*brokertest.Redis, *server.Server, *peer) {
	r := brokertest.StartRedis(t)
	cfg := fastReconnect(broker.Config{Driver: "redis", URL: r.URL(), Timeout: timeout})
	s := start(t, server.Config{Broker: cfg, Workers: 2})
	waitHealth(t, s, http.StatusOK)
	b := dialPeer(t, s)
	b.join(t, "room")
	postToChannel(t, s, "room", "0")
	b.expect(t, `{"channel":"room","content":0}`)
	return r, s, b
}

// TestStuckRedisHoldsOnlyItsBroadcasters: with Redis stopped (SIGSTOP),
// broadcasts from two clients, as many as the node has workers, wait for
// the broker and fail with unconfirmed after its timeout, each before its
// sender's next command; meanwhile another client's commands are answered
// at once. Before, the two broadcasts held both workers and froze every
// connection for the whole timeout. (The commands are joins of channels
// the node is subscribed to already: a join of a channel new to the node
// waits for the broker to confirm the subscription, see joinconfirm.go.)
func TestStuckRedisHoldsOnlyItsBroadcasters(t *testing.T) {
	const timeout = 2 * time.Second // the default, as in production
	r, s, b := stuckRedisNode(t, timeout)
	a1, a2 := dialPeer(t, s), dialPeer(t, s)
	keeper := dialPeer(t, s)
	for i := range 3 {
		keeper.join(t, fmt.Sprintf("other%d", i))
	}
	r.Pause()
	for _, a := range []*peer{a1, a2} {
		a.send(t, `{"command":"broadcast","args":{"channel":"room","content":"stuck"},"id":"b"}`)
		a.send(t, `{"command":"join","args":{"channel":"after"},"id":"j"}`)
	}
	time.Sleep(100 * time.Millisecond) // both broadcasts now wait on Redis
	for i := range 3 {
		began := time.Now()
		b.send(t, fmt.Sprintf(`{"command":"join","args":{"channel":"other%d"},"id":%d}`, i, i))
		b.expect(t, fmt.Sprintf(`{"id":%d,"ok":true}`, i))
		if took := time.Since(began); took > 300*time.Millisecond {
			t.Fatalf("join %d answered after %v while Redis is stuck; want well under the broker timeout %v", i, took, timeout)
		}
	}
	for _, a := range []*peer{a1, a2} {
		if got := a.next(t); errorCode(t, got) != "unconfirmed" || !strings.HasPrefix(got, `{"id":"b",`) {
			t.Fatalf("broadcast while Redis is stuck: %s", got)
		}
		a.expect(t, `{"id":"j","ok":true}`)
	}
	quiet(t, b) // the broker did not confirm it: no local delivery

	r.Resume()
	a1.send(t, `{"command":"broadcast","args":{"channel":"room","content":"back"},"id":"b"}`)
	a1.expect(t, `{"id":"b","ok":true}`)
	b.expect(t, `{"channel":"room","content":"back"}`)
}

// TestUnansweredPublicationsTakeTheBrokerDown: three broadcasts in a row
// that Redis leaves unanswered (each answered unconfirmed: Redis may run
// them when it wakes) mark the broker down at once (healthz, metrics);
// later broadcasts fail as unavailable without waiting, and all is well
// again once Redis answers.
func TestUnansweredPublicationsTakeTheBrokerDown(t *testing.T) {
	const timeout = 300 * time.Millisecond
	r, s, b := stuckRedisNode(t, timeout)
	r.Pause()
	for i := range 3 {
		b.send(t, fmt.Sprintf(`{"command":"broadcast","args":{"channel":"room","content":0},"id":%d}`, i))
		if got := b.next(t); errorCode(t, got) != "unconfirmed" {
			t.Fatalf("broadcast %d while Redis is stuck: %s", i, got)
		}
	}
	waitHealth(t, s, http.StatusServiceUnavailable)
	// The public /healthz gives no reason; the operator's /stats does.
	if reason := s.Stats().Broker.Reason; !strings.Contains(reason, "3 publications in a row unanswered") {
		t.Fatalf("broker down for %q", reason)
	}
	if m := scrape(t, httpURL(s, "/metrics")); m["wsify_broker_up"] != 0 {
		t.Fatalf("wsify_broker_up = %v while Redis is stuck", m["wsify_broker_up"])
	}
	began := time.Now()
	b.send(t, `{"command":"broadcast","args":{"channel":"room","content":0},"id":"down"}`)
	if got, took := b.next(t), time.Since(began); errorCode(t, got) != "unavailable" || took > timeout/2 {
		t.Fatalf("broadcast while down: %s after %v; want unavailable at once", got, took)
	}

	r.Resume()
	waitHealth(t, s, http.StatusOK)
	b.send(t, `{"command":"broadcast","args":{"channel":"room","content":"back"},"id":"b"}`)
	b.expect(t, `{"channel":"room","content":"back"}`)
	b.expect(t, `{"id":"b","ok":true}`)
}
