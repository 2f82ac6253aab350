// Package pool runs tasks on a fixed set of goroutines: the workers that
// serve sockets, and the pools that wait on the authorizer and the broker.
package pool

import "sync"

// Task is a unit of work for a Pool. hub.Task has the same method set, so
// the hub's fan-out chunks are Tasks too.
type Task interface{ Run() }

// Pool runs tasks on a fixed set of goroutines. Submit never blocks and
// never runs the task on the caller: the queue grows instead. The callers
// keep it bounded: a connection has at most one handler task and one flush
// queued at a time.
//
// Its lock is a leaf of the lock order (locksordering.txt): Submit may be
// called under any other lock, and nothing is locked under it.
type Pool struct {
	onPanic func(t Task, v any) // called on the worker, in the deferred recover

	mu     sync.Mutex
	cond   sync.Cond
	queue  []Task // ring buffer; guarded by mu
	head   int    // index of the oldest task; guarded by mu
	size   int    // tasks queued; guarded by mu
	closed bool   // guarded by mu
	wg     sync.WaitGroup
}

// New starts a pool of workers goroutines. A task that panics does not end
// the process: the worker recovers, calls onPanic (nil: ignore) with the
// task and the panic value on the same goroutine, and goes on with the next
// task.
func New(workers int, onPanic func(t Task, v any)) *Pool {
	p := &Pool{queue: make([]Task, 64), onPanic: onPanic}
	p.cond.L = &p.mu
	p.wg.Add(workers)
	for range workers {
		go p.work()
	}
	return p
}

// Submit queues t for a worker.
func (p *Pool) Submit(t Task) {
	p.mu.Lock()
	if p.size == len(p.queue) {
		p.growLocked()
	}
	p.queue[(p.head+p.size)%len(p.queue)] = t
	p.size++
	p.mu.Unlock()
	p.cond.Signal()
}

func (p *Pool) growLocked() {
	q := make([]Task, 2*len(p.queue))
	for i := range p.size {
		q[i] = p.queue[(p.head+i)%len(p.queue)]
	}
	p.queue, p.head = q, 0
}

func (p *Pool) next() (Task, bool) {
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

func (p *Pool) work() {
	defer p.wg.Done()
	for {
		t, ok := p.next()
		if !ok {
			return
		}
		p.run(t)
	}
}

func (p *Pool) run(t Task) {
	defer func() {
		if v := recover(); v != nil && p.onPanic != nil {
			p.onPanic(t, v)
		}
	}()
	t.Run()
}

// Close lets the workers finish what is queued and waits for them.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cond.Broadcast()
	p.wg.Wait()
}
