// Package wheel keeps deadlines for many keys with one timing wheel and one
// goroutine, instead of a timer per key.
package wheel

import (
	"sync"
	"time"
)

// Wheel fires a callback for each key whose deadline passed, within one
// tick after it did. Only keys with a deadline are in it, so a connection
// without one costs it nothing. It owns the deadlines: callers never keep
// a copy that its lock would have to guard.
type Wheel[K comparable] struct {
	*Ticking
	tick int64 // nanoseconds

	mu    sync.Mutex
	slots [numSlots]map[K]struct{} // guarded by mu
	at    map[K]entry              // deadline and slot of every key in the wheel; guarded by mu
	last  int64                    // last tick processed; guarded by mu
}

type entry struct{ deadline, slot int64 }

const numSlots = 64

// New starts a wheel that calls fire, from its own goroutine and outside its
// lock, for every key whose deadline passed.
func New[K comparable](tick time.Duration, fire func(K)) *Wheel[K] {
	w := &Wheel[K]{tick: int64(tick), at: make(map[K]entry)}
	for i := range w.slots {
		w.slots[i] = make(map[K]struct{})
	}
	w.last = time.Now().UnixNano() / w.tick
	w.Ticking = StartTicking(tick, func(now time.Time) {
		for _, k := range w.expire(now) {
			fire(k)
		}
	})
	return w
}

// Set gives k the deadline at, replacing any it had.
func (w *Wheel[K]) Set(k K, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.clearLocked(k)
	d := at.UnixNano()
	// The slot of the first tick at or after the deadline: a tick expires
	// its slot once, so a deadline later in its own tick would be skipped
	// until the wheel came round again.
	slot := max((d+w.tick-1)/w.tick, w.last+1) % numSlots
	w.at[k] = entry{d, slot}
	w.slots[slot][k] = struct{}{}
}

// Clear removes k's deadline.
func (w *Wheel[K]) Clear(k K) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.clearLocked(k)
}

func (w *Wheel[K]) clearLocked(k K) {
	if e, ok := w.at[k]; ok {
		delete(w.slots[e.slot], k)
		delete(w.at, k)
	}
}

// Armed reports whether k has a deadline that has not fired yet.
func (w *Wheel[K]) Armed(k K) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.at[k]
	return ok
}

// expire removes and returns the keys whose deadline passed.
func (w *Wheel[K]) expire(now time.Time) []K {
	w.mu.Lock()
	defer w.mu.Unlock()
	var due []K
	cur := now.UnixNano() / w.tick
	for t := max(w.last+1, cur-numSlots+1); t <= cur; t++ {
		slot := w.slots[t%numSlots]
		for k := range slot {
			if w.at[k].deadline <= now.UnixNano() {
				delete(slot, k)
				delete(w.at, k)
				due = append(due, k)
			}
		}
	}
	w.last = cur
	return due
}

// Ticking calls a function every tick from a goroutine of its own until
// Close: the wheel's clock, and the server's ping sweeper.
type Ticking struct{ stop, done chan struct{} }

// StartTicking calls fn every tick until Close.
func StartTicking(tick time.Duration, fn func(now time.Time)) *Ticking {
	t := &Ticking{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(t.done)
		tk := time.NewTicker(tick)
		defer tk.Stop()
		for {
			select {
			case <-t.stop:
				return
			case now := <-tk.C:
				fn(now)
			}
		}
	}()
	return t
}

// Close stops the ticking and waits for a call under way.
func (t *Ticking) Close() {
	close(t.stop)
	<-t.done
}
