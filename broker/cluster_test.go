package broker_test

import (
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
