package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/internal/brokertest"
	"github.com/wsify/wsify/server"
)

// TestAJoinAnsweredIsSubscribedEverywhereOnACluster is
// TestAJoinAnsweredIsSubscribedEverywhere on a real Redis Cluster (3
// masters, 3 replicas) and three nodes: node A reaches every cluster node
// through a link 5 ms slow each way, B and C directly. Each round joins on
// A a channel new to A (the rounds' channels fall on every shard) and, the
// moment the answer arrives, POSTs to B: the publication always arrives,
// because A answered only once its shard's master confirmed the SSUBSCRIBE.
func TestAJoinAnsweredIsSubscribedEverywhereOnACluster(t *testing.T) {
	const rounds = 1000
	c, _ := shardedCluster(t)
	slow := c.cfg
	slow.Dial = brokertest.SlowDial(t, 5*time.Millisecond, func(string) bool { return true })
	var nodes []*server.Server
	for _, b := range []broker.Config{slow, c.cfg, c.cfg} { // no join rate limit: the test joins and leaves flat out
		nodes = append(nodes, start(t, server.Config{Broker: b, JoinRateLimit: -1}))
	}
	for _, s := range nodes {
		waitHealth(t, s, http.StatusOK)
	}
	joinThenPublish(t, rounds, nodes[0], nodes[1])
}
