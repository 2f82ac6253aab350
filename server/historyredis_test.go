package server_test

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/internal/brokertest"
	"github.com/wsify/wsify/server"
)

// redisHistoryNodes starts k nodes sharing a real redis-server, keeping
// history in it.
func redisHistoryNodes(t *testing.T, k int, cfg server.Config) ([]*server.Server, *brokertest.Redis) {
	t.Helper()
	r := brokertest.StartRedis(t)
	return historyNodes(t, k, cfg, broker.Config{Driver: "redis", URL: r.URL()}), r
}

// historyNodes starts k nodes of cfg on broker b, keeping history there
// (100 publications for a minute unless cfg says).
func historyNodes(t *testing.T, k int, cfg server.Config, b broker.Config) []*server.Server {
	t.Helper()
	cfg.Broker = b
	cfg.HistorySize = cmp.Or(cfg.HistorySize, 100)
	cfg.HistoryTTL = cmp.Or(cfg.HistoryTTL, time.Minute)
	return startNodesWith(t, k, cfg)
}

func TestRedisHistoryIsSharedByEveryNode(t *testing.T) {
	nodes, _ := redisHistoryNodes(t, 2, server.Config{})
	a, b := nodes[0], nodes[1]
	ca := dial(t, a)
	p := joinAt(t, ca, "news", "")
	if p.Offset != 0 || p.Epoch == "" {
		t.Fatalf("join: %+v", p)
	}
	if got := postAt(t, b, "news", `{"a":1}`); got.Offset != 1 || got.Epoch != p.Epoch {
		t.Fatalf("POST on the other node: %+v (join said %+v)", got, p)
	}
	expect(t, ca, `{"channel":"news","offset":1,"content":{"a":1}}`)
	// The reply and the sender's own delivery, which comes back through
	// Redis, may come in either order.
	send(t, ca, `{"command":"broadcast","args":{"channel":"news","content":"b"},"id":5}`)
	m1, m2 := recv(t, ca), recv(t, ca)
	if strings.HasPrefix(m1, `{"channel"`) {
		m1, m2 = m2, m1
	}
	if r := decodePosition(t, m1); r.Offset != 2 || r.Epoch != p.Epoch || m2 != `{"channel":"news","offset":2,"content":"b"}` {
		t.Fatalf("broadcast reply %s, delivery %s", m1, m2)
	}

	cb := dial(t, b)
	send(t, cb, `{"command":"history","args":{"channel":"news","limit":1},"id":1}`)
	if h := historyOf(t, recv(t, cb)); h.offsets() != `2:"b"` || h.Offset != 2 || h.Epoch != p.Epoch {
		t.Fatalf("history on the other node: %+v %s", h.position, h.offsets())
	}
	q := url.Values{"channel": {"news"}, "since_offset": {"1"}, "epoch": {p.Epoch}}
	code, body := get(t, httpURL(a, "/history?"+q.Encode()))
	if h := historyOf(t, body); code != 200 || h.offsets() != `2:"b"` || h.Recovered == nil || !*h.Recovered {
		t.Fatalf("GET /history: %d %s", code, body)
	}
	send(t, ca, `{"command":"join","args":{"channel":"news"},"id":6}`) // joined already
	expect(t, ca, fmt.Sprintf(`{"id":6,"ok":true,"offset":2,"epoch":%q}`, p.Epoch))
}

func TestRedisRecoveryOnAnotherNodeAndAfterAFlush(t *testing.T) {
	nodes, r := redisHistoryNodes(t, 3, server.Config{})
	c := dial(t, nodes[0])
	p := joinAt(t, c, "news", "")
	postAt(t, nodes[1], "news", `1`)
	expect(t, c, `{"channel":"news","offset":1,"content":1}`)
	c.Close()
	for i := 2; i <= 4; i++ {
		postAt(t, nodes[1], "news", fmt.Sprint(i))
	}
	c = dial(t, nodes[2])
	got := joinAt(t, c, "news", sinceOf(1, p.Epoch))
	if got.Recovered == nil || !*got.Recovered || got.Offset != 4 || got.Epoch != p.Epoch {
		t.Fatalf("recovering join on a third node: %+v", got)
	}
	for i := 2; i <= 4; i++ {
		expect(t, c, fmt.Sprintf(`{"channel":"news","offset":%d,"content":%d}`, i, i))
	}
	postAt(t, nodes[0], "news", `5`)
	expect(t, c, `{"channel":"news","offset":5,"content":5}`)

	rc := redis.NewClient(&redis.Options{Addr: r.URL()[len("redis://"):]})
	defer rc.Close()
	if err := rc.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	c2 := dial(t, nodes[1])
	got = joinAt(t, c2, "news", sinceOf(5, p.Epoch))
	if got.Recovered == nil || *got.Recovered || got.Epoch == p.Epoch || got.Offset != 0 {
		t.Fatalf("join after FLUSHALL: %+v (before: %s)", got, p.Epoch)
	}
	if next := postAt(t, nodes[0], "news", `6`); next.Epoch != got.Epoch || next.Offset != 1 {
		t.Fatalf("publication after the flush: %+v, join said %+v", next, got)
	}
	expect(t, c, `{"channel":"news","offset":1,"content":6}`)
}

// TestRedisHistoryIsBoundedBySizeAndTTL: Redis keeps the last history_size
// publications, and a history idle for its TTL is gone, its epoch with it.
func TestRedisHistoryIsBoundedBySizeAndTTL(t *testing.T) {
	nodes, _ := redisHistoryNodes(t, 1, server.Config{HistorySize: 3, HistoryTTL: 400 * time.Millisecond})
	s := nodes[0]
	var p position
	for i := 1; i <= 5; i++ {
		p = postAt(t, s, "news", fmt.Sprint(i))
	}
	code, body := get(t, httpURL(s, "/history?channel=news"))
	if h := historyOf(t, body); code != 200 || h.offsets() != "3:3 4:4 5:5" || h.Offset != 5 {
		t.Fatalf("GET /history: %d %s", code, body)
	}
	c := dial(t, s)
	if r := joinAt(t, c, "news", sinceOf(1, p.Epoch)); r.Recovered == nil || *r.Recovered {
		t.Fatalf("publication 2 was trimmed, yet %+v", r)
	}
	eventually(t, "the history expired", func() bool {
		_, body := get(t, httpURL(s, "/history?channel=news"))
		h := historyOf(t, body)
		return len(h.Publications) == 0 && h.Epoch != p.Epoch
	})
}
