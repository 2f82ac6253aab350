package broker_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/internal/brokertest"
	"github.com/wsify/wsify/internal/testutil"
)

// failoverResume bounds how long after a master is killed publications on
// every channel are taken and delivered again: the cluster needs its node
// timeout (1s here) and an election to promote the replica, then the
// driver a reload of the slot map (within MaxBackoff) and a confirmed
// session per partition.
const failoverResume = 10 * time.Second

// TestClusterFailover kills a master while publications flow on channels
// of every shard. Each subscriber node goes down and comes back up within
// failoverResume, and so do publications on every channel. No publication
// is delivered twice. Every one acknowledged before the kill, or after the
// subscriber was up again, reaches it: between the two, sharded pub/sub,
// which keeps nothing, may lose what the new master took before this
// subscriber had subscribed there (the publisher may be up first). Those
// are gaps, counted in the log.
func TestClusterFailover(t *testing.T) {
	c := brokertest.StartCluster(t, 3, 1)
	cfg := clusterConfig(c)
	pub := open(t, cfg)
	subs := []*tally{openTally(t, cfg), openTally(t, cfg)}
	channels := spread(c, 2)
	for _, s := range subs {
		for _, ch := range channels {
			s.b.Subscribe([]byte(ch))
		}
	}
	pub.waitUp(t)
	testutil.Eventually(t, "both subscribers on every shard", func() bool {
		return shardSubs(c, channels...) == 2*len(channels)
	})

	l := &publog{acked: map[string]time.Time{}}
	l.run(t, pub.b, channels, 200, nil)
	killed := time.Now()
	c.Nodes[0].Stop()
	resumed := l.run(t, pub.b, channels, 0, func(sent time.Time) bool {
		return sent.After(killed) && l.ackedAfter(killed) >= 10*len(channels)
	})
	t.Logf("every channel took publications again %v after the kill; %d acknowledged, %d refused",
		resumed.Sub(killed), len(l.acked), l.refused)
	if resumed.Sub(killed) > failoverResume {
		t.Fatalf("publications resumed %v after the kill; want within %v", resumed.Sub(killed), failoverResume)
	}
	for i, s := range subs {
		back := s.upAgain(t)
		t.Logf("subscriber %d up again %v after the kill", i, back.Sub(killed))
		if back.Sub(killed) > failoverResume {
			t.Errorf("subscriber %d up again %v after the kill; want within %v", i, back.Sub(killed), failoverResume)
		}
		s.check(t, l, killed, back)
	}
}

// publog is what a publisher sent: frame -> when it was acknowledged.
type publog struct {
	n       int
	acked   map[string]time.Time
	refused int
}

// run publishes round robin on channels, a publication each millisecond,
// n of them, or until done says so of a time every channel had an
// acknowledged publication since; it returns that time. It gives up after
// 30s.
func (l *publog) run(t *testing.T, b broker.Broker, channels []string, n int, done func(time.Time) bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	round := time.Time{}
	for i := 0; (n == 0 || i < n) && time.Now().Before(deadline); i++ {
		ch := channels[l.n%len(channels)]
		if l.n%len(channels) == 0 {
			round = time.Now()
		}
		frame := fmt.Sprintf("%s/%d", ch, l.n)
		l.n++
		if err := b.Publish([]byte(ch), []byte(frame)); err != nil {
			l.refused++
			round = time.Time{} // this round had a gap
		} else {
			l.acked[frame] = time.Now()
		}
		if done != nil && !round.IsZero() && l.n%len(channels) == 0 && done(round) {
			return round
		}
		time.Sleep(time.Millisecond)
	}
	if n == 0 {
		t.Fatalf("publications did not resume within 30s: %d refused", l.refused)
	}
	return time.Now()
}

func (l *publog) ackedAfter(at time.Time) int {
	n := 0
	for _, when := range l.acked {
		if when.After(at) {
			n++
		}
	}
	return n
}

// tally is a subscriber node counting what it receives.
type tally struct {
	b    broker.Broker
	mu   sync.Mutex
	seen map[string]int // frame -> deliveries; guarded by mu
	ups  []time.Time    // when it went up; guarded by mu
	down bool           // it went down since; guarded by mu
}

func openTally(t *testing.T, cfg broker.Config) *tally {
	t.Helper()
	s := &tally{seen: map[string]int{}}
	b, err := broker.Open(cfg, broker.Handlers{Message: func(_, frame []byte) {
		s.mu.Lock()
		s.seen[string(frame)]++
		s.mu.Unlock()
	}, State: func(h broker.Health) {
		s.mu.Lock()
		if h.Up {
			s.ups = append(s.ups, time.Now())
		} else {
			s.down = true
		}
		s.mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.b = b
	t.Cleanup(func() { b.Close() })
	return s
}

// upAgain is when the subscriber last came up, after it went down.
func (s *tally) upAgain(t *testing.T) time.Time {
	t.Helper()
	var at time.Time
	testutil.Eventually(t, "the subscriber down and up again", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.down && len(s.ups) > 1 {
			at = s.ups[len(s.ups)-1]
		}
		return !at.IsZero()
	})
	return at
}

// check: no frame came twice, and every one acknowledged before the kill
// or after back came. It logs what was lost in between.
func (s *tally) check(t *testing.T, l *publog, killed, back time.Time) {
	t.Helper()
	inGap := func(when time.Time) bool { return when.After(killed) && when.Before(back) }
	missing := func() []string {
		s.mu.Lock()
		defer s.mu.Unlock()
		var out []string
		for frame, when := range l.acked {
			if s.seen[frame] == 0 && !inGap(when) {
				out = append(out, fmt.Sprintf("%s (acknowledged %v after the kill)", frame, when.Sub(killed)))
			}
		}
		return out
	}
	if !testutil.Poll(5*time.Second, func() bool { return len(missing()) == 0 }) {
		t.Errorf("acknowledged publications never delivered: %v", missing())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	gap, lost := 0, 0
	for frame, when := range l.acked {
		if inGap(when) {
			gap++
			lost += min(1, 1-s.seen[frame])
		}
	}
	t.Logf("%d publications acknowledged in the gap, %d of them lost", gap, lost)
	for frame, n := range s.seen {
		if n > 1 {
			t.Errorf("%s delivered %d times", frame, n)
		}
	}
}
