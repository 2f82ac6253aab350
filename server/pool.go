package server

import (
	"sync"

	"github.com/wsify/wsify/hub"
)

// pool runs tasks on a fixed set of goroutines. Submit never blocks and
// never runs the task on the caller: the queue grows instead. It stays
// bounded because a connection has at most one handler task and one flush
// queued at a time.
type pool struct {
	mu     sync.Mutex
	cond   sync.Cond
	queue  []hub.Task // ring buffer; guarded by mu
	head   int        // index of the oldest task; guarded by mu
	size   int        // tasks queued; guarded by mu
	closed bool       // guarded by mu
	wg     sync.WaitGroup
}

func newPool(workers int) *pool {
	p := &pool{queue: make([]hub.Task, 64)}
	p.cond.L = &p.mu
	p.wg.Add(workers)
	for range workers {
		go p.work()
	}
	return p
}

// Submit queues t for a worker.
func (p *pool) Submit(t hub.Task) {
	p.mu.Lock()
	if p.size == len(p.queue) {
		p.growLocked()
	}
	p.queue[(p.head+p.size)%len(p.queue)] = t
	p.size++
	p.mu.Unlock()
	p.cond.Signal()
}

func (p *pool) growLocked() {
	q := make([]hub.Task, 2*len(p.queue))
	for i := range p.size {
		q[i] = p.queue[(p.head+i)%len(p.queue)]
	}
	p.queue, p.head = q, 0
}

func (p *pool) next() (hub.Task, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.size == 0 && !p.closed {
		p.cond.Wait()
	}
	if p.size == 0 {
		return nil, false
	}
	t := p.queue[p.head]
	p.queue[p.head] = nil
	p.head = (p.head + 1) % len(p.queue)
	p.size--
	return t, true
}

func (p *pool) work() {
	defer p.wg.Done()
	for {
		t, ok := p.next()
		if !ok {
			return
		}
		t.Run()
	}
}

// Close lets the workers finish what is queued and waits for them.
func (p *pool) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cond.Broadcast()
	p.wg.Wait()
}
