package server

import (
	"sync"
	"time"
)

// wheel is one timing wheel for every connection deadline, instead of a
// timer per connection. Only connections with a deadline (a handshake or a
// frame under way) are in it, so idle connections cost it nothing. A
// deadline fires within one tick after it passes.
type wheel struct {
	*ticking
	tick time.Duration

	mu    sync.Mutex
	slots []map[*conn]struct{} // guarded by mu
	last  int64                // last tick processed; guarded by mu
}

const wheelSlots = 64

func newWheel(tick time.Duration, fire func(*conn)) *wheel {
	w := &wheel{tick: tick}
	w.slots = make([]map[*conn]struct{}, wheelSlots)
	for i := range w.slots {
		w.slots[i] = make(map[*conn]struct{})
	}
	w.last = time.Now().UnixNano() / int64(tick)
	w.ticking = startTicking(tick, func(now time.Time) {
		for _, c := range w.expire(now) {
			fire(c)
		}
	})
	return w
}

func (w *wheel) slot(t int64) map[*conn]struct{} { return w.slots[t%wheelSlots] }

// set gives c the deadline at, replacing any it had.
func (w *wheel) set(c *conn, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.clearLocked(c)
	c.deadline = at.UnixNano()
	// The slot of the first tick at or after the deadline: a tick expires
	// its slot once, so a deadline later in its own tick would be skipped
	// until the wheel came round again.
	c.wslot = max((c.deadline+int64(w.tick)-1)/int64(w.tick), w.last+1) % wheelSlots
	w.slots[c.wslot][c] = struct{}{}
}

// clear removes c's deadline.
func (w *wheel) clear(c *conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.clearLocked(c)
}

func (w *wheel) clearLocked(c *conn) {
	if c.deadline != 0 {
		delete(w.slots[c.wslot], c)
		c.deadline = 0
	}
}

// armed reports whether c has a deadline that has not fired yet.
func (w *wheel) armed(c *conn) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return c.deadline != 0
}

// expire removes and returns the connections whose deadline passed.
func (w *wheel) expire(now time.Time) []*conn {
	w.mu.Lock()
	defer w.mu.Unlock()
	var due []*conn
	cur := now.UnixNano() / int64(w.tick)
	for t := max(w.last+1, cur-wheelSlots+1); t <= cur; t++ {
		for c := range w.slot(t) {
			if c.deadline <= now.UnixNano() {
				delete(w.slot(t), c)
				c.deadline = 0
				due = append(due, c)
			}
		}
	}
	w.last = cur
	return due
}

// ticking calls a function every tick from a goroutine of its own, for the
// wheel and the ping sweeper, until Close.
type ticking struct{ stop, done chan struct{} }

func startTicking(tick time.Duration, fn func(now time.Time)) *ticking {
	t := &ticking{stop: make(chan struct{}), done: make(chan struct{})}
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
func (t *ticking) Close() {
	close(t.stop)
	<-t.done
}
