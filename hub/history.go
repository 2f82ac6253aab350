package hub

import "time"

// Retention is how a channel keeps its publications. The zero value keeps
// none: such a channel is the plain channel of a hub without history.
type Retention struct {
	Size int           // publications kept
	TTL  time.Duration // how long one is kept; also how long the history of a channel nobody joined is
}

func (r Retention) on() bool { return r.Size > 0 && r.TTL > 0 }

// Position is where a channel's history stands: the offset of its latest
// publication (0 when none) and the epoch its offsets belong to.
type Position struct {
	Offset uint64
	Epoch  string
}

// Publication is one kept publication: its offset and its frame as
// encoded for delivery.
type Publication struct {
	Offset uint64
	Frame  []byte
}

type entry struct {
	at int64 // when published, unix nanoseconds
	m  *Message
}

// Bytes a history is charged beyond its frames, so that empty histories
// and many small publications still count against the bound.
const (
	recordCost = 256
	entryCost  = 48
)

// history is a channel's kept publications: a ring of at most r.Size
// entries holding the offsets last-n+1 .. last, without gaps. It is
// guarded by its channel's mu.
type history struct {
	r       Retention
	epoch   string
	last    uint64
	ring    []entry // grows to r.Size, then wraps at head
	head, n int
	bytes   int64 // charged to the hub's total
	touched int64 // last publication, creation or last leave, unix nanoseconds
}

func (h *history) at(i int) *entry { return &h.ring[(h.head+i)%len(h.ring)] }

func (h *history) cost(e *entry) int64 { return int64(len(e.m.Frame)) + entryCost }

// push keeps m as the publication of offset last+1 and returns the change
// in bytes.
func (h *history) push(m *Message, now int64) int64 {
	h.last++
	h.touched = now
	e := entry{at: now, m: m}
	delta := h.cost(&e)
	switch {
	case len(h.ring) < h.r.Size:
		h.ring = append(h.ring, e)
		h.n++
	default:
		old := h.at(0)
		delta -= h.cost(old)
		*old = e
		h.head = (h.head + 1) % len(h.ring)
	}
	h.bytes += delta
	return delta
}

// trim drops the publications older than the TTL; it returns the (negative)
// change in bytes.
func (h *history) trim(now int64) int64 {
	var delta int64
	for h.n > 0 && now-h.at(0).at > int64(h.r.TTL) {
		old := h.at(0)
		delta -= h.cost(old)
		*old = entry{}
		h.head = (h.head + 1) % len(h.ring)
		h.n--
	}
	if h.n == 0 {
		h.ring, h.head = nil, 0
	}
	h.bytes += delta
	return delta
}

// drop forgets every publication and moves to epoch, keeping the offsets
// counting: what a client saw before is no longer recoverable, and the
// new epoch tells it so.
func (h *history) drop(epoch string) int64 {
	delta := -(h.bytes - recordCost)
	h.ring, h.head, h.n = nil, 0, 0
	h.bytes = recordCost
	h.epoch = epoch
	return delta
}

func (h *history) position() Position { return Position{h.last, h.epoch} }

// holds reports whether every publication after since is kept, in since's
// epoch.
func (h *history) holds(since Position) bool {
	return since.Epoch == h.epoch && since.Offset <= h.last && h.last-since.Offset <= uint64(h.n)
}

// after returns the kept publications after offset, at most limit of them
// (no bound when limit < 0), oldest first.
func (h *history) after(offset uint64, limit int) []*Message {
	first := h.last - uint64(h.n) + 1
	skip := 0
	if offset >= first {
		skip = int(offset - first + 1)
	}
	k := h.n - skip
	if limit >= 0 {
		k = min(k, limit)
	}
	out := make([]*Message, 0, max(k, 0))
	for i := skip; i < skip+k; i++ {
		out = append(out, h.at(i).m)
	}
	return out
}

// latest returns the last limit kept publications, oldest first.
func (h *history) latest(limit int) []*Message {
	k := h.n
	if limit >= 0 {
		k = min(k, limit)
	}
	return h.after(h.last-uint64(k), -1)
}
