package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/internal/brokertest"
	"github.com/wsify/wsify/server"
)

// postKeyed POSTs content to channel with an Idempotency-Key, and returns
// the status, the body and whether the answer says it was replayed.
func postKeyed(t testing.TB, s *server.Server, channel, content, key string) (int, string, bool) {
	t.Helper()
	body := fmt.Sprintf(`{"channel":%q,"content":%s}`, channel, content)
	resp, b := do(t, http.MethodPost, httpURL(s, "/broadcast"), "application/json", body, nil, "Idempotency-Key", key)
	return resp.StatusCode, b, resp.Header.Get("Idempotent-Replayed") == "true"
}

// TestIdempotencyKeyAcrossNodes: on a history channel kept in Redis (one
// server, and a cluster), a publication POSTed to node A and retried with
// the same key on node B is delivered once, and both answers name the same
// offset; the retry says it was replayed. Another key, or the same key on
// another channel, publishes.
func TestIdempotencyKeyAcrossNodes(t *testing.T) {
	setups := map[string]func(t *testing.T) broker.Config{
		"redis": func(t *testing.T) broker.Config {
			return broker.Config{Driver: "redis", URL: brokertest.StartRedis(t).URL()}
		},
		"redis-cluster": func(t *testing.T) broker.Config { c, _ := shardedCluster(t); return c.cfg },
	}
	for name, setup := range setups {
		t.Run(name, func(t *testing.T) {
			cfg := server.Config{Broker: setup(t), HistorySize: 100, HistoryTTL: time.Minute}
			a, b := start(t, cfg), start(t, cfg)
			waitHealth(t, a, 200)
			waitHealth(t, b, 200)
			sub := dialPeer(t, b)
			sub.send(t, `{"command":"join","args":{"channel":"news"},"id":1}`)
			epoch := decodePosition(t, sub.next(t)).Epoch
			sub.send(t, `{"command":"join","args":{"channel":"sport"},"id":2}`)
			sub.next(t)

			code, first, replayed := postKeyed(t, a, "news", `"hello"`, "order-42")
			if code != 201 || replayed || first != fmt.Sprintf(`{"ok":true,"offset":1,"epoch":%q}`, epoch) {
				t.Fatalf("first POST: %d %s (replayed %v)", code, first, replayed)
			}
			code, again, replayed := postKeyed(t, b, "news", `"hello"`, `"order-42"`) // the draft's quoted form
			if code != 201 || !replayed || again != first {
				t.Fatalf("retry on the other node: %d %s (replayed %v), want %s", code, again, replayed, first)
			}
			sub.expect(t, `{"channel":"news","offset":1,"content":"hello"}`)
			if code, body, replayed := postKeyed(t, b, "news", `"next"`, "order-43"); code != 201 || replayed || decodePosition(t, body).Offset != 2 {
				t.Fatalf("another key: %d %s (replayed %v)", code, body, replayed)
			}
			sub.expect(t, `{"channel":"news","offset":2,"content":"next"}`)
			if code, body, replayed := postKeyed(t, a, "sport", `"goal"`, "order-42"); code != 201 || replayed || decodePosition(t, body).Offset != 1 {
				t.Fatalf("the key on another channel: %d %s (replayed %v)", code, body, replayed)
			}
			sub.expect(t, `{"channel":"sport","offset":1,"content":"goal"}`)
			quiet(t, sub)
		})
	}
}

// TestIdempotencyKeyOnTheNode: without history the node keeps the keys of
// its publications: a retry on the same node is answered as the first was
// and delivers nothing; a malformed key is refused before anything is
// published; with the setting off the header is ignored.
func TestIdempotencyKeyOnTheNode(t *testing.T) {
	s := start(t, server.Config{})
	sub := dialPeer(t, s)
	sub.join(t, "news")
	for i := range 2 {
		if code, body, replayed := postKeyed(t, s, "news", `1`, "k1"); code != 201 || body != `{"ok":true}` || replayed != (i == 1) {
			t.Fatalf("POST %d: %d %s (replayed %v)", i, code, body, replayed)
		}
	}
	sub.expect(t, `{"channel":"news","content":1}`)
	for _, bad := range []string{`""`, "a b", "{tag}", "é", strings.Repeat("k", 129)} {
		if code, body, _ := postKeyed(t, s, "news", `2`, bad); code != 400 || body != `{"error":{"code":"bad_idempotency_key","message":"Idempotency-Key must be 1 to 128 visible ASCII characters other than { and }, optionally in double quotes"}}` {
			t.Fatalf("key %q: %d %s", bad, code, body)
		}
	}
	quiet(t, sub)

	off := start(t, server.Config{IdempotencyTTL: -1})
	p := dialPeer(t, off)
	p.join(t, "news")
	for range 2 {
		if code, _, replayed := postKeyed(t, off, "news", `1`, "k1"); code != 201 || replayed {
			t.Fatalf("with the setting off: %d (replayed %v)", code, replayed)
		}
		p.expect(t, `{"channel":"news","content":1}`)
	}
}
