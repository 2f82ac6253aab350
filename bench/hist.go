package bench

import (
	"math"
	"math/bits"
	"slices"
)

// Hist is a log-linear histogram of microsecond values: exact below 64,
// then 32 buckets per power of two (at most ~3% error). It merges by
// adding counts, so workers send theirs to the coordinator.
type Hist struct {
	Counts map[int]uint64 `json:"counts"` // bucket index -> count
	N      uint64         `json:"n"`
	Max    uint64         `json:"max_us"`
	Sum    uint64         `json:"sum_us"`
}

const histLinear = 64

func bucketOf(v uint64) int {
	if v < histLinear {
		return int(v)
	}
	shift := bits.Len64(v) - 6 // v>>shift is in [32, 64)
	return histLinear + (shift-1)*32 + int(v>>shift) - 32
}

// bucketLow is the smallest value of bucket i.
func bucketLow(i int) uint64 {
	if i < histLinear {
		return uint64(i)
	}
	i -= histLinear
	shift := i/32 + 1
	return uint64(32+i%32) << shift
}

// bucketHigh is the smallest value of the next bucket.
func bucketHigh(i int) uint64 { return bucketLow(i + 1) }

// Record adds one value in microseconds.
func (h *Hist) Record(us uint64) {
	if h.Counts == nil {
		h.Counts = make(map[int]uint64)
	}
	h.Counts[bucketOf(us)]++
	h.N++
	h.Sum += us
	h.Max = max(h.Max, us)
}

// Merge adds o's counts to h.
func (h *Hist) Merge(o Hist) {
	if h.Counts == nil {
		h.Counts = make(map[int]uint64)
	}
	for i, c := range o.Counts {
		h.Counts[i] += c
	}
	h.N += o.N
	h.Sum += o.Sum
	h.Max = max(h.Max, o.Max)
}

// buckets returns the used bucket indexes in increasing order.
func (h *Hist) buckets() []int {
	idx := make([]int, 0, len(h.Counts))
	for i := range h.Counts {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	return idx
}

// Quantile returns the value at quantile q (0..1) in microseconds: the
// middle of the bucket that holds it, never above the maximum seen.
func (h *Hist) Quantile(q float64) float64 {
	if h.N == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.N)))
	rank = max(rank, 1)
	if rank >= h.N {
		return float64(h.Max)
	}
	var seen uint64
	for _, i := range h.buckets() {
		seen += h.Counts[i]
		if seen >= rank {
			mid := float64(bucketLow(i)+bucketHigh(i)-1) / 2
			return math.Min(mid, float64(h.Max))
		}
	}
	return float64(h.Max)
}

// Mean returns the average in microseconds.
func (h *Hist) Mean() float64 {
	if h.N == 0 {
		return 0
	}
	return float64(h.Sum) / float64(h.N)
}

// Latency is the summary of a Hist as reported, in milliseconds.
type Latency struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

// Summary returns the percentiles in milliseconds.
func (h *Hist) Summary() Latency {
	ms := func(us float64) float64 { return math.Round(us) / 1000 }
	return Latency{Count: h.N, P50: ms(h.Quantile(.5)), P90: ms(h.Quantile(.9)), P99: ms(h.Quantile(.99)),
		P999: ms(h.Quantile(.999)), Max: ms(float64(h.Max)), Mean: ms(h.Mean())}
}
