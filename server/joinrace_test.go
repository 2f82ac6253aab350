package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wsify/wsify/auth"
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
	joinThenPublish(t, rounds, nodes[0], nodes[1])
}

// joinThenPublish joins a new channel on node a each round and, the moment
// the answer arrives, POSTs to it on node b: the publication must arrive.
func joinThenPublish(t *testing.T, rounds int, a, b *server.Server) {
	t.Helper()
	p := dialPeer(t, a)
	for i := range rounds {
		ch := fmt.Sprintf("race-%d", i)
		p.send(t, fmt.Sprintf(`{"command":"join","args":{"channel":%q},"id":%d}`, ch, i))
		p.expect(t, fmt.Sprintf(`{"id":%d,"ok":true}`, i))
		if status, body := post(t, httpURL(b, "/broadcast"), "application/json", fmt.Sprintf(`{"channel":%q,"content":%d}`, ch, i)); status != http.StatusCreated {
			t.Fatalf("round %d: POST /broadcast: %d %s", i, status, body)
		}
		p.expect(t, fmt.Sprintf(`{"channel":%q,"content":%d}`, ch, i))
		p.send(t, fmt.Sprintf(`{"command":"leave","args":{"channel":%q},"id":"l%d"}`, ch, i))
		p.expect(t, fmt.Sprintf(`{"id":"l%d","ok":true}`, i))
	}
}

// TestAssignedChannelsSubscribedBeforeTheUpgrade: the channels the
// authorizer's connect answer names are joined, and confirmed by Redis,
// before the 101 goes out: a publication made on another node the moment
// the handshake completes reaches the new connection, every time.
func TestAssignedChannelsSubscribedBeforeTheUpgrade(t *testing.T) {
	const rounds = 200
	authz := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			Command string
			Args    struct{ Query map[string][]string }
		}
		if json.NewDecoder(r.Body).Decode(&m) == nil && m.Command == "connect" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"user":"u","channels":[%q]}`, firstOf(m.Args.Query["ch"]))
		}
	}))
	t.Cleanup(authz.Close)
	r := brokertest.StartRedis(t)
	slow := "redis://" + brokertest.LatencyProxy(t, strings.TrimPrefix(r.URL(), "redis://"), 5*time.Millisecond)
	a := start(t, server.Config{Broker: broker.Config{Driver: "redis", URL: slow}, Auth: auth.Config{URL: authz.URL}})
	b := start(t, server.Config{Broker: broker.Config{Driver: "redis", URL: r.URL()}})
	waitHealth(t, a, http.StatusOK)
	waitHealth(t, b, http.StatusOK)
	for i := range rounds {
		ch := fmt.Sprintf("inbox-%d", i)
		c := mustDialQuery(t, a, "ch="+ch)
		if status, body := post(t, httpURL(b, "/broadcast"), "application/json", fmt.Sprintf(`{"channel":%q,"content":%d}`, ch, i)); status != http.StatusCreated {
			t.Fatalf("round %d: POST /broadcast: %d %s", i, status, body)
		}
		expect(t, c, fmt.Sprintf(`{"channel":%q,"content":%d}`, ch, i))
		c.Close()
	}
}
