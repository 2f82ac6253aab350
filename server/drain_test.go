package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/server"
)

// drained is what one client saw of a gentle drain.
type drained struct {
	at       time.Duration // since the shutdown began
	code     int
	reason   string
	received int
	err      error
}

// TestGentleDrainSpreadsTheCloses: with a drain period, the closes of a
// shutdown spread over it; each is 1001 with a reason carrying a reconnect
// delay within the period, and each client got what was queued for it
// first.
func TestGentleDrainSpreadsTheCloses(t *testing.T) {
	const n, period, msgs = 1000, 2 * time.Second, 5
	s := start(t, server.Config{DrainPeriod: period, ShutdownTimeout: 20 * time.Second})
	clients := make([]*websocket.Conn, n)
	for i := range clients {
		clients[i] = dial(t, s)
		joinSync(t, clients[i], "all")
	}
	var times []time.Duration
	for _, r := range shutDownDrained(t, s, clients, msgs, period, 20*time.Second) {
		times = append(times, r.at)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	t.Logf("closes: first %v, median %v, last %v", times[0], times[n/2], times[n-1])
	if first, last := times[n/10], times[n-n/10]; last-first < period/2 {
		t.Fatalf("80%% of the closes within %v of each other: not spread over %v", last-first, period)
	}
}

// readUntilClose reads deliveries until the close frame.
func readUntilClose(c *websocket.Conn, began time.Time) drained {
	var r drained
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if ce, ok := err.(*websocket.CloseError); ok {
			r.at, r.code, r.reason = time.Since(began), ce.Code, ce.Text
			return r
		}
		if err != nil {
			r.err = err
			return r
		}
		r.received++
	}
}

// TestUpgradesOverTheRateGetRetryAfter: past the upgrade rate, an upgrade
// gets 503 with a Retry-After from 1 to 10 seconds.
func TestUpgradesOverTheRateGetRetryAfter(t *testing.T) {
	s := start(t, server.Config{MaxUpgradesPerSecond: 5})
	refused := 0
	for range 30 {
		c, resp, err := websocket.DefaultDialer.Dial(wsURL(s, ""), nil)
		if err == nil {
			c.Close()
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("dial: %v", err)
		}
		var secs int
		if _, err := fmt.Sscan(resp.Header.Get("Retry-After"), &secs); err != nil || secs < 1 || secs > 10 {
			t.Fatalf("Retry-After %q, want 1 to 10", resp.Header.Get("Retry-After"))
		}
		refused++
	}
	if refused == 0 {
		t.Fatal("30 upgrades at once at 5 per second: none refused")
	}
	if got := s.Stats().RejectedBy["too_many_upgrades"]; got != int64(refused) {
		t.Fatalf("%d refusals counted, want %d", got, refused)
	}
}

// TestGentleDrainHistogram is the drain at its size: 5,000
// connections (fewer when the fd limit says so: each costs this process
// two) and a drain period of 5 s. The closes spread over the whole period
// (the histogram goes to the test log), each is 1001 with a reconnect
// delay within the period, and each client first got every publication
// queued for it.
func TestGentleDrainHistogram(t *testing.T) {
	if testing.Short() {
		t.Skip("a 5 s drain of 5,000 connections")
	}
	const period, msgs, buckets = 5 * time.Second, 3, 10
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	n := min(5000, (int(lim.Cur)-500)/2)
	if n < 5000 {
		t.Logf("fd limit %d: draining %d connections", lim.Cur, n)
	}
	s := start(t, server.Config{DrainPeriod: period, ShutdownTimeout: 30 * time.Second})
	clients := make([]*websocket.Conn, n)
	for i := range clients {
		clients[i] = dialFrom(t, s, fmt.Sprintf("127.0.0.%d", 2+i/2000))
		joinSync(t, clients[i], "all")
	}
	var hist [buckets + 1]int // the last: after the period
	for _, r := range shutDownDrained(t, s, clients, msgs, period, 30*time.Second) {
		hist[min(buckets, int(r.at*buckets/period))]++
	}
	t.Logf("%d closes over a drain period of %v:", n, period)
	most := slices.Max(hist[:])
	for i, k := range hist {
		from := period * time.Duration(i) / buckets
		label := fmt.Sprintf("%4.1f-%4.1fs", from.Seconds(), (from + period/buckets).Seconds())
		if i == buckets {
			label = fmt.Sprintf("   >%4.1fs", period.Seconds())
		}
		t.Logf("  %s %5d %s", label, k, strings.Repeat("#", k*50/most))
	}
	for i, k := range hist[:buckets] {
		if k < n/buckets/2 {
			t.Fatalf("%d closes in tenth %d of the period, want at least half of an even share (%d)", k, i, n/buckets/2)
		}
	}
	if hist[buckets] > n/buckets/2 {
		t.Fatalf("%d closes after the period", hist[buckets])
	}
}

// shutDownDrained publishes msgs times on "all", which clients joined,
// shuts s down within timeout and returns what each client saw, each
// checked to be the gentle drain: every publication, then 1001 with a
// shutdown reason carrying a reconnect delay within period.
func shutDownDrained(t *testing.T, s *server.Server, clients []*websocket.Conn, msgs int, period, timeout time.Duration) []drained {
	t.Helper()
	for i := range msgs {
		postToChannel(t, s, "all", fmt.Sprint(i))
	}
	began := time.Now()
	results := make(chan drained, len(clients))
	for _, c := range clients {
		go func() { results <- readUntilClose(c, began) }()
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	out := make([]drained, len(clients))
	for i := range out {
		r := <-results
		if r.err != nil || r.code != websocket.CloseGoingAway || r.received != msgs {
			t.Fatalf("a client got %d of %d publications, then close %d %q (%v)", r.received, msgs, r.code, r.reason, r.err)
		}
		var reason struct {
			Reason    string `json:"reason"`
			Reconnect bool   `json:"reconnect"`
			DelayMS   int64  `json:"delay_ms"`
		}
		if err := json.Unmarshal([]byte(r.reason), &reason); err != nil || reason.Reason != "shutdown" || !reason.Reconnect ||
			reason.DelayMS < 0 || reason.DelayMS > period.Milliseconds() {
			t.Fatalf("close reason %q: want shutdown, reconnect, a delay from 0 to %v", r.reason, period)
		}
		out[i] = r
	}
	return out
}

// dialFrom opens a client connection from source address src.
func dialFrom(t testing.TB, s *server.Server, src string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second,
		NetDial: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}).Dial}
	c, _, err := d.Dial(wsURL(s, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
