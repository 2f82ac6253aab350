package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
)

// Hist is a log-linear histogram of microsecond values: exact below 64,
// then 32 buckets per power of two (at most ~3% error). It merges by
// adding counts, so workers send theirs to the coordinator. Recording is
// an array increment: receivers record every delivery.
type Hist struct {
	counts []uint64 // by bucket index; nil until the first value
	N      uint64
	Max    uint64
	Sum    uint64
}

const (
	histLinear  = 64
	histBuckets = histLinear + 59*32 // up to 2^64
)

// histJSON is Hist on the wire: only the buckets in use.
type histJSON struct {
	Counts map[int]uint64 `json:"counts"` // bucket index -> count
	N      uint64         `json:"n"`
	Max    uint64         `json:"max_us"`
	Sum    uint64         `json:"sum_us"`
}

func (h Hist) MarshalJSON() ([]byte, error) {
	j := histJSON{Counts: map[int]uint64{}, N: h.N, Max: h.Max, Sum: h.Sum}
	for i, c := range h.counts {
		if c > 0 {
			j.Counts[i] = c
		}
	}
	return json.Marshal(j)
}

func (h *Hist) UnmarshalJSON(b []byte) error {
	var j histJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*h = Hist{N: j.N, Max: j.Max, Sum: j.Sum}
	for i, c := range j.Counts {
		if i < 0 || i >= histBuckets {
			return fmt.Errorf("bench: histogram bucket %d out of range", i)
		}
		h.add(i, c)
	}
	return nil
}

func (h *Hist) add(i int, c uint64) {
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	h.counts[i] += c
}

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
	h.add(bucketOf(us), 1)
	h.N++
	h.Sum += us
	h.Max = max(h.Max, us)
}

// Merge adds o's counts to h.
func (h *Hist) Merge(o Hist) {
	for i, c := range o.counts {
		if c > 0 {
			h.add(i, c)
		}
	}
	h.N += o.N
	h.Sum += o.Sum
	h.Max = max(h.Max, o.Max)
}

// buckets returns the used bucket indexes in increasing order.
func (h *Hist) buckets() []int {
	var idx []int
	for i, c := range h.counts {
		if c > 0 {
			idx = append(idx, i)
		}
	}
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
		seen += h.counts[i]
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
