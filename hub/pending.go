package hub

// Channels whose history a broker keeps (Redis) number their publications
// in the broker; this node delivers them in the broker's order
// (DeliverAt). A recovering join there cannot be answered under the
// channel's lock, since the history is a round trip away, so it has two
// steps: JoinPending makes the joiner a member that holds what arrives
// meanwhile, and Settle, once the caller has read the history, under the
// channel's lock hands the held publications to the caller, which queues
// the answer, the missed ones and the held ones it did not read, and then
// makes the joiner a plain subscriber. Every publication after the read
// arrives either before Settle (held) or after (queued live): none is
// missed and none comes twice.

// Held is a publication that arrived while a join was pending.
type Held struct {
	Offset uint64
	M      *Message
}

// JoinPending adds s to channel name as a pending joiner and reports
// whether it is the channel's first member. Joining twice is a no-op.
func (h *Hub) JoinPending(name []byte, s Subscriber) (first bool) {
	sh := h.shard(name)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ch := h.channelLocked(sh, name)
	ch.mu.Lock()
	_, joined := ch.index[s]
	_, waiting := ch.pending[s]
	if !joined && !waiting {
		if ch.pending == nil {
			ch.pending = map[Subscriber]*[]Held{}
		}
		ch.pending[s] = new([]Held)
		first = len(ch.subs)+len(ch.pending) == 1
	}
	ch.mu.Unlock()
	if first {
		h.channels.Add(1)
	}
	return first
}

// Settle ends s's pending join on channel name: under the channel's lock
// it calls settle with what arrived meanwhile, in order, then subscribes
// s. It reports false, without calling settle, when s is no longer
// pending (it left, or its connection closed).
func (h *Hub) Settle(name []byte, s Subscriber, settle func(held []Held)) bool {
	ch := h.lookup(name)
	if ch == nil {
		return false
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	held, ok := ch.pending[s]
	if !ok {
		return false
	}
	settle(*held)
	delete(ch.pending, s)
	ch.addLocked(s)
	return true
}

// DeliverAt fans out the publication of offset on channel name, as the
// broker delivered it, building its message once; pending joiners hold
// it. It returns the number of subscribers reached.
func (h *Hub) DeliverAt(name []byte, offset uint64, build func() *Message) int {
	ch := h.lookup(name)
	if ch == nil {
		return 0
	}
	b := acquireBatch()
	ch.mu.Lock()
	m := build()
	for _, s := range ch.subs {
		if s.Enqueue(m) {
			b.subs = append(b.subs, s)
		}
	}
	for _, held := range ch.pending {
		*held = append(*held, Held{offset, m})
	}
	n := len(ch.subs)
	ch.mu.Unlock()
	h.flush(b)
	return n
}
