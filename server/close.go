package server

import (
	"time"

	"github.com/wsify/wsify/netpoll"
	"github.com/wsify/wsify/protocol"
)

// A connection ends in three steps. close (handler) leaves its channels,
// marks it closed and hands the send side a close frame; the writer
// (finishClosedLocked) sends what must go and the close frame; release
// gives the fd back once neither handler nor writer holds it. A close we
// start lingers: the fd stays open, draining input, until the peer's EOF
// or closeLinger, so that the peer reads our close frame instead of a
// reset. Other goroutines ask for a close with requestClose; the handler
// carries it out. The reasons are in disconnect.go.

// closeLinger bounds how long a connection we closed keeps its fd to drain
// what the peer still sends. Closing a socket with unread input makes the
// kernel answer with a reset, and a reset can destroy the close frame (and
// frames before it) on the peer's side before it reads them: the peer would
// see an abnormal closure instead of our close code.
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

// close sends d's close frame (none when its code is 0), leaves every
// channel and lets the socket go. It runs on the handler.
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
	}
	c.channels = nil
	linger := d.code != 0 && wasOpen && !c.peerSaid
	if linger {
		c.srv.wheel.Set(c, time.Now().Add(closeLinger))
	}
	c.mu.Lock()
	c.closed, c.lingering = true, linger
	if d.code != 0 && wasOpen {
		c.ob.closeFrame = protocol.CloseFrame(d.code, d.reason)
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
	}
}

// abort closes without a close frame: the peer is gone or never upgraded.
func (c *conn) abort() {
	if c.state == stateOpen {
		c.close(discPeerGone)
		return
	}
	c.close(discUnopened)
}

// finishClosedLocked sends the close frame when no frame is half written,
// drops the rest and lets the fd go. It unlocks c.mu.
func (c *conn) finishClosedLocked() {
	if c.tls != nil {
		c.tlsFinishClosedLocked()
		return
	}
	frame := c.ob.closeFrame
	if c.ob.head != 0 {
		frame = nil // the peer is mid-frame; a close frame would corrupt it
	}
	c.ob.drop()
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

// drain runs on a closed connection that lingers: it discards input until
// the peer's EOF or the linger deadline, then lets the fd go.
func (c *conn) drain(ev uint8) {
	done := ev&evTimeout != 0 && !c.srv.wheel.Armed(c)
	var buf [2048]byte
	for i := 0; i < drainReads && !done && ev&evRead != 0; i++ {
		n, err := netpoll.Read(c.fd, buf[:])
		if netpoll.IsAgain(err) {
			break
		}
		done = n <= 0
	}
	if done {
		c.srv.wheel.Clear(c)
		c.mu.Lock()
		c.lingering = false
		c.mu.Unlock()
	}
}

// releaseLocked gives the fd back once neither handler nor writer uses it.
func (c *conn) releaseLocked() {
	if c.released || c.running || c.writing || c.lingering {
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
