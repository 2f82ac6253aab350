package hub

// A process that hands its connections to a new one (server/handoff*.go)
// hands its histories over first, so that the new process goes on with
// the same epochs and offsets: a client that recovers from the last
// publication it saw recovers there as well.

// Kept is one channel's history as it moves to another process.
type Kept struct {
	Channel []byte
	Epoch   string
	Last    uint64  // offset of the latest publication
	Touched int64   // last publication, creation or last leave, unix nanoseconds
	Pubs    []Entry // kept publications, oldest first: offsets Last-len(Pubs)+1 .. Last
}

// Entry is a kept publication: when it was published (unix nanoseconds)
// and its frame as encoded for delivery.
type Entry struct {
	At    int64
	Frame []byte
}

// Histories returns every history the hub keeps, each read under its
// channel's lock. The frames are shared, not copied: they never change.
func (h *Hub) Histories() []Kept {
	var all []Kept
	h.eachChannel(func(name string, ch *channel) {
		if ch.hist == nil {
			return
		}
		ch.mu.Lock()
		k := Kept{Channel: []byte(name), Epoch: ch.hist.epoch, Last: ch.hist.last, Touched: ch.hist.touched, Pubs: make([]Entry, ch.hist.n)}
		for j := range k.Pubs {
			e := ch.hist.at(j)
			k.Pubs[j] = Entry{At: e.at, Frame: e.m.Frame}
		}
		ch.mu.Unlock()
		all = append(all, k)
	})
	return all
}

// Restore gives channel k.Channel the history k, replacing what it kept,
// when Retention says the channel keeps one here (it reports false and
// does nothing otherwise). A history longer than this hub keeps loses its
// oldest publications. variant is the variant builder of every message.
func (h *Hub) Restore(k Kept, variant func(frame []byte) []byte) bool {
	sh := h.shard(k.Channel)
	sh.mu.Lock()
	ch := h.channelLocked(sh, k.Channel)
	if ch.hist == nil {
		sh.mu.Unlock()
		return false
	}
	ch.mu.Lock()
	delta := ch.hist.drop(k.Epoch)
	ch.hist.last = k.Last - min(k.Last, uint64(len(k.Pubs)))
	for _, e := range k.Pubs {
		delta += ch.hist.push(NewMessage(e.Frame, variant), e.At)
	}
	ch.hist.last = k.Last
	ch.hist.touched = k.Touched
	ch.mu.Unlock()
	sh.mu.Unlock()
	h.charge(delta)
	return true
}

// Names returns the channels that have subscribers (pending joiners
// included).
func (h *Hub) Names() []string {
	var names []string
	h.eachChannel(func(name string, ch *channel) {
		if ch.len() > 0 {
			names = append(names, name)
		}
	})
	return names
}
