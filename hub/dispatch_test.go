package hub_test

import (
	"sync"
	"testing"

	"github.com/wsify/wsify/hub"
)

// workerPool runs tasks on a fixed set of goroutines, like the server's
// worker pool, and can wait for every task it was given.
type workerPool struct {
	tasks chan hub.Task
	busy  sync.WaitGroup // tasks dispatched and not yet run
	done  sync.WaitGroup // workers still running
}

func newWorkerPool(t testing.TB, workers int) *workerPool {
	p := &workerPool{tasks: make(chan hub.Task, 1024)}
	for range workers {
		p.done.Go(p.work)
	}
	t.Cleanup(func() { close(p.tasks); p.done.Wait() })
	return p
}

func (p *workerPool) work() {
	for task := range p.tasks {
		task.Run()
		p.busy.Done()
	}
}

func (p *workerPool) Dispatch(task hub.Task) {
	p.busy.Add(1)
	p.tasks <- task
}

// dispatcher is one way of running the fan-out; dispatchers drives the
// publish tests, TestPublishAllocs and BenchmarkPublish1000.
type dispatcher struct {
	name string
	// config returns the hub configuration and a function that waits for
	// every flush the hub started.
	config func(t testing.TB) (hub.Config, func())
	// zeroAlloc is whether Publish must not allocate with it.
	zeroAlloc bool
}

var dispatchers = []dispatcher{
	{name: "inline", zeroAlloc: true, config: func(testing.TB) (hub.Config, func()) {
		return hub.Config{}, func() {}
	}},
	{name: "chunks-inline", zeroAlloc: true, config: func(testing.TB) (hub.Config, func()) {
		run := func(task hub.Task) { task.Run() }
		return hub.Config{Dispatch: run, Parallelism: 4, MinChunk: 64}, func() {}
	}},
	{name: "goroutines", config: func(testing.TB) (hub.Config, func()) {
		var wg sync.WaitGroup
		run := func(task hub.Task) { wg.Go(task.Run) }
		return hub.Config{Dispatch: run, Parallelism: 4, MinChunk: 64}, wg.Wait
	}},
	{name: "workers", zeroAlloc: true, config: func(t testing.TB) (hub.Config, func()) {
		p := newWorkerPool(t, 2)
		return hub.Config{Dispatch: p.Dispatch, Parallelism: 2}, p.busy.Wait
	}},
}
