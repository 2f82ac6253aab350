package hub

import (
	"sync"
	"sync/atomic"
)

// batch holds the subscribers of one publication whose writes must start.
// It is shared by the chunks of the fan-out and returns to its pool when the
// last chunk is done.
type batch struct {
	subs    []Subscriber
	pending atomic.Int32 // chunks not yet done
}

var batchPool = sync.Pool{New: func() any { return new(batch) }}

func acquireBatch() *batch { return batchPool.Get().(*batch) }

func releaseBatch(b *batch) {
	clear(b.subs)
	b.subs = b.subs[:0]
	b.pending.Store(0)
	batchPool.Put(b)
}

// chunk flushes b.subs[lo:hi]; it is the Task handed to the worker pool.
type chunk struct {
	b      *batch
	lo, hi int
}

var chunkPool = sync.Pool{New: func() any { return new(chunk) }}

func (c *chunk) Run() {
	b := c.b
	for _, s := range b.subs[c.lo:c.hi] {
		s.Flush()
	}
	*c = chunk{}
	chunkPool.Put(c)
	if b.pending.Add(-1) == 0 {
		releaseBatch(b)
	}
}

// flush starts the writes of b and returns without waiting for them: the
// chunks go to the workers, so a publisher is done once its frame is
// queued, and frames that pile up for a subscriber while its flush waits
// for a worker leave in one write. Publishing as fast as the workers
// drain costs about a fifth of the CPU per delivery of running a chunk on
// the publisher (bench/RESULTS.md). Without Dispatch the caller writes.
func (h *Hub) flush(b *batch) {
	n := len(b.subs)
	if n == 0 {
		releaseBatch(b)
		return
	}
	size := n
	if h.cfg.Dispatch != nil {
		size = max(h.cfg.MinChunk, (n+h.cfg.Parallelism-1)/h.cfg.Parallelism)
	}
	b.pending.Store(int32((n + size - 1) / size))
	for lo := 0; lo < n; lo += size {
		c := chunkPool.Get().(*chunk)
		*c = chunk{b: b, lo: lo, hi: min(lo+size, n)}
		h.start(c)
	}
}

// start runs c on the workers, or on the caller when there are none.
func (h *Hub) start(c *chunk) {
	if h.cfg.Dispatch == nil {
		c.Run()
		return
	}
	h.cfg.Dispatch(c)
}
