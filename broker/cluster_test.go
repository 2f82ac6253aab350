package broker_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/internal/brokertest"
	"github.com/wsify/wsify/internal/testutil"
)

func clusterConfig(c *brokertest.Cluster) broker.Config {
	return broker.Config{Driver: "redis-cluster", URL: "redis-cluster://" + strings.Join(c.Addrs(), ","),
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
}

// spread returns channel names, perMaster of them on each master of the
// cluster as it is now, interleaved.
func spread(t testing.TB, c *brokertest.Cluster, perMaster int) []string {
	t.Helper()
	cc := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	masterOf := func(ch string) string {
		slot, err := cc.ClusterKeySlot(ctx, "wsify:{"+ch+"}").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range slots {
			if int64(s.Start) <= slot && slot <= int64(s.End) {
				return s.Nodes[0].Addr
			}
		}
		t.Fatalf("slot %d has no master", slot)
		return ""
	}
	var rows [][]string
	index := map[string]int{}
	full := 0
	for i := 0; full < len(slots) && i < 10000; i++ {
		ch := fmt.Sprintf("c%d", i)
		m := masterOf(ch)
		if _, ok := index[m]; !ok {
			index[m] = len(rows)
			rows = append(rows, nil)
		}
		if r := index[m]; len(rows[r]) < perMaster {
			rows[r] = append(rows[r], ch)
			if len(rows[r]) == perMaster {
				full++
			}
		}
	}
	var out []string
	for i := range perMaster {
		for _, r := range rows {
			out = append(out, r[i])
		}
	}
	return out
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
	channels := spread(t, c, 2)
	for _, ch := range channels {
		a.Subscribe(ch)
	}
	testutil.Eventually(t, "a's subscriptions on every shard", func() bool { return shardSubs(t, c, channels...) == len(channels) })
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
	testutil.Eventually(t, "a's subscriptions dropped", func() bool { return shardSubs(t, c, channels...) == 0 })
	mustPublish(t, b, channels[0], "late")
	a.expectNothing(t)
	if st := a.b.Stats(); st.Driver != "redis-cluster" || st.Received < uint64(len(channels)+4) || st.Own != uint64(len(channels)) || !st.Up {
		t.Fatalf("stats %+v", st)
	}
}

// shardSubs counts the shard subscriptions to the channels on every node
// that answers.
func shardSubs(t testing.TB, c *brokertest.Cluster, channels ...string) int {
	t.Helper()
	keys := make([]string, len(channels))
	for i, ch := range channels {
		keys[i] = "wsify:{" + ch + "}"
	}
	n := 0
	for _, addr := range c.Addrs() {
		cl := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true, MaxRetries: -1})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		m, err := cl.PubSubShardNumSub(ctx, keys...).Result()
		cancel()
		cl.Close()
		if err != nil {
			continue // a stopped node
		}
		for _, k := range m {
			n += int(k)
		}
	}
	return n
}
