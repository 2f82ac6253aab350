package prom

import (
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"
)

// LatencyBuckets are the upper bounds of a latency histogram, from a local
// service's millisecond to the 5s beyond any sane timeout.
var LatencyBuckets = [...]time.Duration{
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second,
}

// Histogram counts durations in LatencyBuckets with atomics, so observing
// takes no lock. counts are per bucket (not cumulative); the last slot is
// +Inf. A scrape may see a sum a few observations apart from the counts,
// which Prometheus tolerates.
type Histogram struct {
	counts   [len(LatencyBuckets) + 1]atomic.Uint64
	sumNanos atomic.Int64
}

// Observe counts one duration.
func (h *Histogram) Observe(d time.Duration) {
	i := 0
	for i < len(LatencyBuckets) && d > LatencyBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNanos.Add(int64(d))
}

// cumulative returns the count at or below each bound, +Inf last.
func (h *Histogram) cumulative() (out [len(LatencyBuckets) + 1]uint64) {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
		out[i] = n
	}
	return out
}

// Write writes h as the histogram family name, in seconds.
func (h *Histogram) Write(w io.Writer, name, help string) {
	Family(w, name, "histogram", help)
	counts := h.cumulative()
	for i, bound := range LatencyBuckets {
		fmt.Fprintf(w, "%s_bucket{le=%q} %d\n", name, strconv.FormatFloat(bound.Seconds(), 'g', -1, 64), counts[i])
	}
	total := counts[len(counts)-1]
	sum := time.Duration(h.sumNanos.Load()).Seconds()
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %g\n%s_count %d\n", name, total, name, sum, name, total)
}
