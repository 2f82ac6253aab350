package server

import (
	"time"

	"github.com/wsify/wsify/events"
	"github.com/wsify/wsify/netpoll"
	"github.com/wsify/wsify/protocol"
)

// A connection ends in three steps. close (handler) leaves its channels,
// marks it closed and tells the outbox what to keep (disconnect.keep); the
// writer trims the outbox, writes what was kept, waiting for the socket as
// usual, then the close frame (finishClosedLocked); release gives the fd
// back once neither handler nor writer holds it and nothing is left to
// write. A close we start lingers: the fd stays open, draining input, until
// the peer's EOF, so that the peer reads our close frame instead of a
// reset. A deadline bounds all of it: closeLinger, or the shutdown timeout
// for a shutdown that flushes; when it passes, what is left is dropped.
// Other goroutines ask for a close with requestClose; the handler carries
// it out. The reasons are in disconnect.go.

// closeLinger bounds how long a connection we closed keeps its fd to finish
// its last frame and drain what the peer still sends. Closing a socket with
// unread input makes the kernel answer with a reset, and a reset can
// destroy the close frame (and frames before it) on the peer's side before
// it reads them: the peer would see an abnormal closure instead of our
// close code.
const closeLinger = time.Second

// drainReads bounds the reads of one drain turn, so a peer that floods
// after our close cannot hold a worker; the level-triggered re-arm brings
// the rest.
const drainReads = 32

// requestClose asks the handler to close for d; the first request wins.
func (c *conn) requestClose(d *disconnect) {
	c.mu.Lock()
	c.unlockSubmit(c.requestCloseLocked(d))
}

func (c *conn) requestCloseLocked(d *disconnect) bool {
	if c.closing == nil {
		c.closing = d
	}
	return c.scheduleLocked(evClose)
}

// close ends the connection for d: it leaves every channel, queues d's
// close frame (none when its code is 0 or the peer never upgraded) behind
// what d keeps of the outbox, and starts the writer. It runs on the handler.
func (c *conn) close(d *disconnect) {
	if c.state == stateClosed {
		return
	}
	wasOpen := c.state == stateOpen
	c.state = stateClosed
	if c.tls != nil {
		c.tlsClosed()
	}
	c.srv.wheel.Clear(c)
	for _, ch := range c.channels {
		c.srv.leaveChannel([]byte(ch), c)
		c.emitChannel(events.Leave, ch)
	}
	c.channels = nil
	if !wasOpen {
		d = discUnopened
	}
	c.mu.Lock()
	c.closed = true
	c.lingering = d.code != 0 && !c.peerSaid
	c.ob.closeKeep = d.keep()
	if d.code != 0 {
		c.ob.closeFrame = protocol.CloseFrame(d.code, d.reason)
	}
	if c.lingering || !c.ob.empty() {
		c.srv.wheel.Set(c, time.Now().Add(c.closeTimeout(d)))
	}
	if !c.writing && !c.released {
		c.writing = true
		c.writeLoopLocked()
	} else {
		c.mu.Unlock()
	}
	if wasOpen {
		c.srv.connClosed(d.code)
		c.logClosed(d)
		c.emitDisconnect(d.code)
	}
}

// closeTimeout bounds a close's last writes and linger.
func (c *conn) closeTimeout(d *disconnect) time.Duration {
	if d.flush {
		return c.srv.cfg.ShutdownTimeout
	}
	return closeLinger
}

// abort closes without a close frame: the peer is gone or never upgraded.
func (c *conn) abort() { c.close(discPeerGone) }

// finishClosedLocked ends the send side of a closed connection once what
// the close kept is written, or its deadline dropped it: the close frame
// goes unless a frame is cut short, then FIN when the connection lingers.
// It unlocks c.mu.
func (c *conn) finishClosedLocked() {
	frame := c.ob.closeFrame
	if c.ob.head != 0 {
		frame = nil // the deadline cut a frame: a close frame would land inside it
	}
	c.ob.drop()
	linger := c.lingering
	c.mu.Unlock()
	if frame != nil && c.tls != nil {
		frame = c.tls.sealClose(frame) // nil before the handshake is done
	}
	c.writeLast(frame, linger)
}

// writeLast writes the close frame of a closed connection, if any, sends
// FIN when it lingers so the peer reads the close before our drain ends,
// and gives the drain closeLinger from now, then gives up the writer role.
// c.mu is not held.
func (c *conn) writeLast(frame []byte, linger bool) {
	if len(frame) > 0 {
		netpoll.Writev(c.fd, [][]byte{frame}, 0)
	}
	if linger {
		netpoll.Shutdown(c.fd)
		c.srv.wheel.Set(c, time.Now().Add(closeLinger))
	}
	c.mu.Lock()
	c.writing = false
	c.releaseLocked()
	c.mu.Unlock()
}

// drain runs on a closed connection: it writes what the close kept when
// the socket takes it again, discards input until the peer's EOF, and at
// the deadline gives up on both.
func (c *conn) drain(ev uint8) {
	if ev&evWrite != 0 {
		c.writable()
	}
	if ev&evTimeout != 0 && !c.srv.wheel.Armed(c) {
		c.expire()
		return
	}
	var buf [2048]byte
	for i := 0; i < drainReads && ev&evRead != 0; i++ {
		n, err := netpoll.Read(c.fd, buf[:])
		if netpoll.IsAgain(err) {
			return
		}
		if n <= 0 {
			c.mu.Lock()
			c.lingering = false
			c.mu.Unlock()
			return
		}
	}
}

// expire gives up on a close whose deadline passed: the peer sent no EOF,
// or did not take the last frames. A writer under way drops what is left
// when its writev returns; otherwise it is dropped here.
func (c *conn) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lingering = false
	c.expired = true
	if !c.writing {
		c.ob.drop()
		c.wantOut = false
	}
}

// releaseLocked gives the fd back once neither handler nor writer uses it
// and nothing is left to write or drain.
func (c *conn) releaseLocked() {
	if c.released || c.running || c.writing || c.lingering || (!c.ob.empty() && !c.expired) {
		return
	}
	c.released = true
	c.dropBuffers()
	c.srv.forget(c)
	c.srv.poller.CloseFD(c.fd)
}

func (c *conn) dropBuffers() {
	c.unpool()
	c.rbuf, c.msg, c.authMsg, c.client = nil, nil, nil, nil
}
