package server

import (
	"testing"
	"time"
)

// sweepFixture is a server with n upgraded connections in its table, all
// heard from just now, and a sweeper that is not running.
func sweepFixture(n int) (*Server, *sweeper) {
	s := &Server{}
	s.lim.epoch = time.Now()
	for fd := range n {
		c := &conn{srv: s, fd: fd}
		c.lim.seen.Store(s.now())
		s.conns.put(c)
	}
	return s, &sweeper{srv: s, interval: int64(time.Hour), timeout: int64(time.Hour)}
}

// TestSweepOfBusyConnectionsDoesNotAllocate pins a tick over connections
// with nothing due at zero allocations.
func TestSweepOfBusyConnectionsDoesNotAllocate(t *testing.T) {
	_, w := sweepFixture(10000)
	if a := testing.AllocsPerRun(20, w.sweep); a != 0 {
		t.Fatalf("a sweep tick allocates %v times", a)
	}
}

// BenchmarkSweepVisit measures the cost of visiting one connection that
// needs nothing: the price a sweep pays per connection and pass.
func BenchmarkSweepVisit(b *testing.B) {
	const n = 100000
	_, w := sweepFixture(n)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for range sweepSlices {
			w.sweep()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/conn")
}

// BenchmarkRateLimitTake measures the lazy token bucket of one message.
func BenchmarkRateLimitTake(b *testing.B) {
	var tat int64
	b.ReportAllocs()
	for i := range b.N {
		gcraTake(&tat, int64(i)*1000, 1000, 100)
	}
}
