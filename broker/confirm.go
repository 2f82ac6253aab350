package broker

import (
	"context"
	"sync"
)

// confirmations are the channels whose subscription the broker has
// confirmed on the current connection, for Historian.WaitSubscribed.
type confirmations struct {
	mu      sync.Mutex
	ok      map[string]struct{}        // guarded by mu
	waiters map[string][]chan struct{} // guarded by mu
}

func newConfirmations() *confirmations {
	return &confirmations{ok: map[string]struct{}{}, waiters: map[string][]chan struct{}{}}
}

// set records the broker's confirmation of channel and wakes its waiters.
func (c *confirmations) set(channel string) {
	c.mu.Lock()
	c.ok[channel] = struct{}{}
	ws := c.waiters[channel]
	delete(c.waiters, channel)
	c.mu.Unlock()
	for _, w := range ws {
		close(w)
	}
}

// unset forgets channel, as soon as its unsubscribe is sent: a join that
// follows must wait for the subscription that brings it back.
func (c *confirmations) unset(channels ...string) {
	c.mu.Lock()
	for _, ch := range channels {
		delete(c.ok, ch)
	}
	c.mu.Unlock()
}

// reset forgets every confirmation: the connection is gone.
func (c *confirmations) reset() {
	c.mu.Lock()
	clear(c.ok)
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
