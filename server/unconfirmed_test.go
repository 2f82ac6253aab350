package server_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/internal/brokertest"
	"github.com/wsify/wsify/server"
)

// TestAnUnansweredPublicationIsUnconfirmed: Redis stops answering
// (SIGSTOP) after taking a publication. The publisher is told
// "unconfirmed" (POST /broadcast 504, a client broadcast's error reply),
// not "unavailable": once Redis wakes up it delivers them to the other
// node's subscribers. A retry of the POST with the same Idempotency-Key,
// on another node, is answered as the first should have been and delivers
// nothing more. Channels "h:..." keep history, the others do not.
func TestAnUnansweredPublicationIsUnconfirmed(t *testing.T) {
	r := brokertest.StartRedis(t)
	ns := filepath.Join(t.TempDir(), "ns.json")
	os.WriteFile(ns, []byte(`{"namespaces":{"h":{"history_size":10}}}`), 0o600)
	cfg := server.Config{Broker: broker.Config{Driver: "redis", URL: r.URL(), Timeout: 300 * time.Millisecond}, NamespacesFile: ns}
	a, b := start(t, cfg), start(t, cfg)
	waitHealth(t, a, 200)
	waitHealth(t, b, 200)
	sub := dialPeer(t, b)
	sub.join(t, "plain")
	sub.send(t, `{"command":"join","args":{"channel":"h:news"},"id":1}`)
	epoch := decodePosition(t, sub.next(t)).Epoch
	pub := dialPeer(t, a)
	postAt(t, a, "h:warm", `0`) // Redis has the script: EVALSHA, not NOSCRIPT then EVAL

	r.Pause()
	code, body, _ := postKeyed(t, a, "h:news", `"once"`, "k1")
	if code != 504 || body != `{"error":{"code":"unconfirmed","message":"the broker did not confirm the publication in time: it may have been delivered"}}` {
		t.Fatalf("POST while Redis sleeps: %d %s", code, body)
	}
	r.Resume()
	sub.expect(t, `{"channel":"h:news","offset":1,"content":"once"}`)
	code, body, replayed := postKeyed(t, b, "h:news", `"once"`, "k1")
	if p := decodePosition(t, body); code != 201 || !replayed || p.Offset != 1 || p.Epoch != epoch {
		t.Fatalf("the retry: %d %s (replayed %v)", code, body, replayed)
	}

	// One publication per pause: the one that times out takes its
	// connection with it, and a fresh one could not even be set up.
	postToChannel(t, a, "warm", `0`)
	r.Pause()
	if code, body, _ := postKeyed(t, a, "plain", `"plain"`, "k2"); code != 504 {
		t.Fatalf("POST on a channel without history while Redis sleeps: %d %s", code, body)
	}
	r.Resume()
	sub.expect(t, `{"channel":"plain","content":"plain"}`)

	postToChannel(t, a, "warm", `0`)
	r.Pause()
	pub.send(t, `{"command":"broadcast","args":{"channel":"plain","content":"ws"},"id":"b"}`)
	pub.expect(t, `{"id":"b","error":{"code":"unconfirmed","message":"the broker did not confirm the publication in time: it may have been delivered"}}`)
	r.Resume()
	sub.expect(t, `{"channel":"plain","content":"ws"}`)
	quiet(t, sub)
}
