package broker

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// health is a driver's up/down state. set is called by one goroutine of
// the driver at a time, so the State handler hears changes in order.
type health struct {
	up     atomic.Bool // mirrors cur.Up for the Publish fast path
	downs  atomic.Uint64
	notify func(Health)

	mu    sync.Mutex
	cur   Health // guarded by mu
	known bool   // a state has been reported; guarded by mu
}

func newHealth(notify func(Health)) *health {
	return &health{notify: notify, cur: Health{Reason: "connecting", Since: time.Now()}}
}

// set records the state and tells the handler when Up changed, or when it
// is the first state reached. A new reason while down is kept silently.
func (h *health) set(up bool, reason string) {
	h.mu.Lock()
	changed := !h.known || h.cur.Up != up
	if changed {
		h.cur = Health{Up: up, Reason: reason, Since: time.Now()}
		h.known = true
	} else if !up {
		h.cur.Reason = reason
	}
	cur := h.cur
	h.mu.Unlock()
	h.up.Store(up)
	if changed && !up {
		h.downs.Add(1)
	}
	if changed && h.notify != nil {
		h.notify(cur)
	}
}

func (h *health) get() Health {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cur
}

// unavailable is Publish's error while the broker is down.
func (h *health) unavailable(driver string) error {
	return fmt.Errorf("broker: %s: %w: %s", driver, ErrUnavailable, h.get().Reason)
}

func (h *health) fill(st *Stats) {
	cur := h.get()
	st.Up, st.Reason, st.Downs = cur.Up, cur.Reason, h.downs.Load()
	st.Since = cur.Since.UTC().Format(time.RFC3339Nano)
}
