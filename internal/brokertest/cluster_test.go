package brokertest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestClusterShardedPubSub: the cluster the broker tests run on forms,
// sharded pub/sub (Redis 7) works on every shard, and when a master is
// killed its replica takes over its slots.
func TestClusterShardedPubSub(t *testing.T) {
	c := StartCluster(t, 3, 1)
	cc := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	channels := []string{"wsify:a", "wsify:b", "wsify:c", "wsify:d", "wsify:e", "wsify:f"}
	subs := make([]*redis.PubSub, len(channels))
	for i, ch := range channels { // one SSUBSCRIBE per slot: a shard channel lives on its slot's node only
		subs[i] = cc.SSubscribe(ctx, ch)
		defer subs[i].Close()
		if _, err := subs[i].Receive(ctx); err != nil {
			t.Fatal(err)
		}
	}
	roundTrip(ctx, t, cc, channels, subs)

	c.Nodes[0].Stop() // a master, as redis-cli --cluster create lists masters first
	c.WaitOK()
	fresh := c.Client() // the slot map as the cluster has it now
	for _, ch := range channels {
		if err := fresh.SPublish(ctx, ch, "after").Err(); err != nil {
			t.Fatalf("publish on %s after the failover: %v", ch, err)
		}
	}
}

func roundTrip(ctx context.Context, t *testing.T, cc *redis.ClusterClient, channels []string, subs []*redis.PubSub) {
	t.Helper()
	for i, ch := range channels {
		if err := cc.SPublish(ctx, ch, "x").Err(); err != nil {
			t.Fatal(err)
		}
		if m, err := subs[i].ReceiveMessage(ctx); err != nil || m.Channel != ch || m.Payload != "x" {
			t.Fatalf("received %v, %v: want x on %s", m, err, ch)
		}
	}
}
