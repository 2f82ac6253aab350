package hub_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wsify/wsify/hub"
)

func joinAll(h *hub.Hub, name string, subs []*memSub) {
	for _, s := range subs {
		h.Join([]byte(name), s)
	}
}

// checkFlushes checks the hub flushed every subscriber exactly once per
// Enqueue that asked for it, and never when none was owed.
func checkFlushes(t *testing.T, subs []*memSub) {
	t.Helper()
	for i, s := range subs {
		if st := s.stats(); st.flushes != st.needed || st.spurious != 0 {
			t.Fatalf("sub %d: %d flushes for %d needed, %d spurious", i, st.flushes, st.needed, st.spurious)
		}
	}
}

// TestPublishOnce publishes to a large channel with each dispatcher: every
// subscriber gets every frame once and in order, subscribers of another
// channel get nothing, and every needed Flush runs exactly once.
func TestPublishOnce(t *testing.T) {
	const subscribers, frames = 3000, 10
	for _, d := range dispatchers {
		t.Run(d.name, func(t *testing.T) {
			cfg, wait := d.config(t)
			h := hub.New(cfg)
			subs, others := newSubs(subscribers, true), newSubs(10, true)
			joinAll(h, "c", subs)
			joinAll(h, "d", others)
			var want []string
			for i := range frames {
				want = append(want, fmt.Sprint("frame-", i))
				if n := h.Publish([]byte("c"), []byte(want[i])); n != subscribers {
					t.Fatalf("Publish reached %d subscribers, want %d", n, subscribers)
				}
			}
			wait()
			eventually(t, "every frame delivered", func() bool { return allDelivered(subs, frames) })
			checkDelivered(t, subs, want)
			checkDelivered(t, others, []string{})
			checkFlushes(t, subs)
		})
	}
}

func checkDelivered(t *testing.T, subs []*memSub, want []string) {
	t.Helper()
	for i, s := range subs {
		if got := s.delivered(); !slices.Equal(got, want) {
			t.Fatalf("sub %d got %d frames, want %d; first difference %s", i, len(got), len(want), firstDiff(got, want))
		}
	}
}

func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("at %d: %q, want %q", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("at %d: one ends", min(len(got), len(want)))
}

// TestPublishOrder publishes from several goroutines to one channel: every
// subscriber must see the same order, which keeps each publisher's own.
func TestPublishOrder(t *testing.T) {
	const publishers, frames, subscribers = 4, 100, 200
	for _, d := range dispatchers {
		t.Run(d.name, func(t *testing.T) {
			cfg, wait := d.config(t)
			h := hub.New(cfg)
			subs := newSubs(subscribers, true)
			joinAll(h, "c", subs)
			var wg sync.WaitGroup
			for p := range publishers {
				wg.Go(func() {
					for i := range frames {
						h.Publish([]byte("c"), fmt.Appendf(nil, "%d-%03d", p, i))
					}
				})
			}
			wg.Wait()
			wait()
			eventually(t, "every frame delivered", func() bool { return allDelivered(subs, publishers*frames) })
			order := subs[0].delivered()
			checkDelivered(t, subs, order)
			checkPublisherOrder(t, order, publishers)
			checkFlushes(t, subs)
		})
	}
}

// checkPublisherOrder checks each publisher's frames appear in the order it
// published them.
func checkPublisherOrder(t *testing.T, order []string, publishers int) {
	t.Helper()
	for p := range publishers {
		var own []string
		for _, f := range order {
			if f[0] == byte('0'+p) {
				own = append(own, f)
			}
		}
		if !slices.IsSorted(own) {
			t.Fatalf("publisher %d's frames out of order: %q", p, own)
		}
	}
}

func TestPublishUnknownChannel(t *testing.T) {
	h := hub.New(hub.Config{})
	s := &memSub{record: true}
	h.Join([]byte("a"), s)
	h.Leave([]byte("a"), s)
	if n := h.Publish([]byte("a"), []byte("x")); n != 0 || s.stats().frames != 0 || h.Channels() != 0 {
		t.Fatalf("Publish to a channel without subscribers reached %d, delivered %d", n, s.stats().frames)
	}
}

// TestPublishOwedFlush gives the hub a subscriber that already owes a
// Flush: Publish queues on it but must leave the Flush to whoever owes it.
func TestPublishOwedFlush(t *testing.T) {
	h := hub.New(hub.Config{})
	busy, idle := &memSub{record: true}, &memSub{record: true}
	joinAll(h, "c", []*memSub{busy, idle})
	busy.Enqueue(&hub.Message{Frame: []byte("earlier")})
	if n := h.Publish([]byte("c"), []byte("x")); n != 2 {
		t.Fatalf("Publish reached %d, want 2", n)
	}
	if busy.stats().flushes != 0 || idle.stats().flushes != 1 {
		t.Fatalf("flushes: busy %d, idle %d; want 0 and 1", busy.stats().flushes, idle.stats().flushes)
	}
	busy.Flush()
	if got := busy.delivered(); !slices.Equal(got, []string{"earlier", "x"}) {
		t.Fatalf("busy got %q", got)
	}
}

// chunkCases drives TestPublishChunks: how many tasks a fan-out is split
// into for Parallelism and MinChunk; every chunk goes to Dispatch.
var chunkCases = []struct {
	subs, parallelism, minChunk, dispatched int
}{
	{subs: 100, parallelism: 4, minChunk: 10, dispatched: 4}, // 4 chunks of 25
	{subs: 30, parallelism: 4, minChunk: 10, dispatched: 3},  // MinChunk wins: 3 chunks of 10
	{subs: 31, parallelism: 4, minChunk: 10, dispatched: 4},  // 10+10+10+1
	{subs: 5, parallelism: 4, minChunk: 128, dispatched: 1},  // too few to share
	{subs: 1000, parallelism: 1, minChunk: 1, dispatched: 1}, // one worker, one chunk
	{subs: 0, parallelism: 4, minChunk: 1, dispatched: 0},    // nobody to write to
}

func TestPublishChunks(t *testing.T) {
	for _, c := range chunkCases {
		var dispatched int
		run := func(task hub.Task) { dispatched++; task.Run() }
		h := hub.New(hub.Config{Dispatch: run, Parallelism: c.parallelism, MinChunk: c.minChunk})
		subs := newSubs(c.subs, true)
		joinAll(h, "c", subs)
		h.Publish([]byte("c"), []byte("x"))
		if dispatched != c.dispatched || !allDelivered(subs, 1) {
			t.Errorf("%+v: %d tasks dispatched", c, dispatched)
		}
		checkFlushes(t, subs)
	}
}

// TestPublishReturnsBeforeWrites pins that a publisher with workers only
// queues: every write waits for a worker, so frames that pile up for one
// subscriber meanwhile leave in one write, and a subscriber that already
// owes a flush gets no second task.
func TestPublishReturnsBeforeWrites(t *testing.T) {
	var tasks []hub.Task
	h := hub.New(hub.Config{Dispatch: func(t hub.Task) { tasks = append(tasks, t) }, Parallelism: 2, MinChunk: 1})
	subs := newSubs(4, true)
	joinAll(h, "c", subs)
	h.Publish([]byte("c"), []byte("x"))
	h.Publish([]byte("c"), []byte("y"))
	if len(tasks) != 2 || subs[0].stats().flushes != 0 {
		t.Fatalf("after two publications: %d tasks, %d flushes; want 2 tasks, no write yet", len(tasks), subs[0].stats().flushes)
	}
	for _, task := range tasks {
		task.Run()
	}
	for _, s := range subs {
		if got := s.delivered(); s.stats().flushes != 1 || !slices.Equal(got, []string{"x", "y"}) {
			t.Fatalf("got %q in %d flushes, want both in one", got, s.stats().flushes)
		}
	}
}

// TestFlushOutsideLocks has Flush call back into the hub, on the channel
// being published to. That deadlocks if Flush runs under a hub lock.
func TestFlushOutsideLocks(t *testing.T) {
	for _, d := range dispatchers {
		t.Run(d.name, func(t *testing.T) {
			cfg, wait := d.config(t)
			h := hub.New(cfg)
			subs := newSubs(300, true)
			for _, s := range subs {
				s.onFlush = func() { reenter(h, s) }
			}
			joinAll(h, "c", subs)
			done := make(chan struct{})
			go func() { h.Publish([]byte("c"), []byte("x")); wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("Publish deadlocked: Flush runs under a hub lock")
			}
		})
	}
}

func reenter(h *hub.Hub, s *memSub) {
	other := &memSub{}
	h.Join([]byte("c"), other)
	h.Subscribers([]byte("c"))
	h.Leave([]byte("c"), other)
	h.Publish([]byte("elsewhere"), []byte("y"))
}
