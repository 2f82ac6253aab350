package hub

import "sync"

type channel struct {
	// mu guards subs and index. Publish holds it while queueing, so every
	// subscriber sees the channel's publications in the same order.
	mu    sync.Mutex
	subs  []Subscriber
	index map[Subscriber]int // position of each subscriber in subs
	hist  *history           // nil: keeps no history; set at creation
	dead  bool               // a history channel removed from its shard
	// pending are the joiners of a channel whose history the broker keeps,
	// holding the publications that arrive until their join is settled
	// (pending.go); nil when none.
	pending map[Subscriber]*[]Held
}

func newChannel() *channel {
	return &channel{index: make(map[Subscriber]int, 1)}
}

// keep marks the moment the last subscriber left a channel with history.
func (c *channel) keep(now int64) {
	c.mu.Lock()
	c.hist.touched = now
	c.mu.Unlock()
}

func (c *channel) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.subs) + len(c.pending)
}

func (c *channel) add(s Subscriber) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.addLocked(s)
}

func (c *channel) addLocked(s Subscriber) bool {
	if _, ok := c.index[s]; ok {
		return false
	}
	c.index[s] = len(c.subs)
	c.subs = append(c.subs, s)
	return true
}

func (c *channel) remove(s Subscriber) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pending[s]; ok {
		delete(c.pending, s)
		return true
	}
	i, ok := c.index[s]
	if !ok {
		return false
	}
	last := len(c.subs) - 1
	c.subs[i] = c.subs[last]
	c.index[c.subs[i]] = i
	c.subs[last] = nil
	c.subs = c.subs[:last]
	delete(c.index, s)
	return true
}

// enqueue queues m on every subscriber and collects in b those whose
// writes the caller must start. It returns how many subscribers m's
// filter let through: all of them without one.
func (c *channel) enqueue(m *Message, b *batch) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m.skipped = 0
	for _, s := range c.subs {
		if s.Enqueue(m) {
			b.subs = append(b.subs, s)
		}
	}
	return len(c.subs) - m.skipped
}
