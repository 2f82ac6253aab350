package server

import (
	"net/netip"
	"strconv"
	"sync"

	"github.com/gobwas/ws"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/netpoll"
)

type connState uint8

const (
	stateHandshake connState = iota // reading the request head
	stateOpen                       // upgraded
	stateClosed                     // closed or handed to fasthttp
)

// Events a connection's handler is scheduled for.
const (
	evRead    uint8 = 1 << iota // the socket is readable
	evWrite                     // the socket is writable again
	evResume                    // the authorizer or the broker answered
	evClose                     // another goroutine asked for a close
	evTimeout                   // a deadline passed
	evHandoff                   // a new process takes the connection over (handoff_conn.go)
)

// conn is one client socket. The fields before mu belong to its handler:
// only the goroutine running c.Run touches them, and the running flag makes
// sure there is at most one. Its deadline lives in the server's wheel.
type conn struct {
	srv    *Server
	fd     int
	seq    uint64 // connection number; the client id derives from it
	remote netip.AddrPort
	name   string // the client id the process that accepted it gave; empty: derived from seq (handoff)

	state    connState
	rbuf     []byte     // unparsed bytes; nil while idle
	pooled   *[]byte    // the read buffer pool's box when rbuf came from it
	msg      []byte     // fragments of the message being reassembled
	msgOp    ws.OpCode  // opcode of that message; 0 when none
	channels []string   // channels joined, in join order
	peerSaid bool       // the peer sent a close frame: it will send nothing more
	readWait bool       // a read deadline was put in the wheel (it may have fired since)
	client   []byte     // the authorizer's "client" member, encoded once at connect
	authMsg  []byte     // request head, or command body (command.go), awaiting the authorizer
	call     brokerCall // the command awaiting the broker: a broadcast, a join or a history read; nil: none
	lim      connLimits // rate limit and liveness (ratelimit.go, ping.go)
	tls      *tlsState  // TLS layer; nil on a plain listener (tls.go)
	deflate  bool       // permessage-deflate negotiated (deflate.go)
	inflate  bool       // the message being read is compressed (deflate.go)
	pong     []byte     // payload of the last ping read this turn (read.go)
	pongDue  bool       // a ping read this turn awaits its pong

	mu          sync.Mutex
	running     bool           // a handler is queued or running; guarded by mu
	events      uint8          // events for the handler; guarded by mu
	paused      bool           // reads stop until the authorizer or the broker answers; guarded by mu, written only by the handler, which may read it without mu
	answer      error          // the authorizer's verdict or the broker's answer; guarded by mu
	ident       *auth.Identity // who the authorizer said the connection is; nil: anonymous. Set under mu before the connect resumes, then the handler's
	closing     *disconnect    // the close requested first; guarded by mu
	closed      bool           // nothing more is queued; guarded by mu
	lingering   bool           // closed by us: draining input until EOF; guarded by mu
	expired     bool           // closed, and the close's deadline passed: nothing more is written; guarded by mu
	released    bool           // fd given back to the poller; guarded by mu
	writing     bool           // a writer owns the send side; guarded by mu
	flushQueued bool           // a Flush was promised to the hub; guarded by mu
	wantOut     bool           // a write would block; guarded by mu
	frozen      bool           // being handed to a new process: no writer starts; guarded by mu
	held        bool           // the 101 waits first in the outbox for the assigned channels (handshake.go): no writer starts; guarded by mu
	ob          outbox         // frames queued and the close frame; guarded by mu
}

// id is the server-assigned identity the authorizer sees.
func (c *conn) id() string {
	if c.name != "" {
		return c.name
	}
	return c.srv.nodeID + "-" + strconv.FormatUint(c.seq, 10)
}

// onEvent is the poller callback; it runs on the poller goroutine.
func (c *conn) onEvent(e netpoll.Event) {
	defer c.srv.recoverCallback()
	var ev uint8
	if e&(netpoll.Readable|netpoll.Hangup) != 0 {
		ev |= evRead
	}
	if e&netpoll.Writable != 0 {
		ev |= evWrite
	}
	c.schedule(ev)
}

// schedule asks the handler to process ev, starting it when idle.
func (c *conn) schedule(ev uint8) {
	c.mu.Lock()
	c.unlockSubmit(c.scheduleLocked(ev))
}

// scheduleLocked records ev and reports whether the caller must submit c.
func (c *conn) scheduleLocked(ev uint8) bool {
	if c.released {
		return false
	}
	c.events |= ev
	if c.running {
		return false
	}
	c.running = true
	return true
}

// unlockSubmit releases c.mu, then submits the handler when start says a
// scheduleLocked asked for it. The pool's lock is a leaf, so submitting
// under c.mu would be safe too; unlocking first keeps the hold short.
func (c *conn) unlockSubmit(start bool) {
	c.mu.Unlock()
	if start {
		c.srv.workers.Submit(c)
	}
}

// Run is the handler: it processes events until none are left, then
// re-arms the socket or releases it.
func (c *conn) Run() {
	for {
		c.mu.Lock()
		ev := c.events
		c.events = 0
		if ev == 0 {
			c.running = false
			c.settleLocked()
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		c.handle(ev)
	}
}

func (c *conn) handle(ev uint8) {
	if c.state == stateClosed {
		c.drain(ev)
		return
	}
	if ev&evClose != 0 {
		c.mu.Lock()
		d := c.closing
		c.mu.Unlock()
		c.close(d)
		return
	}
	if ev&evTimeout != 0 && c.timedOut() {
		return
	}
	if ev&evWrite != 0 {
		c.writable()
	}
	if ev&evResume != 0 {
		c.resume()
	}
	if ev&evRead != 0 && c.state != stateClosed && !c.paused {
		c.read()
	}
	if ev&evHandoff != 0 {
		c.handOff()
	}
}

// settleLocked runs when the handler goes idle: it asks the poller for the
// next event, or releases a closed socket that waits for none.
func (c *conn) settleLocked() {
	if !c.closed && c.tls != nil && c.tlsBufferedLocked() {
		return
	}
	var ev netpoll.Event
	if (!c.closed && !c.paused) || c.lingering {
		ev |= netpoll.Readable
	}
	if c.wantOut {
		ev |= netpoll.Writable
	}
	switch {
	case ev != 0:
		if err := c.srv.poller.Rearm(c.fd, ev); err != nil {
			c.rearmFailedLocked(err)
		}
	case c.closed:
		c.releaseLocked()
	}
}

// rearmFailedLocked handles a poller that refused to watch c again: c
// would never wake. It is counted and closed without a close frame (none
// could be written when the socket is ready), or released if closed.
func (c *conn) rearmFailedLocked(err error) {
	c.srv.stats.pollerErrors.Add(1)
	if c.srv.debugging() {
		c.srv.log.Debug("poller refused to re-arm a connection", "id", c.id(), "err", err)
	}
	if !c.closed {
		if c.requestCloseLocked(discPollerError) {
			c.srv.workers.Submit(c) // the pool's lock is a leaf (locksordering.txt)
		}
		return
	}
	c.lingering, c.wantOut, c.expired = false, false, true
	c.releaseLocked()
}

// timedOut closes c when the deadline that fired still applies.
func (c *conn) timedOut() bool {
	if c.srv.wheel.Armed(c) {
		return false
	}
	switch {
	case c.state == stateHandshake:
		c.srv.stats.handshakeTimeouts.Add(1)
		c.logRejected("timeout", "no complete request head in time")
		c.abort()
		return true
	case (len(c.rbuf) > 0 || c.msgOp != 0) && !c.paused:
		c.close(discStalled)
		return true
	}
	return false
}

func (c *conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}
