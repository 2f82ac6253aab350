package server_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsify/wsify/internal/testutil"
	"github.com/wsify/wsify/server"
)

// shardFailoverResume bounds how long after a master is killed every node
// is up again: the cluster's node timeout (1s in tests) and election, then
// the driver's reload of the slot map and resubscription (README,
// "Scaling out").
const shardFailoverResume = 10 * time.Second

// TestShardedFailover kills a master while POST /broadcast publishes on
// channels of every shard through three nodes, each with a client on every
// channel. Each node is up again within shardFailoverResume; no client
// gets a publication twice; each gets every publication acknowledged
// (201) before the kill or after every node was up again. Between the two
// some are refused (503, or 504 unconfirmed when the dying master took one
// and never answered) and some acknowledged ones may miss a node that
// had not subscribed on the new master yet: sharded pub/sub keeps nothing.
func TestShardedFailover(t *testing.T) {
	c, rc := shardedCluster(t)
	nodes := startNodes(t, 3, c.cfg)
	channels := rc.Spread(2, shardKey)
	var tallies []*peerTally
	for _, s := range nodes {
		p := dialPeer(t, s)
		for _, ch := range channels {
			p.join(t, ch)
		}
		tallies = append(tallies, tallyPeer(p))
	}
	for _, ch := range channels {
		waitSubscribers(t, c, ch, nodes...)
	}
	pub := &poster{nodes: nodes, channels: channels, acked: map[string]time.Time{}, stop: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- pub.run() }()
	pub.waitAcked(t, 150, time.Time{})
	killed := time.Now()
	rc.Nodes[0].Stop()
	back := waitBackUp(t, nodes)
	t.Logf("every node up again %v after the kill", back.Sub(killed))
	if back.Sub(killed) > shardFailoverResume {
		t.Fatalf("nodes up again %v after the kill; want within %v", back.Sub(killed), shardFailoverResume)
	}
	pub.waitAcked(t, 60, back)
	close(pub.stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d publications acknowledged, %d refused", len(pub.acked), pub.refused)
	for _, pt := range tallies {
		pt.check(t, pub.acked, killed, back)
	}
}

// poster publishes round robin over the nodes and channels, a publication
// each millisecond until stopped, recording the content of each
// acknowledged one.
type poster struct {
	nodes    []*server.Server
	channels []string
	stop     chan struct{}

	mu      sync.Mutex
	acked   map[string]time.Time // message -> when acknowledged; guarded by mu
	refused int                  // guarded by mu
}

func (p *poster) run() error {
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		select {
		case <-p.stop:
			return nil
		case <-time.After(time.Millisecond):
		}
		s, ch := p.nodes[i%len(p.nodes)], p.channels[i%len(p.channels)]
		body := fmt.Sprintf(`{"channel":%q,"content":"%s/%d"}`, ch, ch, i)
		resp, err := http.Post(httpURL(s, "/broadcast"), "application/json", strings.NewReader(body))
		if err != nil {
			return err
		}
		resp.Body.Close()
		p.mu.Lock()
		switch resp.StatusCode {
		case http.StatusCreated:
			p.acked[body] = time.Now()
		case http.StatusServiceUnavailable, http.StatusGatewayTimeout: // 504: sent to the dying master, unanswered
			p.refused++
		default:
			err = fmt.Errorf("POST /broadcast %s: %s", body, resp.Status)
		}
		p.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return errors.New("publications went on for 60s")
}

// waitAcked waits until n publications were acknowledged after since.
func (p *poster) waitAcked(t *testing.T, n int, since time.Time) {
	t.Helper()
	testutil.EventuallyWithin(t, 30*time.Second, fmt.Sprintf("%d publications acknowledged", n), func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		k := 0
		for _, when := range p.acked {
			if when.After(since) {
				k++
			}
		}
		return k >= n
	})
}

// waitBackUp waits until every node went down and is up again, and
// returns when the last came back.
func waitBackUp(t *testing.T, nodes []*server.Server) time.Time {
	t.Helper()
	var last time.Time
	testutil.EventuallyWithin(t, 30*time.Second, "every node's broker down and up again", func() bool {
		last = time.Time{}
		for _, s := range nodes {
			st := s.BrokerStats()
			since, err := time.Parse(time.RFC3339Nano, st.Since)
			if st.Downs == 0 || !st.Up || err != nil {
				return false
			}
			if since.After(last) {
				last = since
			}
		}
		return true
	})
	return last
}

// peerTally counts what a client receives, as it comes.
type peerTally struct {
	mu   sync.Mutex
	seen map[string]int // message -> times received; guarded by mu
}

func tallyPeer(p *peer) *peerTally {
	pt := &peerTally{seen: map[string]int{}}
	go func() {
		for m := range p.in {
			pt.mu.Lock()
			pt.seen[m]++
			pt.mu.Unlock()
		}
	}()
	return pt
}

func (pt *peerTally) check(t *testing.T, acked map[string]time.Time, killed, back time.Time) {
	t.Helper()
	inGap := func(when time.Time) bool { return when.After(killed) && when.Before(back) }
	missing := func() (out []string) {
		pt.mu.Lock()
		defer pt.mu.Unlock()
		for m, when := range acked {
			if pt.seen[m] == 0 && !inGap(when) {
				out = append(out, m)
			}
		}
		return out
	}
	if !testutil.Poll(5*time.Second, func() bool { return len(missing()) == 0 }) {
		t.Errorf("acknowledged publications never delivered: %v", missing())
	}
	pt.mu.Lock()
	defer pt.mu.Unlock()
	lost := 0
	for m, when := range acked {
		if inGap(when) && pt.seen[m] == 0 {
			lost++
		}
	}
	t.Logf("a client missed %d publications acknowledged during the failover", lost)
	for m, n := range pt.seen {
		if n > 1 {
			t.Errorf("%s received %d times", m, n)
		}
	}
}
