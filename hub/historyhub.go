package hub

import (
	"slices"
	"strconv"
	"sync/atomic"
)

// histories is the hub's account of every history together.
type histories struct {
	bytes    atomic.Int64  // charged by every history
	seq      atomic.Uint64 // numbers the epochs
	evicting atomic.Bool   // one eviction at a time; others go on publishing
	dropped  atomic.Uint64 // histories dropped for the memory bound
}

func (h *Hub) now() int64 { return h.cfg.Now().UnixNano() }

func (h *Hub) newEpoch() string {
	return h.cfg.Epoch + "-" + strconv.FormatUint(h.hist.seq.Add(1), 10)
}

// newChannel makes channel name, with a history when Retention says so.
func (h *Hub) newChannel(name []byte) *channel {
	ch := newChannel()
	if h.cfg.Retention == nil {
		return ch
	}
	if r := h.cfg.Retention(name); r.on() {
		ch.hist = &history{r: r, epoch: h.newEpoch(), bytes: recordCost, touched: h.now()}
		h.hist.bytes.Add(recordCost + int64(len(name)))
	}
	return ch
}

// HistoryBytes is the memory every history is charged together.
func (h *Hub) HistoryBytes() int64 { return h.hist.bytes.Load() }

// HistoriesDropped counts the histories dropped for MaxHistoryBytes.
func (h *Hub) HistoriesDropped() uint64 { return h.hist.dropped.Load() }

// historyChannel returns channel name, which keeps a history, made when
// missing. ok is false when name keeps none.
func (h *Hub) historyChannel(name []byte) (ch *channel, ok bool) {
	ch = h.lookup(name)
	if ch == nil {
		sh := h.shard(name)
		sh.mu.Lock()
		ch = h.channelLocked(sh, name)
		sh.mu.Unlock()
	}
	return ch, ch.hist != nil
}

// PublishAt publishes on a channel with history: under the channel's lock
// it takes the next offset, builds the message for it (encoded once), keeps
// it and queues it on every subscriber, so that offsets, the history and
// every subscriber's order agree. ok is false when name keeps no history
// (nothing is published then).
func (h *Hub) PublishAt(name []byte, build func(offset uint64) *Message) (pos Position, n int, ok bool) {
	for range 4 { // a sweep may remove the channel between lookup and lock
		ch, hist := h.historyChannel(name)
		if !hist {
			return Position{}, 0, false
		}
		b := acquireBatch()
		ch.mu.Lock()
		if ch.dead {
			ch.mu.Unlock()
			releaseBatch(b)
			continue
		}
		now := h.now()
		delta := ch.hist.trim(now)
		m := build(ch.hist.last + 1)
		delta += ch.hist.push(m, now)
		for _, s := range ch.subs {
			if s.Enqueue(m) {
				b.subs = append(b.subs, s)
			}
		}
		pos, n = ch.hist.position(), len(ch.subs)
		ch.mu.Unlock()
		h.flush(b)
		h.charge(delta)
		return pos, n, true
	}
	panic("hub: a history channel kept disappearing under a publication")
}

// JoinAt subscribes s to a channel with history. Under the channel's lock
// it calls reply with the channel's position, whether since (nil: none
// given) is recovered and, when it is, every publication after since,
// oldest first, then subscribes s: whatever reply queues on s comes before
// the later publications, so s gets each once, in offset order. reply
// queues the missed publications itself because they may be more than a
// subscriber takes from a live stream at once. It reports whether s is the
// first subscriber, and ok false when name keeps no history (nothing is
// done then).
func (h *Hub) JoinAt(name []byte, s Subscriber, since *Position, reply func(pos Position, recovered bool, missed []*Message)) (first, ok bool) {
	sh := h.shard(name)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ch := h.channelLocked(sh, name)
	if ch.hist == nil {
		return false, false
	}
	ch.mu.Lock()
	delta := ch.hist.trim(h.now())
	var missed []*Message
	recovered := since != nil && ch.hist.holds(*since)
	if recovered {
		missed = ch.hist.after(since.Offset, -1)
	}
	reply(ch.hist.position(), recovered, missed)
	first = ch.addLocked(s) && len(ch.subs) == 1
	ch.mu.Unlock()
	h.charge(delta)
	if first {
		h.channels.Add(1)
	}
	return first, true
}

// Position returns where channel name's history stands; ok is false when
// it keeps none.
func (h *Hub) Position(name []byte) (pos Position, ok bool) {
	ch, ok := h.History(name, nil, 0, nil)
	return ch, ok
}

// History returns the kept publications of channel name, oldest first:
// the last limit of them, or with since the first limit after it
// (recovered false and none when since is not recoverable); limit < 0 is
// no bound. out receives them under the channel's lock and must not keep
// the slice. ok is false when name keeps no history.
func (h *Hub) History(name []byte, since *Position, limit int, out func(pubs []*Message, first uint64, recovered bool)) (pos Position, ok bool) {
	for range 4 {
		ch, hist := h.historyChannel(name)
		if !hist {
			return Position{}, false
		}
		ch.mu.Lock()
		if ch.dead {
			ch.mu.Unlock()
			continue
		}
		delta := ch.hist.trim(h.now())
		pos = ch.hist.position()
		if out != nil {
			h.collect(ch.hist, since, limit, out)
		}
		ch.mu.Unlock()
		h.charge(delta)
		return pos, true
	}
	panic("hub: a history channel kept disappearing under a read")
}

func (h *Hub) collect(hist *history, since *Position, limit int, out func([]*Message, uint64, bool)) {
	switch {
	case since == nil:
		pubs := hist.latest(limit)
		out(pubs, hist.last-uint64(len(pubs))+1, false)
	case hist.holds(*since):
		out(hist.after(since.Offset, limit), since.Offset+1, true)
	default:
		out(nil, 0, false)
	}
}

// charge adds delta to the total and, past the bound, drops the least
// recently published histories until a quarter of the bound is free. It
// runs with no hub lock held.
func (h *Hub) charge(delta int64) {
	total := h.hist.bytes.Add(delta)
	limit := h.cfg.MaxHistoryBytes
	if limit <= 0 || total <= limit || !h.hist.evicting.CompareAndSwap(false, true) {
		return
	}
	defer h.hist.evicting.Store(false)
	for _, v := range h.byAge() {
		if h.hist.bytes.Load() <= limit/4*3 {
			return
		}
		h.evict(v.name)
	}
}

type aged struct {
	name    string
	touched int64
}

// byAge lists the channels with history, least recently touched first.
func (h *Hub) byAge() []aged {
	var all []aged
	h.eachChannel(func(name string, ch *channel) {
		if ch.hist != nil {
			ch.mu.Lock()
			all = append(all, aged{name, ch.hist.touched})
			ch.mu.Unlock()
		}
	})
	slices.SortFunc(all, func(a, b aged) int { return int(min(max(a.touched-b.touched, -1), 1)) })
	return all
}

// evict drops channel name's history for the memory bound: it changes
// epoch, and a channel nobody has joined goes altogether.
func (h *Hub) evict(name string) {
	sh := h.shard([]byte(name))
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ch := sh.channels[name]
	if ch == nil || ch.hist == nil {
		return
	}
	ch.mu.Lock()
	delta := ch.hist.drop(h.newEpoch())
	if len(ch.subs) == 0 {
		ch.dead = true
		delete(sh.channels, name)
		delta -= recordCost + int64(len(name))
	}
	ch.mu.Unlock()
	h.hist.bytes.Add(delta)
	h.hist.dropped.Add(1)
}

// Sweep drops the publications older than their TTL and removes the
// channels nobody has joined whose history has been idle for its TTL.
// The server calls it about once a second when any channel keeps history.
func (h *Hub) Sweep() {
	now := h.now()
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.Lock()
		var delta int64
		for name, ch := range sh.channels {
			if ch.hist == nil {
				continue
			}
			ch.mu.Lock()
			delta += ch.hist.trim(now)
			if len(ch.subs) == 0 && ch.hist.n == 0 && now-ch.hist.touched > int64(ch.hist.r.TTL) {
				ch.dead = true
				delete(sh.channels, name)
				delta -= ch.hist.bytes + int64(len(name))
			}
			ch.mu.Unlock()
		}
		sh.mu.Unlock()
		h.hist.bytes.Add(delta)
	}
}
