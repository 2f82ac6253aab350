package pool_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsify/wsify/server/internal/pool"
)

type taskFunc func()

func (f taskFunc) Run() { f() }

// within fails the test unless done is closed before a generous deadline:
// a pool that blocks or loses a task fails instead of hanging the suite.
func within(t *testing.T, what string, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not done after 10s", what)
	}
}

func TestPoolRunsEveryTask(t *testing.T) {
	for _, workers := range []int{1, 2, 8} {
		p := pool.New(workers, nil)
		var ran atomic.Int64
		var wg sync.WaitGroup
		const n = 5000
		wg.Add(n)
		for range n {
			p.Submit(taskFunc(func() { ran.Add(1); wg.Done() }))
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		within(t, "tasks", done)
		p.Close()
		if got := ran.Load(); got != n {
			t.Errorf("%d workers ran %d tasks of %d", workers, got, n)
		}
	}
}

// blockedPool is a pool of one worker held by a task until the returned
// function is called.
func blockedPool(t *testing.T) (*pool.Pool, func()) {
	p := pool.New(1, nil)
	started, gate := make(chan struct{}), make(chan struct{})
	p.Submit(taskFunc(func() { close(started); <-gate }))
	within(t, "the first task starting", started)
	return p, func() { close(gate) }
}

// TestPoolSubmitNeverBlocks queues far more than the initial ring of 64
// behind a busy worker: Submit returns at once each time without running
// anything on the caller, and the queue, grown across its wrap-around,
// runs in order.
func TestPoolSubmitNeverBlocks(t *testing.T) {
	p, release := blockedPool(t)
	var order []int // appended by the one worker; read after Close
	const n = 1000
	submitted := make(chan struct{})
	go func() {
		for i := range n {
			p.Submit(taskFunc(func() { order = append(order, i) }))
		}
		close(submitted)
	}()
	within(t, "Submit behind a busy worker", submitted)
	release()
	p.Close()
	if len(order) != n {
		t.Fatalf("%d of %d tasks ran", len(order), n)
	}
	for i, got := range order {
		if got != i {
			t.Fatalf("task %d ran in place %d: one worker must run tasks in the order submitted", got, i)
		}
	}
}

// TestPoolFIFOAfterWrap: with the ring's head moved past its start by
// tasks already run, growing the ring keeps the order.
func TestPoolFIFOAfterWrap(t *testing.T) {
	p := pool.New(1, nil)
	var order []int
	step := make(chan struct{})
	for i := range 40 {
		p.Submit(taskFunc(func() { order = append(order, i); step <- struct{}{} }))
		<-step
	}
	p.Submit(taskFunc(func() { <-step }))
	for i := 40; i < 240; i++ {
		p.Submit(taskFunc(func() { order = append(order, i) }))
	}
	step <- struct{}{}
	p.Close()
	for i, got := range order {
		if got != i {
			t.Fatalf("task %d ran in place %d of %d", got, i, len(order))
		}
	}
	if len(order) != 240 {
		t.Fatalf("%d of 240 tasks ran", len(order))
	}
}

// TestPoolCloseRunsWhatIsQueued: Close waits for the task under way and
// runs the queued ones before it returns.
func TestPoolCloseRunsWhatIsQueued(t *testing.T) {
	p, release := blockedPool(t)
	var ran atomic.Int64
	for range 100 {
		p.Submit(taskFunc(func() { ran.Add(1) }))
	}
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a task was running")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	within(t, "Close", closed)
	if got := ran.Load(); got != 100 {
		t.Fatalf("Close returned with %d of 100 queued tasks run", got)
	}
}

// TestPoolCloseIdle: a pool with nothing to do closes, its workers gone.
func TestPoolCloseIdle(t *testing.T) {
	p := pool.New(4, nil)
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	within(t, "Close of an idle pool", closed)
}

type panicker struct{}

func (*panicker) Run() { panic("bug") }

// TestPanicIsRecovered: a task that panics does not end the worker: the
// handler hears of it with the task and the value, and later tasks run.
func TestPanicIsRecovered(t *testing.T) {
	got := make(chan any, 1)
	bad := &panicker{}
	p := pool.New(1, func(task pool.Task, v any) {
		if task == pool.Task(bad) {
			got <- v
		}
	})
	defer p.Close()
	p.Submit(bad)
	ran := make(chan struct{})
	p.Submit(taskFunc(func() { close(ran) }))
	select {
	case v := <-got:
		if v != "bug" {
			t.Fatalf("panic value %v", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the panic was not handed over")
	}
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker did not go on after the panic")
	}
}
