package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/wsify/wsify/server"
)

// startWhoNodes starts three nodes on a real redis-server, each asking
// the same authorizer, and waits until each is healthy.
func startWhoNodes(t *testing.T) (cluster, *whoAuthorizer, []*server.Server) {
	c := redisCluster(t)
	a := newWhoAuthorizer(t)
	nodes := make([]*server.Server, 3)
	for i := range nodes {
		nodes[i] = start(t, a.config(server.Config{Broker: c.cfg}))
	}
	for _, s := range nodes {
		waitHealth(t, s, http.StatusOK)
	}
	return c, a, nodes
}

// TestTargetsAcrossNodesRedis: "to", "except" and "echo":false travel
// with the publication to every node, which delivers to its own
// subscribers the filter lets through; receivers counts the subscribers
// of the node that answered, only.
func TestTargetsAcrossNodesRedis(t *testing.T) {
	c, a, nodes := startWhoNodes(t)
	A, B, C := nodes[0], nodes[1], nodes[2]
	carolA, anonA := dialTarget(t, a, A, "carol"), dialTarget(t, a, A, "")
	aliceB := dialTarget(t, a, B, "alice")
	aliceC, bobC := dialTarget(t, a, C, "alice"), dialTarget(t, a, C, "bob")
	all := []*targetPeer{carolA, anonA, aliceB, aliceC, bobC}
	for _, m := range all {
		m.join(t, "room")
	}
	waitSubscribers(t, c, "room", A, B, C)

	code, body := postJSON(t, A, "/broadcast", `{"channel":"room","content":1,"to":["alice"]}`)
	if code != http.StatusCreated || body != `{"ok":true,"receivers":0}` { // A holds no connection of alice
		t.Fatalf("POST to alice on A: %d %s", code, body)
	}
	expectAll(t, `{"channel":"room","content":1}`, aliceB.peer, aliceC.peer)
	code, body = postJSON(t, C, "/broadcast", `{"channel":"room","content":2,"to":["alice","bob"]}`)
	if code != http.StatusCreated || body != `{"ok":true,"receivers":2}` { // C's alice and bob
		t.Fatalf("POST to alice and bob on C: %d %s", code, body)
	}
	expectAll(t, `{"channel":"room","content":2}`, aliceB.peer, aliceC.peer, bobC.peer)

	code, body = postJSON(t, A, "/broadcast", fmt.Sprintf(`{"channel":"room","content":3,"except":%q}`, bobC.id))
	if code != http.StatusCreated || body != `{"ok":true,"receivers":2}` {
		t.Fatalf("POST except bob's on A: %d %s", code, body)
	}
	expectAll(t, `{"channel":"room","content":3}`, carolA.peer, anonA.peer, aliceB.peer, aliceC.peer)

	aliceB.send(t, `{"command":"broadcast","args":{"channel":"room","content":4,"echo":false},"id":1}`)
	aliceB.expect(t, `{"id":1,"ok":true,"receivers":0}`)
	expectAll(t, `{"channel":"room","content":4}`, carolA.peer, anonA.peer, aliceC.peer, bobC.peer)

	bobC.send(t, `{"command":"broadcast","args":{"channel":"room","content":5,"to":["carol"],"echo":false},"id":2}`)
	bobC.expect(t, `{"id":2,"ok":true,"receivers":0}`)
	carolA.expect(t, `{"channel":"room","content":5}`)

	code, body = postJSON(t, B, "/broadcast", `[{"channel":"room","content":6,"to":["bob"]},{"channels":["room"],"content":7,"to":["carol"]}]`)
	if want := `[{"ok":true,"receivers":0},{"ok":true,"receivers":0,"results":[{"channel":"room","ok":true,"receivers":0}]}]`; code != http.StatusCreated || body != want {
		t.Fatalf("POST array on B: %d %s", code, body)
	}
	bobC.expect(t, `{"channel":"room","content":6}`)
	carolA.expect(t, `{"channel":"room","content":7}`)
	quiet(t, carolA.peer, anonA.peer, aliceB.peer, aliceC.peer, bobC.peer)
}

// TestDisconnectAcrossNodesRedis: POST /disconnect on one node closes the
// user's connections on every node, and a client id's connection on the
// node that holds it; the answer counts the connections of the node that
// answered; everyone else stays connected and served.
func TestDisconnectAcrossNodesRedis(t *testing.T) {
	_, a, nodes := startWhoNodes(t)
	A, B, C := nodes[0], nodes[1], nodes[2]
	aliceA, aliceB, aliceC := dialTarget(t, a, A, "alice"), dialTarget(t, a, B, "alice"), dialTarget(t, a, C, "alice")
	bobB, carolC := dialTarget(t, a, B, "bob"), dialTarget(t, a, C, "carol")

	if code, body := postJSON(t, A, "/disconnect", `{"user":"alice","reconnect":false}`); code != http.StatusOK || body != `{"ok":true,"disconnected":1}` {
		t.Fatalf("disconnect alice on A: %d %s", code, body)
	}
	for _, m := range []*targetPeer{aliceA, aliceB, aliceC} {
		m.expectClosed(t, closeDisconnected, reasonStayAway)
	}
	if code, body := postJSON(t, C, "/disconnect", fmt.Sprintf(`{"client":%q}`, bobB.id)); code != http.StatusOK || body != `{"ok":true,"disconnected":0}` {
		t.Fatalf("disconnect bob's connection (on B) on C: %d %s", code, body)
	}
	bobB.expectClosed(t, closeDisconnected, reasonReconnect)

	carolC.join(t, "after")
	postToChannel(t, B, "after", `"still here"`)
	carolC.expect(t, `{"channel":"after","content":"still here"}`)
	for _, s := range nodes {
		if st := s.Stats(); st.ClosedBy["4000"] != map[*server.Server]uint64{A: 1, B: 2, C: 1}[s] {
			t.Fatalf("closes with 4000 on a node: %v", st.ClosedBy)
		}
	}
}

// TestReceiversOnRedisHistoryChannels: on a channel whose history Redis
// keeps, the delivery comes back through Redis after the answer, so the
// answer counts this node's subscribers of the channel when Redis took
// the publication, beside the position, from a client and over HTTP.
func TestReceiversOnRedisHistoryChannels(t *testing.T) {
	nodes, _ := redisHistoryNodes(t, 2, server.Config{})
	a, b := nodes[0], nodes[1]
	a1, a2, b1 := dialPeer(t, a), dialPeer(t, a), dialPeer(t, b)
	for _, p := range []*peer{a1, a2, b1} {
		joinKept(t, p, "kept")
	}
	code, body := postJSON(t, a, "/broadcast", `{"channel":"kept","content":1}`)
	if code != http.StatusCreated || !strings.HasPrefix(body, `{"ok":true,"offset":1,"epoch":`) || !strings.HasSuffix(body, `,"receivers":2}`) {
		t.Fatalf("POST on a: %d %s", code, body)
	}
	expectAll(t, `{"channel":"kept","offset":1,"content":1}`, a1, a2, b1)
	b1.send(t, `{"command":"broadcast","args":{"channel":"kept","content":2},"id":1}`)
	m1, m2 := b1.next(t), b1.next(t)
	if strings.HasPrefix(m1, `{"channel"`) {
		m1, m2 = m2, m1
	}
	if !strings.HasPrefix(m1, `{"id":1,"ok":true,"offset":2,"epoch":`) || !strings.HasSuffix(m1, `,"receivers":1}`) || m2 != `{"channel":"kept","offset":2,"content":2}` {
		t.Fatalf("broadcast on b: reply %s, delivery %s", m1, m2)
	}
}
