package server

import (
	"bytes"
	"context"

	"github.com/wsify/wsify/protocol"
)

// A join is answered once this node's broker subscription to the channel
// is confirmed (brokers that can say so: broker.Confirmer), so that a
// publication made on any node after the answer reaches the new
// subscriber. The subscriber is in the hub from the start; only the
// answer waits, off the workers, while the connection's later commands
// wait behind it. A channel the node is subscribed to already answers at
// once, so only the first join of a channel on a node pays the round trip.
// With the broker down the answer comes after the broker timeout: nothing
// is published meanwhile anyway (publications are refused).

// joinCall is a join waiting for the broker's confirmation, run on the
// publisher pool.
type joinCall struct {
	c       *conn
	id      []byte
	channel []byte
	since   bool // the join named a since, which a channel without history cannot recover
}

// assignedCall holds the 101 of a connection whose authorizer named
// channels (conn.hold) until the broker confirmed each, as a join's
// answer waits: a client that saw it may be published to there from any
// node.
type assignedCall struct {
	c        *conn
	channels [][]byte
}

// unconfirmed returns the channels c is in that wait for the broker.
func (c *conn) unconfirmed() [][]byte {
	var waiting [][]byte
	for _, ch := range c.channels {
		if c.needsConfirm([]byte(ch)) {
			waiting = append(waiting, []byte(ch))
		}
	}
	return waiting
}

func (a *assignedCall) Run() {
	s := a.c.srv
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Broker.Timeout)
	for _, ch := range a.channels {
		s.link.confirm.WaitSubscribed(ctx, ch) // a timeout answers all the same, as for a join
	}
	cancel()
	a.c.mu.Lock()
	a.c.unlockSubmit(a.c.scheduleLocked(evResume))
}

// finish lets the 101 go (brokerCall); the frames behind the handshake
// run next (resume).
func (a *assignedCall) finish(c *conn, _ error) { c.releaseHeld() }

// needsConfirm reports whether a join of channel must wait for the broker.
func (c *conn) needsConfirm(channel []byte) bool {
	cf := c.srv.link.confirm
	return cf != nil && !cf.Subscribed(channel)
}

// askConfirm hands the join's answer to the publisher pool (waitFor).
func (c *conn) askConfirm(cmd *protocol.Command) {
	c.waitOn(&joinCall{c: c, id: bytes.Clone(cmd.ID), channel: bytes.Clone(cmd.Channel), since: cmd.Since.Given})
}

func (j *joinCall) Run() {
	s := j.c.srv
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Broker.Timeout)
	s.link.confirm.WaitSubscribed(ctx, j.channel) // a timeout answers all the same: see above
	cancel()
	j.c.mu.Lock()
	j.c.unlockSubmit(j.c.scheduleLocked(evResume))
}

// finish answers the join once the broker confirmed it (brokerCall).
func (j *joinCall) finish(c *conn, _ error) {
	if j.since {
		c.concludeAt(protocol.KindJoin, j.id, nil, protocol.NotRecovered)
		return
	}
	c.conclude(protocol.KindJoin, j.id, nil)
}
