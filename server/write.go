package server

import (
	"github.com/wsify/wsify/netpoll"
)

// enqueue queues frame for c and reports whether the caller must Flush. A
// subscriber whose waiting bytes would pass the outbox limit is closed with
// 1008 instead: it never stalls the publisher or the other subscribers.
func (c *conn) enqueue(frame []byte) bool {
	c.mu.Lock()
	if c.closed || c.closing != nil {
		c.mu.Unlock()
		return false
	}
	if waiting := c.ob.waiting(); waiting > 0 && waiting+len(frame) > c.srv.cfg.OutboxBytes {
		c.srv.stats.slowConsumers.Add(1)
		c.unlockSubmit(c.requestCloseLocked(discSlowConsumer))
		return false
	}
	c.ob.push(frame)
	flush := !c.writing && !c.flushQueued && !c.wantOut
	c.flushQueued = c.flushQueued || flush
	c.mu.Unlock()
	return flush
}

// Flush writes what is queued unless another writer is at it (hub.Subscriber).
// It keeps c.mu from its check into the write loop: one lock fewer per
// delivery.
func (c *conn) Flush() {
	c.mu.Lock()
	c.flushQueued = false
	if c.writing || c.wantOut || c.released || c.frozen || c.held || (c.ob.empty() && !c.closed) {
		c.mu.Unlock()
		return
	}
	c.writing = true
	c.writeLoopLocked()
}

// send queues a frame from the handler and writes it at once.
func (c *conn) send(frame []byte) {
	if c.enqueue(frame) {
		c.Flush()
	}
}

// writable handles the poller saying a blocked write can go on.
func (c *conn) writable() {
	c.mu.Lock()
	c.wantOut = false
	c.mu.Unlock()
	c.Flush()
}

// writeLoopLocked writes the outbox until it is empty or the socket is
// full; frames queued meanwhile leave in the same writev. The caller holds
// c.mu and has set c.writing; c.mu is released on return. On TLS only
// sealed ciphertext is written, so frames are sealed first.
func (c *conn) writeLoopLocked() {
	for {
		switch {
		case c.frozen: // the handoff waits for this writer to stop
			c.writing = false
			c.unlockSubmit(c.scheduleLocked(evHandoff))
			return
		case c.closed && c.ob.closeKeep != kept:
			c.ob.trimForClose(c.tls != nil)
			continue
		case c.closed && (c.ob.empty() || c.expired):
			c.finishClosedLocked()
			return
		case c.ob.empty():
			c.idleLocked()
			c.writing = false
			c.mu.Unlock()
			return
		case c.tls != nil && c.ob.sealed < len(c.ob.out):
			c.sealLocked()
			continue
		}
		bufs, head := c.ob.out[c.ob.first:c.unsentEndLocked()], c.ob.head
		c.ob.sending = c.ob.bytes // all of it: plain writes everything, TLS sealed everything first
		c.mu.Unlock()
		n, err := netpoll.Writev(c.fd, bufs, head)
		c.mu.Lock()
		c.ob.sending = 0
		if !c.wroteLocked(n, err) {
			c.mu.Unlock()
			return
		}
	}
}

// unsentEndLocked is where the bytes ready for the socket end in the
// outbox: everything on plain TCP, what is sealed on TLS.
func (c *conn) unsentEndLocked() int {
	if c.tls != nil {
		return c.ob.sealed
	}
	return len(c.ob.out)
}

// idleLocked empties the outbox once all of it is written.
func (c *conn) idleLocked() {
	if c.tls != nil {
		c.tls.idleLocked()
	}
	c.ob.reset()
}

// wroteLocked accounts for a writev and reports whether the loop goes on.
func (c *conn) wroteLocked(n int, err error) bool {
	c.ob.consume(n)
	c.ob.compact()
	switch {
	case err == nil || c.expired:
		return true // the loop goes on, or finishes a close whose time is up
	case netpoll.IsAgain(err):
		// The socket is full: EPOLLOUT resumes the writer, on an open
		// connection and on a closed one that still has kept frames to write.
		c.wantOut = true
		c.writing = false
		if !c.running {
			c.settleLocked()
		}
	default:
		c.ob.drop() // nothing more can go out
		c.wantOut, c.writing = false, false
		if c.requestCloseLocked(discWriteFailed) {
			c.srv.workers.Submit(c) // the pool's lock is a leaf (locksordering.txt)
		}
	}
	return false
}
