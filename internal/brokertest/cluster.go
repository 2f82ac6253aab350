package brokertest

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wsify/wsify/internal/testutil"
)

// Cluster is a real Redis Cluster of redis-server processes on loopback,
// owned by one test: masters, each with its replicas, created with
// redis-cli --cluster create as an operator would.
type Cluster struct {
	t     testing.TB
	Nodes []*Redis // masters first as created; a failover changes the roles, not this order
}

// clusterNodeTimeout is how long a master may be silent before its
// replica takes over: short, so failover tests are quick.
const clusterNodeTimeout = "1000"

// StartCluster starts masters × (1 + replicas) cluster nodes and waits
// until the cluster covers every slot.
func StartCluster(t testing.TB, masters, replicas int) *Cluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redis-cli is not installed (%v): run `make deps` (Debian package redis-tools)", err)
	}
	c := &Cluster{t: t}
	for range masters * (1 + replicas) {
		r := newRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", clusterNodeTimeout,
			// a replica syncs at once, and takes over however old its data
			// (the default refuses a replica that never synced)
			"--repl-diskless-sync-delay", "0", "--cluster-replica-validity-factor", "0")
		r.Start()
		c.Nodes = append(c.Nodes, r)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitOK()
	c.waitReplicasSynced()
	return c
}

// waitReplicasSynced waits until every replica has its master's link up,
// so that a test killing a master sees a failover, not a lost shard.
func (c *Cluster) waitReplicasSynced() {
	c.t.Helper()
	testutil.EventuallyWithin(c.t, 30*time.Second, "every replica linked to its master", func() bool {
		for _, r := range c.Nodes {
			if info := r.info("replication"); strings.Contains(info, "role:slave") && !strings.Contains(info, "master_link_status:up") {
				return false
			}
		}
		return true
	})
}

func (r *Redis) info(section string) string {
	cl := redis.NewClient(&redis.Options{Addr: r.Addr(), DisableIdentity: true})
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return cl.Info(ctx, section).Val()
}

// Addrs are the nodes' host:port, the seeds a client starts from.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, r := range c.Nodes {
		out[i] = r.Addr()
	}
	return out
}

// Client is a go-redis cluster client, closed when the test ends.
func (c *Cluster) Client() *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), DisableIdentity: true})
	c.t.Cleanup(func() { cc.Close() })
	return cc
}

// WaitOK waits until every running node says the cluster is ok and that
// every slot is served by a running node: after a master was stopped, that
// is once a replica has taken over its slots.
func (c *Cluster) WaitOK() {
	c.t.Helper()
	testutil.EventuallyWithin(c.t, 30*time.Second, "the Redis Cluster to serve every slot from running nodes", func() bool {
		for _, r := range c.Nodes {
			if r.cmd != nil && !c.servedByRunning(r) {
				return false
			}
		}
		return true
	})
}

// servedByRunning asks node r whether the cluster is ok and every slot's
// master is a node that runs.
func (c *Cluster) servedByRunning(r *Redis) bool {
	cl := redis.NewClient(&redis.Options{Addr: r.Addr(), DisableIdentity: true})
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	info, err := cl.ClusterInfo(ctx).Result()
	if err != nil || !strings.Contains(info, "cluster_state:ok") {
		return false
	}
	slots, err := cl.ClusterSlots(ctx).Result()
	if err != nil {
		return false
	}
	for _, s := range slots {
		if len(s.Nodes) == 0 || !c.running(s.Nodes[0].Addr) {
			return false
		}
	}
	return true
}

func (c *Cluster) running(addr string) bool {
	for _, r := range c.Nodes {
		if r.Addr() == addr {
			return r.cmd != nil
		}
	}
	return false
}
