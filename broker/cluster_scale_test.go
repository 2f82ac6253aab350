package broker_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/internal/brokertest"
	"github.com/wsify/wsify/internal/testutil"
)

// TestClusterConnectionsBounded: a node that joined 10,000 channels, and
// publishes from many goroutines at once, holds at most 2 × Partitions
// connections to each master and none to a replica, as CLIENT LIST on
// every node of the cluster counts them.
func TestClusterConnectionsBounded(t *testing.T) {
	c := brokertest.StartCluster(t, 3, 1)
	cfg := clusterConfig(c)
	a := open(t, cfg)
	const channels = 10000
	for i := range channels {
		a.Subscribe(fmt.Sprintf("ch-%d", i))
	}
	a.waitUp(t)
	testutil.EventuallyWithin(t, 30*time.Second, "10,000 shard subscriptions", func() bool {
		return shardChannels(t, c) == channels
	})
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for i := range 50 {
				a.b.Publish(fmt.Appendf(nil, "ch-%d", g*50+i), []byte("x"))
			}
		})
	}
	wg.Wait()
	if st := a.b.Stats(); st.Published != 64*50 || !st.Up {
		t.Fatalf("stats %+v", st)
	}
	perNode, total := clientsNamed(t, c, "wsify-"+a.b.Stats().Node)
	bound := 3 * 2 * broker.Config{}.WithDefaults().Partitions
	t.Logf("connections of the node per cluster node: %v, %d in all (bound %d)", perNode, total, bound)
	if total > bound {
		t.Fatalf("%d connections, more than %d", total, bound)
	}
}

// shardChannels counts the shard channels of this package's prefix that
// have subscribers, summed over the masters.
func shardChannels(t testing.TB, c *brokertest.Cluster) int {
	n := 0
	c.EachNode(func(ctx context.Context, cl *redis.Client) {
		if role, _ := cl.Do(ctx, "role").Slice(); len(role) > 0 && role[0] == "master" {
			chs, _ := cl.PubSubShardChannels(ctx, "wsify:*").Result()
			n += len(chs)
		}
	})
	return n
}

// clientsNamed counts the connections called name on every node.
func clientsNamed(t testing.TB, c *brokertest.Cluster, name string) (perNode []int, total int) {
	c.EachNode(func(ctx context.Context, cl *redis.Client) {
		list, err := cl.ClientList(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		n := strings.Count(list, " name="+name+" ")
		perNode = append(perNode, n)
		total += n
	})
	return perNode, total
}
