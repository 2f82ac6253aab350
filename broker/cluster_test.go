package broker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/internal/brokertest"
	"github.com/wsify/wsify/internal/testutil"
)

func clusterConfig(c *brokertest.Cluster) broker.Config {
	return broker.Config{Driver: "redis-cluster", URL: "redis-cluster://" + strings.Join(c.Addrs(), ","),
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
}

func spread(c *brokertest.Cluster, perMaster int) []string {
	return c.Spread(perMaster, func(ch string) string { return "wsify:{" + ch + "}" })
}

func shardSubs(c *brokertest.Cluster, channels ...string) int {
	keys := make([]string, len(channels))
	for i, ch := range channels {
		keys[i] = "wsify:{" + ch + "}"
	}
	return c.ShardNumSub(keys...)
}

// TestClusterDriver: channels on every shard reach the other node exactly
// once, a node's own publications do not come back, any name works, and
// an unsubscribed channel is dropped on its master.
func TestClusterDriver(t *testing.T) {
	c := brokertest.StartCluster(t, 3, 0)
	cfg := clusterConfig(c)
	a, b := open(t, cfg), open(t, cfg)
	a.waitUp(t)
	b.waitUp(t)
	channels := spread(c, 2)
	for _, ch := range channels {
		a.Subscribe(ch)
	}
	testutil.Eventually(t, "a's subscriptions on every shard", func() bool { return shardSubs(c, channels...) == len(channels) })
	for _, ch := range channels {
		mustPublish(t, b, ch, "from b "+ch)
		a.expect(t, ch, "from b "+ch)
		mustPublish(t, a, ch, "own")
	}
	a.expectNothing(t)
	b.expectNothing(t)
	testOddNames(t, a, b)
	for _, ch := range channels {
		a.Unsubscribe(ch)
	}
	testutil.Eventually(t, "a's subscriptions dropped", func() bool { return shardSubs(c, channels...) == 0 })
	mustPublish(t, b, channels[0], "late")
	a.expectNothing(t)
	if st := a.b.Stats(); st.Driver != "redis-cluster" || st.Received < uint64(len(channels)+4) || st.Own != uint64(len(channels)) || !st.Up {
		t.Fatalf("stats %+v", st)
	}
}

// TestClusterUnansweredPublicationsMarkItDown: with a master stuck
// (SIGSTOP), the third publication in a row it leaves unanswered takes the
// broker down at once; later ones fail fast; it comes back up by itself.
func TestClusterUnansweredPublicationsMarkItDown(t *testing.T) {
	c := brokertest.StartCluster(t, 3, 0)
	const timeout = 200 * time.Millisecond
	cfg := clusterConfig(c)
	cfg.Timeout = timeout
	a := open(t, cfg)
	a.waitUp(t)
	var ch string
	for _, name := range spread(c, 1) {
		if c.MasterOf("wsify:{"+name+"}") == c.Nodes[0].Addr() {
			ch = name
		}
	}
	mustPublish(t, a, ch, "warm")
	c.Nodes[0].Pause()
	for i := range 3 {
		if !a.b.Health().Up {
			t.Fatalf("down after %d unanswered publications; want 3", i)
		}
		publishFailsOn(t, a, ch, timeout+500*time.Millisecond)
	}
	began := time.Now()
	h := a.nextState(t)
	if took := time.Since(began); h.Up || !strings.Contains(h.Reason, "3 publications in a row unanswered") || took > time.Second {
		t.Fatalf("want down for unanswered publications at once, got %+v after %v", h, took)
	}
	publishFailsOn(t, a, ch, 50*time.Millisecond)
	c.Nodes[0].Resume()
	if h := a.nextState(t); !h.Up {
		t.Fatalf("want up once the master answers, got %+v", h)
	}
	mustPublish(t, a, ch, "after")
}

func waitSubscribed(t *testing.T, c broker.Confirmer, ch string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitSubscribed(ctx, []byte(ch)); err != nil {
		t.Fatalf("subscription to %s not confirmed: %v", ch, err)
	}
}

func publishFailsOn(t *testing.T, n *node, ch string, d time.Duration) {
	t.Helper()
	began := time.Now()
	err := n.b.Publish([]byte(ch), []byte("x"))
	if took := time.Since(began); !errors.Is(err, broker.ErrUnavailable) || took > d {
		t.Fatalf("publish: %v after %v; want unavailable within %v", err, took, d)
	}
}

// TestClusterSlotMigration: a subscribed channel's slot moves to another
// master. Redis drops the subscription on the old master; the subscriber
// reports down until it has subscribed on the new one, then up. Its
// subscription is unconfirmed (Confirmer) from the drop until the new
// master confirmed it: a reaches the new master through a link 300 ms slow
// each way, so that lasts long enough to be seen. A publication made the
// moment it is confirmed again arrives. The publisher follows the MOVED
// reply: every publication made after that reaches the subscriber,
// exactly once.
func TestClusterSlotMigration(t *testing.T) {
	c := brokertest.StartCluster(t, 3, 0)
	cfg := clusterConfig(c)
	chs := spread(c, 1)
	ch, other := chs[0], chs[1]
	to := c.MasterOf("wsify:{" + other + "}")
	slow := cfg
	slow.Dial = brokertest.SlowDial(t, 300*time.Millisecond, func(addr string) bool { return addr == to })
	a, b := open(t, slow), open(t, cfg)
	a.waitUp(t)
	b.waitUp(t)
	a.Subscribe(ch)
	confirmed := a.b.(broker.Confirmer)
	waitSubscribed(t, confirmed, ch)
	mustPublish(t, b, ch, "before")
	a.expect(t, ch, "before")

	c.MoveSlot("wsify:{"+ch+"}", to)
	if h := a.nextState(t); h.Up {
		t.Fatalf("a stayed up when its subscription was dropped: %+v", h)
	}
	if confirmed.Subscribed([]byte(ch)) {
		t.Fatal("the subscription the old master dropped is still confirmed")
	}
	waitSubscribed(t, confirmed, ch)
	mustPublish(t, b, ch, "confirmed")
	a.expect(t, ch, "confirmed")
	if h := a.nextState(t); !h.Up {
		t.Fatalf("want a up again, got %+v", h)
	}
	for i := range 20 {
		mustPublish(t, b, ch, fmt.Sprint(i))
	}
	for i := range 20 {
		a.expect(t, ch, fmt.Sprint(i))
	}
	a.expectNothing(t)
	if shardSubs(c, ch) != 1 {
		t.Fatalf("%d subscriptions to %s; want a's only", shardSubs(c, ch), ch)
	}
}
