package hub_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wsify/wsify/hub"
)

// variantSub takes a message's variant when it wants one, as a connection
// that negotiated compression does, and keeps only the last frame and a
// count, so it allocates nothing.
type variantSub struct {
	wants bool
	mu    sync.Mutex
	last  []byte // guarded by mu
	n     int    // guarded by mu
}

func (s *variantSub) Enqueue(m *hub.Message) bool {
	f := m.Frame
	if s.wants {
		f = m.Variant()
	}
	s.mu.Lock()
	s.last, s.n = f, s.n+1
	s.mu.Unlock()
	return false
}

func (s *variantSub) Flush() {}

func variantSubs(h *hub.Hub, channel string, n int, wants func(i int) bool) []*variantSub {
	subs := make([]*variantSub, n)
	for i := range subs {
		subs[i] = &variantSub{wants: wants(i)}
		h.Join([]byte(channel), subs[i])
	}
	return subs
}

func TestMessageVariantIsBuiltOnceAndShared(t *testing.T) {
	h := hub.New(hub.Config{})
	subs := variantSubs(h, "c", 50, func(i int) bool { return i%2 == 0 })
	var builds atomic.Int32
	frame := []byte("plain")
	m := hub.NewMessage(frame, func(f []byte) []byte {
		builds.Add(1)
		return append([]byte("squeezed:"), f...)
	})
	if n := h.PublishMessage([]byte("c"), m); n != 50 {
		t.Fatalf("reached %d subscribers, want 50", n)
	}
	if builds.Load() != 1 {
		t.Fatalf("variant built %d times for one publication, want once", builds.Load())
	}
	v := m.Variant()
	for i, s := range subs {
		want := frame
		if s.wants {
			want = v
		}
		if &s.last[0] != &want[0] {
			t.Fatalf("subscriber %d (wants variant %v) got %q, not the shared bytes %q", i, s.wants, s.last, want)
		}
	}
}

func TestMessageVariantIsNotBuiltWithoutTakers(t *testing.T) {
	h := hub.New(hub.Config{})
	variantSubs(h, "c", 10, func(int) bool { return false })
	m := hub.NewMessage([]byte("plain"), func([]byte) []byte { t.Fatal("variant built for nobody"); return nil })
	h.PublishMessage([]byte("c"), m)
}

func TestMessageVariantFallsBackToFrame(t *testing.T) {
	frame := []byte("plain")
	for _, m := range []*hub.Message{
		hub.NewMessage(frame, nil),
		hub.NewMessage(frame, func([]byte) []byte { return nil }),
	} {
		if v := m.Variant(); &v[0] != &frame[0] {
			t.Fatalf("variant %q, want the frame itself", v)
		}
	}
}

func TestMessageVariantConcurrentCallersShareOneBuild(t *testing.T) {
	var builds atomic.Int32
	m := hub.NewMessage([]byte("x"), func(f []byte) []byte { builds.Add(1); return []byte("y") })
	var wg sync.WaitGroup
	got := make([][]byte, 16)
	for i := range got {
		wg.Go(func() { got[i] = m.Variant() })
	}
	wg.Wait()
	for _, g := range got {
		if &g[0] != &got[0][0] {
			t.Fatal("callers got different variants")
		}
	}
	if builds.Load() != 1 {
		t.Fatalf("built %d times, want once", builds.Load())
	}
}

// Deliveries allocate nothing: Publish not at all, PublishMessage only its
// message, whatever the subscriber count and whoever takes the variant.
func TestPublishAllocatesNothingPerDelivery(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	h := hub.New(hub.Config{})
	variantSubs(h, "c", 1000, func(i int) bool { return i%3 == 0 })
	frame, squeezed := []byte("plain"), []byte("squeezed")
	variant := func([]byte) []byte { return squeezed }
	h.Publish([]byte("c"), frame) // warm the pools
	if a := testing.AllocsPerRun(50, func() { h.Publish([]byte("c"), frame) }); a != 0 {
		t.Errorf("Publish to 1000 subscribers: %v allocations, want 0", a)
	}
	a := testing.AllocsPerRun(50, func() { h.PublishMessage([]byte("c"), hub.NewMessage(frame, variant)) })
	if a > 1 {
		t.Errorf("PublishMessage to 1000 subscribers: %v allocations, want the message's only", a)
	}
}
