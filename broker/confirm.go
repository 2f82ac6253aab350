package broker

import (
	"context"
	"sync"
)

// confirmations are the channels whose subscription Redis has confirmed,
// each with the subscription connection (the single-Redis broker, or a
// cluster partition) that holds it, for Confirmer. Entries are made and
// dropped by that connection's wishlist (tracker), under its lock.
type confirmations struct {
	mu      sync.Mutex
	ok      map[string]any             // channel -> the connection it is confirmed on; guarded by mu
	waiters map[string][]chan struct{} // guarded by mu
}

func newConfirmations() *confirmations {
	return &confirmations{ok: map[string]any{}, waiters: map[string][]chan struct{}{}}
}

// set records that Redis confirmed channel on connection by, and wakes
// the channel's waiters.
func (c *confirmations) set(by any, channel string) {
	c.mu.Lock()
	c.ok[channel] = by
	ws := c.waiters[channel]
	delete(c.waiters, channel)
	c.mu.Unlock()
	for _, w := range ws {
		close(w)
	}
}

// unset forgets channel if connection by holds its confirmation: by no
// longer wants it, so a join that follows must wait for the
// subscription that brings it back.
func (c *confirmations) unset(by any, channel string) {
	c.mu.Lock()
	if c.ok[channel] == by {
		delete(c.ok, channel)
	}
	c.mu.Unlock()
}

// forget drops every confirmation connection by holds: it is gone.
func (c *confirmations) forget(by any) {
	c.mu.Lock()
	for ch, b := range c.ok {
		if b == by {
			delete(c.ok, ch)
		}
	}
	c.mu.Unlock()
}

func (c *confirmations) has(channel string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.ok[channel]
	return ok
}

func (c *confirmations) wait(ctx context.Context, channel string) error {
	c.mu.Lock()
	if _, ok := c.ok[channel]; ok {
		c.mu.Unlock()
		return nil
	}
	w := make(chan struct{})
	c.waiters[channel] = append(c.waiters[channel], w)
	c.mu.Unlock()
	select {
	case <-w:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		ws := c.waiters[channel]
		for i := range ws {
			if ws[i] == w {
				c.waiters[channel] = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(c.waiters[channel]) == 0 {
			delete(c.waiters, channel)
		}
		c.mu.Unlock()
		return ctx.Err()
	}
}

// tracker follows, on a subscription connection's wishlist, the
// (un)subscribe commands sent and not answered yet. Redis answers a
// connection's commands in order, one reply per channel named, so a
// channel is confirmed when the reply to the last command that named it
// says subscribed and the channel is still wanted: a reply to an earlier
// subscribe, overtaken by an unsubscribe sent since, confirms nothing.
// The counts are taken when the wishlist hands the changes out, under its
// lock, so no wish can slip between the decision and the count.
type tracker struct {
	conf    *confirmations
	owner   any            // the connection, in conf
	pending map[string]int // commands naming a channel sent and not answered; guarded by the wishlist's mu
}

// newTrackedWishlist is the wishlist of a subscription connection whose
// confirmations go to conf under owner.
func newTrackedWishlist(conf *confirmations, owner any) *wishlist {
	w := newWishlist()
	w.track = &tracker{conf: conf, owner: owner, pending: map[string]int{}}
	return w
}

// answered takes Redis's reply about channel (subscribed: a subscribe
// reply). It reports false for a reply to no command of ours: Redis
// unsubscribed the channel by itself (its slot moved).
func (w *wishlist) answered(channel string, subscribed bool) (solicited bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.track
	n, ok := t.pending[channel]
	if !ok {
		return false
	}
	if n--; n > 0 {
		t.pending[channel] = n
		return true
	}
	delete(t.pending, channel)
	if _, want := w.want[channel]; want && subscribed {
		t.conf.set(t.owner, channel)
	}
	return true
}

// lost forgets the commands in flight and the confirmations of a
// connection that ended.
func (w *wishlist) lost() {
	w.mu.Lock()
	clear(w.track.pending)
	w.track.conf.forget(w.track.owner)
	w.mu.Unlock()
}
