package server

import (
	"sync/atomic"
	"time"
)

// latencyBuckets are the upper bounds of the authorizer latency histogram,
// from a local authorizer's millisecond to the 5s beyond any sane timeout.
var latencyBuckets = [...]time.Duration{
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second,
}

// histogram counts durations in latencyBuckets with atomics, so observing
// takes no lock. counts are per bucket (not cumulative); the last slot is
// +Inf. A scrape may see a sum a few observations apart from the counts,
// which Prometheus tolerates.
type histogram struct {
	counts   [len(latencyBuckets) + 1]atomic.Uint64
	sumNanos atomic.Int64
}

func (h *histogram) observe(d time.Duration) {
	i := 0
	for i < len(latencyBuckets) && d > latencyBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNanos.Add(int64(d))
}

// cumulative returns the count at or below each bound, +Inf last.
func (h *histogram) cumulative() (out [len(latencyBuckets) + 1]uint64) {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
		out[i] = n
	}
	return out
}

func (h *histogram) sumSeconds() float64 {
	return time.Duration(h.sumNanos.Load()).Seconds()
}
