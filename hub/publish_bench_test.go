package hub_test

import (
	"testing"

	"github.com/wsify/wsify/hub"
)

// fanOut is the BenchmarkPublish1000 setup: 1,000 in-memory subscribers on
// one channel and a broadcast-sized frame.
const fanOut = 1000

var benchFrame = []byte("\x81\x28{\"channel\":\"news\",\"content\":{\"n\":12345}}")

func newFanOut(tb testing.TB, d dispatcher) (*hub.Hub, func()) {
	cfg, wait := d.config(tb)
	h := hub.New(cfg)
	joinAll(h, "news", newSubs(fanOut, false))
	h.Publish([]byte("news"), benchFrame) // first use sizes each outbox
	wait()
	return h, wait
}

// TestPublishAllocs pins Publish to 1,000 subscribers at zero allocations
// for the dispatchers that can promise it (the goroutine one starts a
// goroutine per chunk).
func TestPublishAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under -race")
	}
	for _, d := range dispatchers {
		if !d.zeroAlloc {
			continue
		}
		t.Run(d.name, func(t *testing.T) {
			h, wait := newFanOut(t, d)
			allocs := testing.AllocsPerRun(200, func() {
				h.Publish([]byte("news"), benchFrame)
				wait()
			})
			if allocs != 0 {
				t.Fatalf("Publish to %d subscribers allocates %v times", fanOut, allocs)
			}
		})
	}
}

// BenchmarkPublish1000 publishes one frame to 1,000 in-memory subscribers
// and waits for every flush, with each dispatcher.
func BenchmarkPublish1000(b *testing.B) {
	name := []byte("news")
	for _, d := range dispatchers {
		b.Run(d.name, func(b *testing.B) {
			h, wait := newFanOut(b, d)
			b.ReportAllocs()
			for b.Loop() {
				h.Publish(name, benchFrame)
				wait()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*fanOut), "ns/delivery")
		})
	}
}
