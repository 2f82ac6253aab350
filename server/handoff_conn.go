package server

import (
	"net/netip"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/netpoll"
	"github.com/wsify/wsify/protocol"
	"github.com/wsify/wsify/server/internal/handoff"
)

// A connection changes process on its handler, at a point where nothing
// of it is in flight: no command waits on the authorizer or the broker,
// no writer is in a writev, no close has begun. The handler freezes it
// (no writer starts), then, under the handoff's lock, takes it out of the
// hub, records its state with every byte queued for it until then, and
// queues the record and the socket for the new process (handoff_give.go).
// The new process puts it in its own table, hub and poller (adopt), and
// goes on reading where this one stopped and writing what was left.

// handOff runs on the handler when the handoff asks for c.
func (c *conn) handOff() {
	g := c.srv.ho.giving.Load()
	if g == nil || !c.handable() {
		c.thaw()
		return
	}
	c.mu.Lock()
	c.frozen = true
	if c.writing { // the writer stops at its next turn and asks again (writeLoopLocked)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	g.take(c)
}

// handable reports whether c can go now. A TLS connection never can (its
// crypto state stays here); one waiting on the authorizer or the broker
// goes once answered, and the handoff asks again.
func (c *conn) handable() bool {
	if c.state == stateClosed || c.tls != nil || c.paused || c.call != nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing == nil && !c.closed
}

// thaw undoes a freeze the handoff will not complete, and writes what was
// queued meanwhile.
func (c *conn) thaw() {
	c.mu.Lock()
	frozen := c.frozen
	c.frozen = false
	c.mu.Unlock()
	if frozen {
		c.Flush()
	}
}

// record captures c for the new process and retires it here: from the
// moment c.mu is released nothing is queued on it, no handler runs for it
// and its fd is no longer watched, but the fd stays open until it is sent.
// The caller holds the handoff's lock and took c out of the hub.
func (c *conn) record() handoff.Conn {
	now := c.srv.now()
	r := handoff.Conn{
		ID: c.id(), Remote: c.remote.String(), Open: c.state == stateOpen,
		Deflate: c.deflate, Inflate: c.inflate, MsgOp: byte(c.msgOp), Message: c.msg,
		Unparsed: append([]byte(nil), c.rbuf...), Client: c.client, Channels: c.channels,
		RateWait: wait(c.lim.tat, now), FloodWait: wait(c.lim.floodTAT, now), JoinWait: wait(c.lim.joinTAT, now),
		Heard: -1,
	}
	if c.ident != nil {
		r.Identified, r.User, r.Info = true, c.ident.User, c.ident.Info
	}
	switch seen := c.lim.seen.Load(); {
	case seen > 0:
		r.Heard = now - seen
	case seen < 0:
		r.Heard, r.Pinged = now+seen, true
	}
	c.srv.ho.unparsed.Add(int64(len(r.Unparsed)))
	if c.msgOp != 0 {
		c.srv.ho.fragmented.Add(1)
	}
	c.mu.Lock()
	r.Unsent = c.ob.unsent()
	c.srv.ho.unsent.Add(int64(len(r.Unsent)))
	c.ob.drop()
	c.closed, c.released, c.frozen, c.wantOut = true, true, false, false
	c.events = 0 // none may touch the socket here any more: a drain turn would eat the peer's bytes
	c.mu.Unlock()
	c.state = stateClosed
	c.channels = nil
	c.dropBuffers()
	c.msg = nil
	return r
}

// presenceMoved records, without a join or leave event (for the app the
// connection neither left nor joined), that c's memberships of channels
// keeping presence leave this node's account (joined false: handed over)
// or come to it (true: adopted). The old process's removals are queued
// before the connection is even sent, the new one's additions once the
// handoff is done, so they reach the broker in that order.
func (c *conn) presenceMoved(joined bool) {
	p := c.srv.pres
	if p == nil || p.b == nil {
		return
	}
	for _, ch := range c.channels {
		name := []byte(ch)
		if !p.ns.Lookup(name).Presence {
			continue
		}
		var info []byte
		if c.ident != nil {
			info = c.ident.Info
		}
		id, user := c.id(), c.user()
		m := broker.Member{Client: id, User: user, JSON: protocol.AppendMember(nil, id, user, info)}
		p.b.Change(broker.PresenceChange{Channel: name, Member: m, Joined: joined, Keep: true})
	}
}

// wait is how long until a rate-limit bucket kept as tat is full again.
func wait(tat, now int64) int64 { return max(0, tat-now) }

// unsent is every byte queued and not yet written, the rest of a frame
// begun included. Only a plain connection is handed over, so there is no
// ciphertext to account for.
func (o *outbox) unsent() []byte {
	if o.empty() {
		return nil
	}
	b := make([]byte, 0, o.bytes)
	for i, f := range o.out[o.first:] {
		if i == 0 {
			f = f[o.head:]
		}
		b = append(b, f...)
	}
	return b
}

// adopt makes a connection of the giving process this server's, parked:
// in the hub on every channel it had joined, so that it gets the
// publications the giving process passes on, but neither read nor written
// (frozen) nor in the table until unpark. Until the giving process is done,
// a connection here must publish nothing: the publications of that time
// are ordered by the giving process alone (handoff.go).
func (s *Server) adopt(r *handoff.Conn, fd int) *conn {
	remote, _ := netip.ParseAddrPort(r.Remote)
	c := &conn{srv: s, fd: fd, seq: s.seq.Add(1), remote: remote, name: r.ID, state: stateHandshake, frozen: true,
		deflate: r.Deflate, inflate: r.Inflate, msgOp: ws.OpCode(r.MsgOp), msg: r.Message, client: r.Client, channels: r.Channels}
	if r.Open {
		c.state = stateOpen
	}
	if r.Identified {
		c.ident = &auth.Identity{User: r.User, Info: r.Info}
	}
	if len(r.Unparsed) > 0 {
		c.rbuf = r.Unparsed
	}
	now := s.now()
	c.lim.tat, c.lim.floodTAT, c.lim.joinTAT = due(r.RateWait, now), due(r.FloodWait, now), due(r.JoinWait, now)
	if r.Heard >= 0 && s.lim.sweep != nil {
		t := max(1, now-r.Heard) // heard before this process started: as if just now
		if r.Pinged {
			t = -t
		}
		c.lim.seen.Store(t)
	}
	if len(r.Unsent) > 0 {
		c.ob.push(r.Unsent)
	}
	for _, ch := range c.channels {
		s.joinChannel([]byte(ch), c)
	}
	return c
}

// unpark puts an adopted connection in the table, starts its deadline,
// watches its socket and writes what waits for it. One closed while
// parked (as a slow consumer) is left alone: its socket is gone.
func (c *conn) unpark() {
	s := c.srv
	c.mu.Lock()
	gone := c.closed || c.released
	c.frozen = false
	c.mu.Unlock()
	if gone {
		return
	}
	s.conns.put(c)
	c.presenceMoved(true)
	if c.state == stateOpen {
		s.connOpened()
		if len(c.rbuf) > 0 || c.msgOp != 0 {
			c.readWait = true
			s.wheel.Set(c, time.Now().Add(s.cfg.ReadTimeout))
		}
	} else {
		s.wheel.Set(c, time.Now().Add(s.cfg.HandshakeTimeout))
	}
	if err := s.poller.Add(c.fd, netpoll.Readable, c.onEvent); err != nil {
		s.stats.pollerErrors.Add(1)
		s.log.Warn("register a connection taken over", "id", c.id(), "err", err)
		c.requestClose(discPollerError)
		return
	}
	c.Flush()
}

func due(wait, now int64) int64 {
	if wait <= 0 {
		return 0
	}
	return now + wait
}
