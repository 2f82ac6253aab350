package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/internal/brokertest"
	"github.com/wsify/wsify/internal/testutil"
	"github.com/wsify/wsify/server"
)

// BenchmarkPresenceStats100k times presence_stats on a channel with
// 100,000 members spread over four nodes (four presence registries with
// node ids of their own, writing to one real redis-server as four wsify
// nodes would) and read on a fifth, a real server:
//
//	broker:  the registry's Count, one script call (what a node asks Redis)
//	command: a client's presence_stats command, sent and answered over its WebSocket
//	http:    GET /presence_stats
//
// go test -run '^$' -bench PresenceStats100k -benchtime 2000x ./server/
func BenchmarkPresenceStats100k(b *testing.B) {
	const nodes, perNode = 4, 25_000
	r := brokertest.StartRedis(b)
	cfg := broker.Config{Driver: "redis", URL: r.URL()}
	var regs []broker.Presencer
	for n := range nodes {
		br, err := broker.Open(cfg, broker.Handlers{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { br.Close() })
		testutil.Eventually(b, "registry up", func() bool { return br.Health().Up })
		p := br.(broker.Presencer)
		regs = append(regs, p)
		for i := range perNode {
			client := fmt.Sprintf("n%d-%d", n, i)
			user := fmt.Sprintf("user-%d", (n*perNode+i)%60_000) // 60,000 users, some with two connections
			p.Change(broker.PresenceChange{Channel: []byte("room"), Joined: true, Keep: true,
				Member: broker.Member{Client: client, User: user, JSON: []byte(`{"client":"` + client + `","user":"` + user + `"}`)}})
		}
	}
	s := start(b, server.Config{Presence: true, Broker: cfg})
	waitHealth(b, s, 200)
	c := dial(b, s)
	joinSync(b, c, "room")
	want := `{"ok":true,"clients":100001,"users":60000}`
	testutil.EventuallyWithin(b, time.Minute, "100,000 members written", func() bool {
		_, body := get(b, httpURL(s, "/presence_stats?channel=room"))
		return body == want
	})

	b.Run("broker", func(b *testing.B) {
		for b.Loop() {
			n, err := regs[0].Count(context.Background(), []byte("room"))
			if err != nil || n.Clients != 100_001 {
				b.Fatalf("%+v %v", n, err)
			}
		}
	})
	b.Run("command", func(b *testing.B) {
		msg := []byte(`{"command":"presence_stats","args":{"channel":"room"},"id":1}`)
		for b.Loop() {
			c.WriteMessage(websocket.TextMessage, msg)
			if got := recv(b, c); got != `{"id":1,"ok":true,"clients":100001,"users":60000}` {
				b.Fatal(got)
			}
		}
	})
	b.Run("http", func(b *testing.B) {
		url := httpURL(s, "/presence_stats?channel=room")
		for b.Loop() {
			if _, body := get(b, url); body != want {
				b.Fatal(body)
			}
		}
	})
}

// BenchmarkPresenceDeadNodeCleanup25k times the first presence_stats
// after a node holding 25,000 members of the channel died: the read
// removes them, 1,000 per script call, before it counts. The dead node's
// keys are written before each iteration, off the clock.
//
// go test -run '^$' -bench PresenceDeadNodeCleanup25k -benchtime 5x ./server/
func BenchmarkPresenceDeadNodeCleanup25k(b *testing.B) {
	r := brokertest.StartRedis(b)
	cfg := broker.Config{Driver: "redis", URL: r.URL()}
	br, err := broker.Open(cfg, broker.Handlers{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { br.Close() })
	testutil.Eventually(b, "registry up", func() bool { return br.Health().Up })
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), DisableIdentity: true})
	b.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		pipe := rdb.Pipeline()
		for i := range 25_000 {
			client, user := fmt.Sprintf("dead-%d", i), fmt.Sprintf("u-%d", i)
			pipe.HSet(ctx, "{wsify:room}:p", client, `{"client":"`+client+`","user":"`+user+`"}`)
			pipe.HIncrBy(ctx, "{wsify:room}:pu", user, 1)
			pipe.HSet(ctx, "{wsify:room}:pn:dead", client, user)
			pipe.HSet(ctx, "{wsify:room}:po", client, "dead")
		}
		pipe.ZAdd(ctx, "{wsify:room}:px", redis.Z{Score: 1, Member: "dead"})
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if n, err := br.(broker.Presencer).Count(ctx, []byte("room")); err != nil || n.Clients != 0 {
			b.Fatalf("%+v %v", n, err)
		}
	}
}
