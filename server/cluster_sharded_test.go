package server_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/internal/brokertest"
)

// shardedCluster is a real Redis Cluster of 3 masters and 3 replicas
// with the redis-cluster driver.
func shardedCluster(t *testing.T) (cluster, *brokertest.Cluster) {
	rc := brokertest.StartCluster(t, 3, 1)
	return cluster{
		cfg:         fastReconnect(broker.Config{Driver: "redis-cluster", URL: "redis-cluster://" + strings.Join(rc.Addrs(), ",")}),
		subscribers: func(ch string) (int, []string) { return rc.ShardNumSub(shardKey(ch)), nil },
	}, rc
}

func shardKey(ch string) string { return "wsify:{" + ch + "}" }

func TestClusterRedisSharded(t *testing.T) {
	c, _ := shardedCluster(t)
	testCluster(t, c)
}

// TestShardedExactlyOnce: three nodes, two clients on each, every client
// on channels that cover every shard. Each node broadcasts on each
// channel, by client command and by POST /broadcast: every client gets
// each publication of its channels exactly once.
func TestShardedExactlyOnce(t *testing.T) {
	c, rc := shardedCluster(t)
	nodes := startNodes(t, 3, c.cfg)
	channels := rc.Spread(2, shardKey)
	var peers []*peer
	for _, s := range nodes {
		for range 2 {
			p := dialPeer(t, s)
			for _, ch := range channels {
				p.join(t, ch)
			}
			peers = append(peers, p)
		}
	}
	for _, ch := range channels {
		waitSubscribers(t, c, ch, nodes...)
	}
	var want []string
	for i, s := range nodes {
		for _, ch := range channels {
			peers[2*i].send(t, fmt.Sprintf(`{"command":"broadcast","args":{"channel":%q,"content":"cmd %d"}}`, ch, i))
			postToChannel(t, s, ch, fmt.Sprintf(`"post %d"`, i))
			want = append(want, fmt.Sprintf(`{"channel":%q,"content":"cmd %d"}`, ch, i),
				fmt.Sprintf(`{"channel":%q,"content":"post %d"}`, ch, i))
		}
	}
	slices.Sort(want)
	for _, p := range peers {
		got := make([]string, len(want))
		for i := range got {
			got[i] = p.next(t)
		}
		if slices.Sort(got); !slices.Equal(got, want) {
			t.Fatalf("a client got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	quiet(t, peers...)
	for _, s := range nodes {
		if st := s.BrokerStats(); st.Driver != "redis-cluster" || st.Received != uint64(4*len(channels)) {
			t.Fatalf("broker stats %+v", st)
		}
	}
}
