package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/wsify/wsify/internal/brokertest"
	"github.com/wsify/wsify/server"
)

// clusterHistoryNodes starts k nodes on a real Redis Cluster (3 masters, 3
// replicas) with the redis-cluster driver, keeping history in it.
func clusterHistoryNodes(t *testing.T, k int, cfg server.Config) ([]*server.Server, *brokertest.Cluster) {
	t.Helper()
	c, rc := shardedCluster(t)
	return historyNodes(t, k, cfg, c.cfg), rc
}

// TestContinuityOnThreeNodesOverRedisCluster is
// TestContinuityOnThreeNodesOverRedis on a Redis Cluster: subscribed on A,
// 2,000 publications POSTed on B, the subscriber cut twice and rejoined
// with since on C, every publication exactly once, in offset order.
func TestContinuityOnThreeNodesOverRedisCluster(t *testing.T) {
	nodes, _ := clusterHistoryNodes(t, 3, server.Config{HistorySize: continuityTotal, HistoryTTL: 5 * time.Minute, OutboxBytes: 64 << 10})
	runContinuity(t, nodes[0], nodes[1], nodes[2])
}

// TestClusterRecoveryOnAnotherNode: on channels of every shard, a client
// that saw offset 1 on node A recovers on node C what node B published
// since, then gets what A publishes next; GET /history and the history
// command answer the same on every node.
func TestClusterRecoveryOnAnotherNode(t *testing.T) {
	nodes, rc := clusterHistoryNodes(t, 3, server.Config{})
	for _, ch := range rc.Spread(1, shardKey) {
		c := dial(t, nodes[0])
		p := joinAt(t, c, ch, "")
		postAt(t, nodes[1], ch, `1`)
		expect(t, c, fmt.Sprintf(`{"channel":%q,"offset":1,"content":1}`, ch))
		c.Close()
		for i := 2; i <= 4; i++ {
			postAt(t, nodes[1], ch, fmt.Sprint(i))
		}
		c = dial(t, nodes[2])
		got := joinAt(t, c, ch, sinceOf(1, p.Epoch))
		if got.Recovered == nil || !*got.Recovered || got.Offset != 4 || got.Epoch != p.Epoch {
			t.Fatalf("%s: recovering join on a third node: %+v", ch, got)
		}
		for i := 2; i <= 4; i++ {
			expect(t, c, fmt.Sprintf(`{"channel":%q,"offset":%d,"content":%d}`, ch, i, i))
		}
		postAt(t, nodes[0], ch, `5`)
		expect(t, c, fmt.Sprintf(`{"channel":%q,"offset":5,"content":5}`, ch))
		for _, s := range nodes {
			code, body := get(t, httpURL(s, "/history?channel="+ch+"&limit=2"))
			if h := historyOf(t, body); code != 200 || h.offsets() != "4:4 5:5" || h.Epoch != p.Epoch {
				t.Fatalf("%s: GET /history: %d %s", ch, code, body)
			}
		}
	}
}

// TestClusterHistoryAfterFailover: the master of a channel's slot is
// killed and its replica takes over. The replica may lack publications
// the master acknowledged (replication is asynchronous), so the history
// starts a new epoch there: a client recovering across the failover is
// told recovered:false, never handed a history with a silent gap, and
// publications go on in the new epoch, their offsets past every offset
// the old master gave (a client that stayed joined sees them grow).
func TestClusterHistoryAfterFailover(t *testing.T) {
	nodes, rc := clusterHistoryNodes(t, 2, server.Config{})
	var ch string
	for _, name := range rc.Spread(1, shardKey) {
		if rc.MasterOf(shardKey(name)) == rc.Nodes[0].Addr() {
			ch = name
		}
	}
	c := dial(t, nodes[0])
	p := joinAt(t, c, ch, "")
	for i := 1; i <= 3; i++ {
		postAt(t, nodes[1], ch, fmt.Sprint(i))
		expect(t, c, fmt.Sprintf(`{"channel":%q,"offset":%d,"content":%d}`, ch, i, i))
	}
	rc.Nodes[0].Stop()
	waitBackUp(t, nodes)

	c2 := dial(t, nodes[1])
	got := joinAt(t, c2, ch, sinceOf(3, p.Epoch))
	if got.Recovered == nil || *got.Recovered || got.Epoch == p.Epoch || got.Epoch == "" {
		t.Fatalf("recovering join after the failover: %+v (epoch before: %s)", got, p.Epoch)
	}
	next := postAt(t, nodes[0], ch, `4`)
	if next.Epoch != got.Epoch || next.Offset != got.Offset+1 || next.Offset <= 3+1<<19 {
		t.Fatalf("publication after the failover: %+v, join said %+v", next, got)
	}
	want := fmt.Sprintf(`{"channel":%q,"offset":%d,"content":4}`, ch, next.Offset)
	expect(t, c2, want)
	if m := recv(t, c); m != want {
		t.Fatalf("the client joined before the failover got %s, want %s", m, want)
	}
}
