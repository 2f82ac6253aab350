package server

import "sync"

// table holds every connection by fd, so shutdown can reach them all and
// counting them is cheap. Fds are small dense numbers, so a slice indexed by
// fd costs one pointer per possible fd and no map entry per connection.
type table struct {
	mu    sync.Mutex
	slots []*conn // index is the fd; guarded by mu
	n     int     // connections held; guarded by mu
}

func (t *table) put(c *conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.fd >= len(t.slots) {
		t.slots = append(t.slots, make([]*conn, c.fd+1-len(t.slots)+len(t.slots)/2)...)
	}
	t.slots[c.fd] = c
	t.n++
}

func (t *table) del(c *conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.fd < len(t.slots) && t.slots[c.fd] == c {
		t.slots[c.fd] = nil
		t.n--
	}
}

func (t *table) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// each calls fn for every connection, outside the lock.
func (t *table) each(fn func(*conn)) {
	t.mu.Lock()
	all := make([]*conn, 0, t.n)
	for _, c := range t.slots {
		if c != nil {
			all = append(all, c)
		}
	}
	t.mu.Unlock()
	for _, c := range all {
		fn(c)
	}
}

// visitSlice calls fn under the lock for every connection in slice k of
// parts of the table. The lock is let go every visitBatch slots, so
// accepts and releases never wait long behind a sweep.
func (t *table) visitSlice(k, parts int, fn func(*conn)) {
	t.mu.Lock()
	n := len(t.slots)
	t.mu.Unlock()
	for lo, hi := k*n/parts, (k+1)*n/parts; lo < hi; lo += visitBatch {
		t.mu.Lock()
		for _, c := range t.slots[lo:min(lo+visitBatch, hi)] {
			if c != nil {
				fn(c)
			}
		}
		t.mu.Unlock()
	}
}

// visitBatch bounds the slots visited under one hold of the table lock.
const visitBatch = 1024
