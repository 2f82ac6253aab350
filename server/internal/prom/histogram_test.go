package prom

import (
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	var h Histogram
	for _, d := range []time.Duration{0, time.Millisecond, time.Millisecond + 1, 7 * time.Second} {
		h.Observe(d)
	}
	got := h.cumulative()
	if got[0] != 2 || got[1] != 3 || got[len(got)-2] != 3 || got[len(got)-1] != 4 {
		t.Fatalf("cumulative %v", got)
	}
	if want := (7*time.Second + 2*time.Millisecond + 1).Seconds(); time.Duration(h.sumNanos.Load()).Seconds() != want {
		t.Fatalf("sum %v, want %v", time.Duration(h.sumNanos.Load()).Seconds(), want)
	}
}
