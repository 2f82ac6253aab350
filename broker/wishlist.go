package broker

import "sync"

// wishlist is the set of channels a node wants from the broker and the
// channels whose wish changed since the connection last applied it. The
// node's goroutines change it without waiting; the driver's connection
// goroutine drains the changes and, after a reconnect, replays it whole.
// A subscription connection's wishlist also tracks what Redis confirmed
// (track, confirm.go).
type wishlist struct {
	mu      sync.Mutex
	want    map[string]struct{} // channels wanted now; guarded by mu
	changed map[string]struct{} // wishes not yet applied; guarded by mu
	wake    chan struct{}       // signalled when changed gains an entry
	track   *tracker            // nil: confirmations not tracked
}

func newWishlist() *wishlist {
	return &wishlist{want: map[string]struct{}{}, changed: map[string]struct{}{}, wake: make(chan struct{}, 1)}
}

func (w *wishlist) set(channel []byte, on bool) {
	w.mu.Lock()
	if on {
		w.want[string(channel)] = struct{}{}
	} else {
		delete(w.want, string(channel))
		if w.track != nil {
			w.track.conf.unset(w.track.owner, string(channel))
		}
	}
	w.changed[string(channel)] = struct{}{}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// changes drains the wishes not yet applied, split into channels to
// subscribe and to unsubscribe. A wish changed back and forth comes out as
// its latest value only; a redundant (un)subscribe is harmless. The
// caller sends them: a tracked wishlist counts them in flight.
func (w *wishlist) changes() (sub, unsub []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changesLocked()
}

func (w *wishlist) changesLocked() (sub, unsub []string) {
	for ch := range w.changed {
		if _, ok := w.want[ch]; ok {
			sub = append(sub, ch)
		} else {
			unsub = append(unsub, ch)
		}
		if w.track != nil {
			w.track.pending[ch]++
		}
	}
	clear(w.changed)
	return sub, unsub
}

// apply drains the changes as changes does and hands them to f while the
// wishlist stays locked: no wish changes between the drain and what f
// does with it (the cluster driver passing them on to its partitions).
func (w *wishlist) apply(f func(sub, unsub []string)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f(w.changesLocked())
}

// all returns every wanted channel and forgets pending changes: it is what
// a fresh connection, which holds no subscription yet, must subscribe.
func (w *wishlist) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	clear(w.changed)
	out := make([]string, 0, len(w.want))
	for ch := range w.want {
		out = append(out, ch)
	}
	if w.track != nil {
		clear(w.track.pending)
		for _, ch := range out {
			w.track.pending[ch] = 1
		}
	}
	return out
}

func (w *wishlist) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.want)
}

func (w *wishlist) wants(channel string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.want[channel]
	return ok
}
