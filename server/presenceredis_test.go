package server_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/internal/brokertest"
	"github.com/wsify/wsify/server"
)

// presenceNodes starts k nodes sharing b, with presence and join/leave
// events in every channel and the authorizer naming the users.
func presenceNodes(t *testing.T, k int, b broker.Config) ([]*server.Server, *presenceAuthorizer) {
	t.Helper()
	a := newPresenceAuthorizer(t)
	b.PresenceTTL = 2 * time.Second
	nodes := make([]*server.Server, k)
	for i := range nodes {
		nodes[i] = start(t, server.Config{Auth: auth.Config{URL: a.srv.URL}, Presence: true, JoinLeave: true, Broker: b})
	}
	for _, s := range nodes {
		waitHealth(t, s, 200)
	}
	return nodes, a
}

// TestPresenceAcrossRedisNodes: on three nodes sharing a real Redis,
// presence lists and counts the members of every node; a join or leave
// event reaches every node's subscribers only once the change it tells of
// is in Redis, so a presence asked right after it already shows it; a
// close is a leave everywhere.
func TestPresenceAcrossRedisNodes(t *testing.T) {
	r := brokertest.StartRedis(t)
	nodes, _ := presenceNodes(t, 3, broker.Config{Driver: "redis", URL: r.URL()})
	alice, bob, carol := dialAs(t, nodes[0], "alice"), dialAs(t, nodes[1], "bob"), dialAs(t, nodes[2], "carol")

	aliceID := joinAndHear(t, alice, "room", "alice")
	bobID := joinAndHear(t, bob, "room", "bob")
	hear(t, alice, `{"channel":"room","join":`+member(bobID, "bob")+`}`)
	carolID := joinAndHear(t, carol, "room", "carol")
	hear(t, alice, `{"channel":"room","join":`+member(carolID, "carol")+`}`)
	hear(t, bob, `{"channel":"room","join":`+member(carolID, "carol")+`}`)

	want := []string{member(aliceID, "alice"), member(bobID, "bob"), member(carolID, "carol")}
	slices.Sort(want)
	for i, p := range []*peer{alice, bob, carol} { // no wait: the events came after the writes
		if got := presenceOf(t, askPast(t, p, "presence", "room")); !slices.Equal(got, want) {
			t.Fatalf("presence on node %d: %q\nwant %q", i, got, want)
		}
		if got := askPast(t, p, "presence_stats", "room"); got != `{"id":"p","ok":true,"clients":3,"users":3}` {
			t.Fatalf("stats on node %d: %s", i, got)
		}
	}
	if code, body := get(t, httpURL(nodes[1], "/presence_stats?channel=room")); code != 200 || body != `{"ok":true,"clients":3,"users":3}` {
		t.Fatalf("GET /presence_stats: %d %s", code, body)
	}

	carol.Close()
	expectAll(t, `{"channel":"room","leave":`+member(carolID, "carol")+`}`, alice, bob)
	if got := ask(t, alice, "presence_stats", "room"); got != `{"id":"p","ok":true,"clients":2,"users":2}` {
		t.Fatalf("stats once carol's leave was heard: %s", got)
	}
	bob.leave(t, "room")
	alice.expect(t, `{"channel":"room","leave":`+member(bobID, "bob")+`}`)
	if got := presenceOf(t, ask(t, alice, "presence", "room")); !slices.Equal(got, []string{member(aliceID, "alice")}) {
		t.Fatalf("presence once bob left: %q", got)
	}
	quiet(t, alice, bob)
}

// hear waits for the event want on p. A subscriber may also hear the
// joins of connections that joined shortly before it on other nodes,
// still on their way when its node subscribed (README: Presence); those
// are skipped.
func hear(t testing.TB, p *peer, want string) {
	t.Helper()
	for {
		m := p.next(t)
		if m == want {
			return
		}
		if !strings.Contains(m, `,"join":`) {
			t.Fatalf("got  %s\nwant %s", m, want)
		}
	}
}

// TestPresenceOnRedisCluster: presence and events cross nodes on a Redis
// Cluster too, the channel's keys in its own slot.
func TestPresenceOnRedisCluster(t *testing.T) {
	c := brokertest.StartCluster(t, 3, 0)
	nodes, _ := presenceNodes(t, 2, fastReconnect(broker.Config{Driver: "redis-cluster", URL: "redis-cluster://" + strings.Join(c.Addrs(), ",")}))
	alice, bob := dialAs(t, nodes[0], "alice"), dialAs(t, nodes[1], "bob")
	aliceID := joinAndHear(t, alice, "room", "alice")
	bobID := joinAndHear(t, bob, "room", "bob")
	// A join on the cluster is answered before the node's subscription is
	// confirmed: alice may miss bob's join, so wait for both subscriptions.
	eventually(t, "both nodes subscribed", func() bool { return c.ShardNumSub("wsify:{room}") == 2 })
	want := []string{member(aliceID, "alice"), member(bobID, "bob")}
	slices.Sort(want)
	eventually(t, "both listed on either node", func() bool {
		return slices.Equal(presenceOf(t, askPast(t, alice, "presence", "room")), want) &&
			slices.Equal(presenceOf(t, askPast(t, bob, "presence", "room")), want)
	})
	if got := askPast(t, bob, "presence_stats", "room"); got != `{"id":"p","ok":true,"clients":2,"users":2}` {
		t.Fatalf("stats: %s", got)
	}
	bob.Close()
	hear(t, alice, `{"channel":"room","leave":`+member(bobID, "bob")+`}`)
	if got := ask(t, alice, "presence_stats", "room"); got != `{"id":"p","ok":true,"clients":1,"users":1}` {
		t.Fatalf("stats once bob's leave was heard: %s", got)
	}
}
