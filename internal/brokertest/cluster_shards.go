package brokertest

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Spread returns channel names, perMaster of them on each master of the
// cluster as it is now, interleaved: "c0", "c7", ... chosen so that
// key(name), the Redis channel of the name, hashes to each master's slots.
func (c *Cluster) Spread(perMaster int, key func(name string) string) []string {
	c.t.Helper()
	cc := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		c.t.Fatal(err)
	}
	masters := map[string]bool{}
	for _, s := range slots {
		masters[s.Nodes[0].Addr] = true
	}
	var rows [][]string
	row := map[string]int{} // master -> its row
	full := 0
	for i := 0; full < len(masters); i++ {
		if i == 100000 {
			c.t.Fatalf("no %d channel names on each of %d masters among %d tried", perMaster, len(masters), i)
		}
		name := fmt.Sprintf("c%d", i)
		m := c.masterOf(ctx, cc, slots, key(name))
		if _, ok := row[m]; !ok {
			row[m] = len(rows)
			rows = append(rows, nil)
		}
		if r := row[m]; len(rows[r]) < perMaster {
			if rows[r] = append(rows[r], name); len(rows[r]) == perMaster {
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

func (c *Cluster) masterOf(ctx context.Context, cc *redis.ClusterClient, slots []redis.ClusterSlot, key string) string {
	slot, err := cc.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		c.t.Fatal(err)
	}
	for _, s := range slots {
		if int64(s.Start) <= slot && slot <= int64(s.End) {
			return s.Nodes[0].Addr
		}
	}
	c.t.Fatalf("slot %d has no master", slot)
	return ""
}

// ShardNumSub counts the shard subscriptions to keys on every running node.
func (c *Cluster) ShardNumSub(keys ...string) int {
	n := 0
	c.EachNode(func(ctx context.Context, cl *redis.Client) {
		m, err := cl.PubSubShardNumSub(ctx, keys...).Result()
		if err != nil {
			c.t.Fatal(err)
		}
		for _, k := range m {
			n += int(k)
		}
	})
	return n
}

// EachNode calls f with a client of every running node.
func (c *Cluster) EachNode(f func(context.Context, *redis.Client)) {
	for _, r := range c.Nodes {
		if r.cmd == nil {
			continue
		}
		cl := redis.NewClient(&redis.Options{Addr: r.Addr(), DisableIdentity: true, MaxRetries: -1})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		f(ctx, cl)
		cancel()
		cl.Close()
	}
}

// MasterOf is the address of the master that serves key's slot now.
func (c *Cluster) MasterOf(key string) string {
	c.t.Helper()
	cc := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		c.t.Fatal(err)
	}
	return c.masterOf(ctx, cc, slots, key)
}

// MoveSlot migrates key's slot to the master at addr, as an operator
// resharding would: the importing and migrating marks, then the new
// owner told to every master. Pub/sub channels are not keys: there are
// none to move.
func (c *Cluster) MoveSlot(key, addr string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	src := c.MasterOf(key)
	cl := func(a string) *redis.Client {
		r := redis.NewClient(&redis.Options{Addr: a, DisableIdentity: true, MaxRetries: -1})
		c.t.Cleanup(func() { r.Close() })
		return r
	}
	from, to := cl(src), cl(addr)
	slot, err := to.ClusterKeySlot(ctx, key).Result()
	must := func(err error) {
		if err != nil {
			c.t.Helper()
			c.t.Fatalf("moving slot %d from %s to %s: %v", slot, src, addr, err)
		}
	}
	must(err)
	srcID, err := from.Do(ctx, "cluster", "myid").Text()
	must(err)
	dstID, err := to.Do(ctx, "cluster", "myid").Text()
	must(err)
	must(to.Do(ctx, "cluster", "setslot", slot, "importing", srcID).Err())
	must(from.Do(ctx, "cluster", "setslot", slot, "migrating", dstID).Err())
	must(to.Do(ctx, "cluster", "setslot", slot, "node", dstID).Err())
	must(from.Do(ctx, "cluster", "setslot", slot, "node", dstID).Err())
	c.WaitOK()
}
