package server_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/internal/brokertest"
	"github.com/wsify/wsify/server"
)

// TestAJoinAnsweredIsSubscribedEverywhereOnACluster is
// TestAJoinAnsweredIsSubscribedEverywhere on a real Redis Cluster (3
// masters, 3 replicas) and three nodes: node A reaches every cluster node
// through a link 5 ms slow each way, B and C directly. Each round joins on
// A a channel new to A (the rounds' channels fall on every shard) and, the
// moment the answer arrives, POSTs to B: the publication always arrives,
// because A answered only once its shard's master confirmed the SSUBSCRIBE.
func TestAJoinAnsweredIsSubscribedEverywhereOnACluster(t *testing.T) {
	const rounds = 1000
	c, _ := shardedCluster(t)
	slow := c.cfg
	slow.Dial = brokertest.SlowDial(t, 5*time.Millisecond, func(string) bool { return true })
	var nodes []*server.Server
	for _, b := range []broker.Config{slow, c.cfg, c.cfg} { // no join rate limit: the test joins and leaves flat out
		nodes = append(nodes, start(t, server.Config{Broker: b, JoinRateLimit: -1}))
	}
	for _, s := range nodes {
		waitHealth(t, s, http.StatusOK)
	}
	a, b := dialPeer(t, nodes[0]), nodes[1]
	for i := range rounds {
		ch := fmt.Sprintf("race-%d", i)
		a.send(t, fmt.Sprintf(`{"command":"join","args":{"channel":%q},"id":%d}`, ch, i))
		a.expect(t, fmt.Sprintf(`{"id":%d,"ok":true}`, i))
		if status, body := post(t, httpURL(b, "/broadcast"), "application/json", fmt.Sprintf(`{"channel":%q,"content":%d}`, ch, i)); status != http.StatusCreated {
			t.Fatalf("round %d: POST /broadcast: %d %s", i, status, body)
		}
		a.expect(t, fmt.Sprintf(`{"channel":%q,"content":%d}`, ch, i))
		a.send(t, fmt.Sprintf(`{"command":"leave","args":{"channel":%q},"id":"l%d"}`, ch, i))
		a.expect(t, fmt.Sprintf(`{"id":"l%d","ok":true}`, i))
	}
}
