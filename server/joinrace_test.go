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

// TestAJoinAnsweredIsSubscribedEverywhere: a join is answered only once
// the node's broker subscription is confirmed, so a publication made on
// another node the moment the answer arrives always reaches the new
// subscriber. Node A reaches Redis through a link 5 ms slow each way, as
// a node in another zone would, and node B directly: B's publication would
// otherwise reach Redis before A's subscription. Each round joins a channel
// new to A and, on the answer, POSTs to B.
func TestAJoinAnsweredIsSubscribedEverywhere(t *testing.T) {
	const rounds = 1000
	r := brokertest.StartRedis(t)
	slow := "redis://" + brokertest.LatencyProxy(t, strings.TrimPrefix(r.URL(), "redis://"), 5*time.Millisecond)
	var nodes []*server.Server
	for _, url := range []string{slow, r.URL()} { // no join rate limit: the test joins and leaves flat out
		nodes = append(nodes, start(t, server.Config{Broker: broker.Config{Driver: "redis", URL: url}, JoinRateLimit: -1}))
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
