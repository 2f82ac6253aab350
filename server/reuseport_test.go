package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/wsify/wsify/server"
	"github.com/wsify/wsify/server/servertest"
)

// sharePort starts k nodes on one loopback port with SO_REUSEPORT.
func sharePort(t *testing.T, k int, cfg server.Config) []*server.Server {
	t.Helper()
	cfg.ReusePort, cfg.Addr = true, "127.0.0.1:0"
	first, err := servertest.TryStart(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	nodes := []*server.Server{first}
	cfg.Addr = first.Addr().String()
	for len(nodes) < k {
		s, err := servertest.TryStart(t, cfg)
		if err != nil {
			t.Fatalf("node %d on the shared port %s: %v", len(nodes)+1, cfg.Addr, err)
		}
		nodes = append(nodes, s)
	}
	return nodes
}

func TestReusePortLetsTwoServersShareOnePort(t *testing.T) {
	nodes := sharePort(t, 2, server.Config{})
	addr := nodes[0].Addr().String()
	if _, err := servertest.TryStart(t, server.Config{Addr: addr}); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("a server without ReusePort bound the taken port %s: %v", addr, err)
	}
	// The kernel spreads connections by a hash of their addresses: with
	// 40 of them, one node getting none has odds of 2^-39.
	for range 40 {
		dialPeer(t, nodes[0])
	}
	eventually(t, "40 connections across both nodes, each with some", func() bool {
		a, b := nodes[0].Stats().Open, nodes[1].Stats().Open
		return a+b == 40 && a > 0 && b > 0
	})
}

// TestReusePortNodesShareChannelsThroughRedis: three nodes on one port and
// a Redis broker act as one server to clients that cannot tell which node
// took them.
func TestReusePortNodesShareChannelsThroughRedis(t *testing.T) {
	c := redisCluster(t)
	nodes := sharePort(t, 3, server.Config{Broker: c.cfg})
	for _, s := range nodes {
		waitHealth(t, s, http.StatusOK)
	}
	var peers []*peer
	for range 30 {
		p := dialPeer(t, nodes[0])
		p.join(t, "all")
		peers = append(peers, p)
	}
	var perNode []string
	for _, s := range nodes {
		if s.Stats().Open == 0 {
			t.Fatalf("a node got no client of 30 (odds 3*(2/3)^30): %v", perNode)
		}
		perNode = append(perNode, fmt.Sprint(s.Stats().Open))
	}
	waitSubscribers(t, c, "all", nodes...)
	postToChannel(t, nodes[0], "all", `"hi"`)
	expectAll(t, `{"channel":"all","content":"hi"}`, peers...)
	peers[7].send(t, `{"command":"broadcast","args":{"channel":"all","content":"again"}}`)
	expectAll(t, `{"channel":"all","content":"again"}`, peers...)
	quiet(t, peers...)
}
