package server

import (
	"time"

	"github.com/wsify/wsify/netpoll"
)

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

// drain runs on a closed connection that lingers: it discards input until
// the peer's EOF or the linger deadline, then lets the fd go.
func (c *conn) drain(ev uint8) {
	done := ev&evTimeout != 0 && !c.srv.wheel.armed(c)
	var buf [2048]byte
	for i := 0; i < drainReads && !done && ev&evRead != 0; i++ {
		n, err := netpoll.Read(c.fd, buf[:])
		if netpoll.IsAgain(err) {
			break
		}
		done = n <= 0
	}
	if done {
		c.srv.wheel.clear(c)
		c.mu.Lock()
		c.lingering = false
		c.mu.Unlock()
	}
}
