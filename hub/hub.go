package hub

import (
	"hash/maphash"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Subscriber receives encoded frames.
type Subscriber interface {
	// Enqueue queues m.Frame (or m.Variant()) without blocking and reports
	// whether the caller must arrange a Flush (false when one is already
	// under way). It must not keep m itself, only the bytes it queues.
	Enqueue(m *Message) bool
	// Flush writes what was queued. It never runs under a hub lock.
	Flush()
}

// Task is a unit of work for a worker pool.
type Task interface{ Run() }

// Config configures a Hub. The zero value fans out inline on the caller.
type Config struct {
	// Dispatch runs a task on a worker pool without blocking. Every flush
	// goes through it, so Publish returns once the frame is queued. Nil
	// runs every flush on the publishing goroutine.
	Dispatch func(Task)
	// Parallelism is how many chunks a large fan-out is split into.
	// 0 means runtime.GOMAXPROCS(0).
	Parallelism int
	// MinChunk is the fewest subscribers worth a task of their own.
	// 0 means 128.
	MinChunk int
	// Retention says which channels keep a history (history.go), asked
	// once when a channel comes to exist. Nil: none does.
	Retention func(name []byte) Retention
	// MaxHistoryBytes bounds the memory of every history together; past
	// it the least recently published histories are dropped. 0: no bound.
	MaxHistoryBytes int64
	// Epoch starts every epoch this hub gives a history, so that no two
	// runs of a node share one. Now is the clock; nil: time.Now.
	Epoch string
	Now   func() time.Time
}

const numShards = 64

// Hub is a sharded registry of channels and their subscribers.
type Hub struct {
	cfg      Config
	seed     maphash.Seed
	channels atomic.Int64 // channels with subscribers now
	shards   [numShards]shard
	hist     histories
}

type shard struct {
	mu       sync.RWMutex
	channels map[string]*channel // guarded by mu
}

// New returns an empty hub.
func New(cfg Config) *Hub {
	if cfg.Parallelism <= 0 {
		cfg.Parallelism = runtime.GOMAXPROCS(0)
	}
	if cfg.MinChunk <= 0 {
		cfg.MinChunk = 128
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Hub{cfg: cfg, seed: maphash.MakeSeed()}
	for i := range h.shards {
		h.shards[i].channels = make(map[string]*channel)
	}
	return h
}

func (h *Hub) shard(name []byte) *shard {
	return &h.shards[maphash.Bytes(h.seed, name)%numShards]
}

// eachChannel calls fn for every channel, under its shard's read lock
// (fn may take the channel's lock: it comes next in the lock order).
func (h *Hub) eachChannel(fn func(name string, ch *channel)) {
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for name, ch := range sh.channels {
			fn(name, ch)
		}
		sh.mu.RUnlock()
	}
}

// Channels returns how many channels have subscribers.
func (h *Hub) Channels() int { return int(h.channels.Load()) }

// lookup returns channel name, nil when it does not exist. The shard's
// read lock is held only for the map lookup.
func (h *Hub) lookup(name []byte) *channel {
	sh := h.shard(name)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.channels[string(name)]
}

// Subscribers returns how many subscribers channel name has.
func (h *Hub) Subscribers(name []byte) int {
	ch := h.lookup(name)
	if ch == nil {
		return 0
	}
	return ch.len()
}

// Join subscribes s to channel name and reports whether s is the channel's
// first subscriber. Joining twice is a no-op.
func (h *Hub) Join(name []byte, s Subscriber) (first bool) {
	sh := h.shard(name)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ch := h.channelLocked(sh, name)
	first = ch.add(s) && ch.len() == 1
	if first {
		h.channels.Add(1)
	}
	return first
}

// channelLocked returns channel name, made when missing; sh.mu is held.
func (h *Hub) channelLocked(sh *shard, name []byte) *channel {
	ch := sh.channels[string(name)]
	if ch == nil {
		ch = h.newChannel(name)
		sh.channels[string(name)] = ch
	}
	return ch
}

// Leave unsubscribes s from channel name and reports whether the channel is
// now gone. Leaving a channel never joined is a no-op.
func (h *Hub) Leave(name []byte, s Subscriber) (last bool) {
	sh := h.shard(name)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ch := sh.channels[string(name)]
	if ch == nil || !ch.remove(s) || ch.len() > 0 {
		return false
	}
	h.channels.Add(-1)
	if ch.hist != nil {
		ch.keep(h.now()) // its history outlives its subscribers, for the TTL
		return true
	}
	delete(sh.channels, string(name))
	return true
}

// Publish queues frame on every subscriber of channel name and starts the
// writes. It returns the number of subscribers reached.
func (h *Hub) Publish(name []byte, frame []byte) int {
	return h.PublishFiltered(name, frame, nil)
}

// PublishFiltered is Publish to the subscribers f lets through (all of
// them when f is nil), and returns how many those are.
func (h *Hub) PublishFiltered(name []byte, frame []byte, f *Filter) int {
	m := messagePool.Get().(*Message)
	m.Frame, m.Filter = frame, f
	n := h.PublishMessage(name, m)
	*m = Message{}
	messagePool.Put(m)
	return n
}

// PublishMessage is Publish for a message that may carry a variant frame
// and a filter.
func (h *Hub) PublishMessage(name []byte, m *Message) int {
	ch := h.lookup(name)
	if ch == nil {
		return 0
	}
	b := acquireBatch()
	n := ch.enqueue(m, b)
	h.flush(b)
	return n
}
