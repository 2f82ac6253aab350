package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/wsify/wsify/server"
)

// operatorCounter is one counter where an operator reads it: a dotted
// path in GET /stats and a series of GET /metrics.
type operatorCounter struct{ stats, metric string }

var (
	pingsCounter       = operatorCounter{"limits.pings", "wsify_pings_total"}
	deadPeersCounter   = operatorCounter{"limits.dead_peers", "wsify_dead_peers_total"}
	floodersCounter    = operatorCounter{"limits.flooders", "wsify_flooders_total"}
	rateLimitedCounter = operatorCounter{"limits.rate_limited", "wsify_rate_limited_total"}
	slowCounter        = operatorCounter{"limits.slow_consumers", "wsify_slow_consumer_disconnects_total"}
	slowTotalCounter   = operatorCounter{"slow_consumers", "wsify_slow_consumer_disconnects_total"}
)

// counterWant is a value a counter must have, or reach when atLeast.
type counterWant struct {
	c       operatorCounter
	n       float64
	atLeast bool
}

func exactly(c operatorCounter, n int) counterWant  { return counterWant{c, float64(n), false} }
func atLeastN(c operatorCounter, n int) counterWant { return counterWant{c, float64(n), true} }

// TestLimitCountersReachStatsAndMetrics drives each event a limit counts,
// on a server of its own so that the counts are exact where the event is,
// and reads the counter over HTTP from both operator endpoints.
func TestLimitCountersReachStatsAndMetrics(t *testing.T) {
	t.Run("ping answered", pingAnswered)
	t.Run("dead peer", deadPeer)
	t.Run("flooder", flooder)
	t.Run("slow consumer", slowConsumer)
}

func pingAnswered(t *testing.T) {
	s := start(t, pingConfig)
	c := dial(t, s)
	pings := countPings(c)
	readInBackground(c)
	eventually(t, "a ping", func() bool { return pings.Load() >= 1 })
	expectCounters(t, s, atLeastN(pingsCounter, 1), exactly(deadPeersCounter, 0))
}

// deadPeer: a client that reads but never sends is pinged once, then
// dropped once.
func deadPeer(t *testing.T) {
	s := start(t, pingConfig)
	r := rawDial(t, s)
	r.expectFrame(opPing, "")
	eventually(t, "the silent peer dropped", func() bool { return s.Stats().Open == 0 })
	expectCounters(t, s, exactly(pingsCounter, 1), exactly(deadPeersCounter, 1))
}

// flooder sends at once more commands than both buckets of a rate limit
// of 5 hold; the flood is one write, so the server has read it all when
// it closes (see TestRateLimitRefusesThenClosesFlooder).
func flooder(t *testing.T) {
	s := start(t, server.Config{RateLimit: 5, ReadBufferBytes: 16384})
	r := rawDial(t, s)
	var flood []byte
	for i := range 30 {
		flood = append(flood, frame(opText, fmt.Sprintf(`{"command":"leave","args":{"channel":"x"},"id":%d}`, i))...)
	}
	r.write(flood)
	_, limited := r.repliesUntilClose(1008)
	expectCounters(t, s, exactly(floodersCounter, 1), exactly(rateLimitedCounter, limited))
}

// slowConsumer: a subscriber with a small receive window that never reads
// is closed once its outbox passes the limit.
func slowConsumer(t *testing.T) {
	s := start(t, server.Config{OutboxBytes: 64 << 10})
	ch := freshChannel("slow")
	rawJoin(dialSmallWindow(t, s), ch) // and never read again
	content := strconv.Quote(strings.Repeat("x", 4<<10))
	const maxMessages = 8000 // ~32 MB: far past what loopback buffers hold
	for sent := 0; s.Stats().Open != 0; sent++ {
		if sent == maxMessages {
			t.Fatalf("slow consumer still connected after %d messages", sent)
		}
		postToChannel(t, s, ch, content)
	}
	expectCounters(t, s, exactly(slowCounter, 1), exactly(slowTotalCounter, 1))
}

// expectCounters reads GET /stats and GET /metrics once each and checks
// every counter of wants in both.
func expectCounters(t *testing.T, s *server.Server, wants ...counterWant) {
	t.Helper()
	code, body := get(t, httpURL(s, "/stats"))
	var st map[string]any
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil {
		t.Fatalf("GET /stats: %d %v\n%s", code, err, body)
	}
	m := scrape(t, httpURL(s, "/metrics"))
	for _, w := range wants {
		fromStats, ok := jsonNumber(st, w.c.stats)
		if !ok {
			t.Errorf("GET /stats has no number at %s", w.c.stats)
		}
		fromMetrics, ok := m[w.c.metric]
		if !ok {
			t.Errorf("GET /metrics has no %s", w.c.metric)
		}
		checkCount(t, "GET /stats "+w.c.stats, fromStats, w)
		checkCount(t, "GET /metrics "+w.c.metric, fromMetrics, w)
	}
}

func checkCount(t *testing.T, where string, got float64, w counterWant) {
	t.Helper()
	switch {
	case w.atLeast && got < w.n:
		t.Errorf("%s = %v, want at least %v", where, got, w.n)
	case !w.atLeast && got != w.n:
		t.Errorf("%s = %v, want %v", where, got, w.n)
	}
}

// jsonNumber follows a dotted path of object keys in v to a number.
func jsonNumber(v map[string]any, path string) (float64, bool) {
	var cur any = v
	for _, key := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return 0, false
		}
		cur = obj[key]
	}
	n, ok := cur.(float64)
	return n, ok
}
