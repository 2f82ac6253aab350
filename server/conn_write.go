package server

import (
	"github.com/gobwas/ws"

	"github.com/wsify/wsify/netpoll"
)

// maxIdleOut is the outbox capacity kept between bursts, so steady
// deliveries reuse it without allocating and a burst's spike is let go.
const maxIdleOut = 16

// enqueue queues frame for c and reports whether the caller must Flush. A
// subscriber whose waiting bytes would pass the outbox limit is closed with
// 1008 instead: it never stalls the publisher or the other subscribers.
// Bytes in the writev under way are not waiting: the kernel may have taken
// them already while their writer waits for a core, and a reader that keeps
// up must not look slow for that.
func (c *conn) enqueue(frame []byte) bool {
	c.mu.Lock()
	if c.closed || c.closing {
		c.mu.Unlock()
		return false
	}
	if waiting := c.outBytes - c.sending; waiting > 0 && waiting+len(frame) > c.srv.cfg.OutboxBytes {
		c.srv.stats.slowConsumers.Add(1)
		start := c.requestCloseLocked(ws.StatusPolicyViolation, "slow consumer: outbox limit exceeded")
		c.mu.Unlock()
		if start {
			c.srv.workers.Submit(c)
		}
		return false
	}
	c.out = append(c.out, frame)
	c.outBytes += len(frame)
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
	if c.writing || c.wantOut || c.released || (c.outFirst == len(c.out) && !c.closed) {
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
		case c.closed:
			c.finishClosedLocked()
			return
		case c.outFirst == len(c.out):
			c.resetOutLocked()
			c.writing = false
			c.mu.Unlock()
			return
		case c.tls != nil && c.tls.sealed < len(c.out):
			c.sealLocked()
			continue
		}
		bufs, head := c.out[c.outFirst:c.unsentEndLocked()], c.outHead
		c.sending = c.outBytes // all of it: plain writes everything, TLS sealed everything first
		c.mu.Unlock()
		n, err := netpoll.Writev(c.fd, bufs, head)
		c.mu.Lock()
		c.sending = 0
		if !c.wroteLocked(n, err) {
			c.mu.Unlock()
			return
		}
	}
}

// unsentEndLocked is where the bytes ready for the socket end in c.out:
// everything on plain TCP, what is sealed on TLS.
func (c *conn) unsentEndLocked() int {
	if c.tls != nil {
		return c.tls.sealed
	}
	return len(c.out)
}

// wroteLocked accounts for a writev and reports whether the loop goes on.
func (c *conn) wroteLocked(n int, err error) bool {
	c.consumeLocked(n)
	c.compactLocked()
	switch {
	case err == nil:
		return true
	case netpoll.IsAgain(err):
		c.wantOut = true
		c.writing = false
		if !c.running && !c.closed {
			c.settleLocked()
		}
	default:
		c.writing = false
		if c.requestCloseLocked(0, "") {
			c.srv.workers.Submit(c)
		}
	}
	return false
}

func (c *conn) consumeLocked(n int) {
	c.outBytes -= n
	for n > 0 {
		rest := len(c.out[c.outFirst]) - c.outHead
		if n < rest {
			c.outHead += n
			return
		}
		n -= rest
		c.out[c.outFirst] = nil
		c.outFirst++
		c.outHead = 0
	}
}

// compactLocked moves the unsent frames to the front of c.out once the
// sent ones take half of it. c.out is otherwise reset only when it
// empties, so a subscriber that stays behind without reaching the outbox
// limit, or a stream that never lets the writer catch up, would grow it by
// a slot per frame for as long as it lasts. It runs on the writer between
// writevs: nothing reads c.out outside c.mu then.
func (c *conn) compactLocked() {
	if c.outFirst == 0 || c.outFirst < len(c.out)/2 {
		return
	}
	n := copy(c.out, c.out[c.outFirst:])
	clear(c.out[n:])
	c.out = c.out[:n]
	if c.tls != nil {
		c.tls.sealed -= c.outFirst
	}
	c.outFirst = 0
}

func (c *conn) resetOutLocked() {
	if c.tls != nil {
		c.tls.idleLocked()
	}
	if cap(c.out) > maxIdleOut {
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
	c.outFirst, c.outHead, c.outBytes = 0, 0, 0
}

// finishClosedLocked sends the close frame when no frame is half written,
// drops the rest and lets the fd go. It unlocks c.mu.
func (c *conn) finishClosedLocked() {
	if c.tls != nil {
		c.tlsFinishClosedLocked()
		return
	}
	frame := c.closeFrame
	if c.outHead != 0 {
		frame = nil // the peer is mid-frame; a close frame would corrupt it
	}
	c.closeFrame = nil
	c.out = nil
	c.outFirst, c.outHead, c.outBytes = 0, 0, 0
	linger := c.lingering
	c.mu.Unlock()
	var last [][]byte
	if frame != nil {
		last = [][]byte{frame}
	}
	c.writeLast(last, 0, linger)
}

// writeLast writes the last bytes of a closed connection (less skip bytes
// already sent), sends FIN when it lingers so the peer reads the close
// before our drain ends, then gives up the writer role. c.mu is not held.
func (c *conn) writeLast(bufs [][]byte, skip int, linger bool) {
	if len(bufs) > 0 {
		netpoll.Writev(c.fd, bufs, skip)
	}
	if linger {
		netpoll.Shutdown(c.fd)
	}
	c.mu.Lock()
	c.writing = false
	c.releaseLocked()
	c.mu.Unlock()
}
