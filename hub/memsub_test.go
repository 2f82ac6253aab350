package hub_test

import (
	"sync"
	"testing"
	"time"

	"github.com/wsify/wsify/hub"
	"github.com/wsify/wsify/internal/testutil"
)

// memSub is an in-memory Subscriber with the contract of a connection's
// outbox: Enqueue queues without blocking and asks for a Flush only when
// none is owed; Flush delivers everything queued, in order. It keeps
// count of what it was asked so tests can check the hub's side of the
// contract, and it is the subscriber BenchmarkPublish1000 publishes to.
type memSub struct {
	record  bool   // keep every delivered frame in got; benchmarks only count
	onFlush func() // runs at the start of Flush when set; set before use

	mu       sync.Mutex
	queued   [][]byte // frames enqueued since the last Flush; guarded by mu
	owed     bool     // Enqueue asked for a Flush that has not run; guarded by mu
	got      [][]byte // delivered frames in order, when record; guarded by mu
	frames   int      // frames delivered; guarded by mu
	needed   int      // Enqueue calls that returned true; guarded by mu
	flushes  int      // Flush calls; guarded by mu
	spurious int      // Flush calls while no flush was owed; guarded by mu
}

func (s *memSub) Enqueue(m *hub.Message) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued = append(s.queued, m.Frame)
	if s.owed {
		return false
	}
	s.owed, s.needed = true, s.needed+1
	return true
}

func (s *memSub) Flush() {
	if s.onFlush != nil {
		s.onFlush()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushes++
	if !s.owed {
		s.spurious++
	}
	if s.record {
		s.got = append(s.got, s.queued...)
	}
	s.frames += len(s.queued)
	clear(s.queued)
	s.queued, s.owed = s.queued[:0], false
}

type subStats struct{ frames, needed, flushes, spurious int }

func (s *memSub) stats() subStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return subStats{s.frames, s.needed, s.flushes, s.spurious}
}

// delivered returns a copy of the frames delivered so far as strings.
func (s *memSub) delivered() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.got))
	for i, f := range s.got {
		out[i] = string(f)
	}
	return out
}

func newSubs(n int, record bool) []*memSub {
	subs := make([]*memSub, n)
	for i := range subs {
		subs[i] = &memSub{record: record}
	}
	return subs
}

// allDelivered reports whether every sub has been delivered want frames.
func allDelivered(subs []*memSub, want int) bool {
	for _, s := range subs {
		if s.stats().frames < want {
			return false
		}
	}
	return true
}

// eventually polls cond until it holds, failing the test after a generous
// deadline: the flushes of an asynchronous Dispatch finish on their own
// time, and the race detector slows the many publishers of these tests.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.EventuallyWithin(t, 20*time.Second, what, cond)
}
