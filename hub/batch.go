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

// flush starts the writes of b: chunks go to the workers and the caller
// takes the last one itself.
func (h *Hub) flush(b *batch) {
	n := len(b.subs)
	size := max(h.cfg.MinChunk, (n+h.cfg.Parallelism-1)/h.cfg.Parallelism)
	if h.cfg.Dispatch == nil {
		size = max(n, 1)
	}
	chunks := max((n+size-1)/size, 1)
	b.pending.Store(int32(chunks))
	for lo := 0; lo < n || lo == 0; lo += size {
		c := chunkPool.Get().(*chunk)
		*c = chunk{b: b, lo: lo, hi: min(lo+size, n)}
		if c.hi == n {
			c.Run()
			return
		}
		h.cfg.Dispatch(c)
	}
}
