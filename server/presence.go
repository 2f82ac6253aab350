package server

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/gobwas/ws"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/namespace"
	"github.com/wsify/wsify/protocol"
)

// Presence (README: Presence). A channel whose namespace says presence
// keeps who is in it, on every node sharing the broker: each join and
// leave of a connection (its close included) is handed to the broker
// (broker.Presencer), which never makes the caller wait; presence and
// presence_stats read it back. A namespace with join_leave tells its
// subscribers: the event is encoded once, queued on this node's
// subscribers at once and carried to the other nodes by the broker, after
// the change it tells of. Without either option anywhere, s.pres is nil
// and a join or leave costs one nil check more.

// presence is the server's side of presence; nil when no namespace has it.
type presence struct {
	ns *namespace.Table
	b  broker.Presencer // the broker keeping it, once open
}

// loadPresence turns presence on when some namespace asks for it or for
// join and leave events, on a broker that can carry them.
func (s *Server) loadPresence(t *namespace.Table) error {
	if !t.AnyPresence() {
		return nil
	}
	if s.cfg.Broker.Driver == "nats" {
		return fmt.Errorf("presence and join_leave are not available with the nats broker (core NATS keeps nothing to count from): use the redis or redis-cluster broker, or turn them off")
	}
	s.pres = &presence{ns: t}
	return nil
}

// attachPresence gives presence the broker that keeps it.
func (s *Server) attachPresence(b broker.Broker) error {
	if s.pres == nil {
		return nil
	}
	p, ok := b.(broker.Presencer)
	if !ok {
		return fmt.Errorf("server: the %s broker keeps no presence", s.cfg.Broker.Driver)
	}
	s.pres.b = p
	return nil
}

// keepsPresence reports whether channel keeps presence.
func (s *Server) keepsPresence(channel []byte) bool {
	return s.pres != nil && s.pres.ns.Lookup(channel).Presence
}

// presenceChanged records that c joined or left channel, and tells the
// channel's subscribers when it has join_leave. The joiner is a
// subscriber already and hears its own join; a leaver no longer is.
func (c *conn) presenceChanged(joined bool, channel string) {
	p := c.srv.pres
	if p == nil {
		return
	}
	name := []byte(channel)
	o := p.ns.Lookup(name)
	if !o.Presence && !o.JoinLeave {
		return
	}
	var info []byte
	if c.ident != nil {
		info = c.ident.Info
	}
	id, user := c.id(), c.user()
	m := broker.Member{Client: id, User: user, JSON: protocol.AppendMember(nil, id, user, info)}
	ch := broker.PresenceChange{Channel: name, Member: m, Joined: joined, Keep: o.Presence}
	if o.JoinLeave {
		ch.Event = protocol.PresenceEventFrame(name, joined, m.JSON)
		c.srv.stats.deliveries.Add(uint64(c.srv.publishFrame(name, ch.Event)))
	}
	p.b.Change(ch)
}

// presenceCommand runs presence or presence_stats: only on a channel that
// keeps presence, and only for a channel the connection has joined.
func (c *conn) presenceCommand(cmd *protocol.Command) {
	var refused *protocol.Error
	switch {
	case !c.srv.keepsPresence(cmd.Channel):
		refused = protocol.ErrNoPresence
	case !slices.Contains(c.channels, string(cmd.Channel)):
		refused = protocol.ErrNotJoined
	}
	if refused != nil {
		c.concludePresence(cmd.Kind, cmd.ID, nil, refused)
		return
	}
	if c.srv.link.pubs != nil { // the broker is a round trip away
		c.waitOn(&presenceCall{c: c, kind: cmd.Kind, id: bytes.Clone(cmd.ID), channel: bytes.Clone(cmd.Channel)})
		return
	}
	body, err := c.srv.presenceAnswer(context.Background(), cmd.Kind, cmd.ID, cmd.Channel)
	c.concludePresence(cmd.Kind, cmd.ID, body, err)
}

// concludePresence counts and answers a presence command.
func (c *conn) concludePresence(kind protocol.Kind, id, body []byte, err *protocol.Error) {
	switch err {
	case nil:
		c.srv.stats.command(kind, resultOK)
		if id != nil {
			c.send(protocol.AppendFrame(nil, ws.OpText, body))
		}
		return
	case protocol.ErrUnavailable:
		c.srv.stats.command(kind, resultUnavailable)
	case protocol.ErrNotJoined:
		c.srv.stats.command(kind, resultDenied)
	default:
		c.srv.stats.command(kind, resultInvalid)
	}
	c.replyError(id, err)
}

// presenceAnswer reads channel's presence (kind presence) or counts
// (presence_stats) and encodes the answer, with id when not nil.
func (s *Server) presenceAnswer(ctx context.Context, kind protocol.Kind, id, channel []byte) ([]byte, *protocol.Error) {
	if kind == protocol.KindPresenceStats {
		n, err := s.pres.b.Count(ctx, channel)
		if err != nil {
			return nil, protocol.ErrUnavailable
		}
		return protocol.AppendPresenceStatsJSON(nil, id, n.Clients, n.Users), nil
	}
	members, total, err := s.pres.b.Members(ctx, channel, protocol.MaxPresenceClients)
	switch {
	case err != nil:
		return nil, protocol.ErrUnavailable
	case total > protocol.MaxPresenceClients:
		return nil, protocol.ErrTooLarge
	}
	return protocol.AppendPresenceJSON(nil, id, members), nil
}

// presenceCall is a presence command waiting on the broker, run on the
// publisher pool.
type presenceCall struct {
	c           *conn
	kind        protocol.Kind
	id, channel []byte
	body        []byte
	err         *protocol.Error
}

func (p *presenceCall) Run() {
	s := p.c.srv
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Broker.Timeout)
	p.body, p.err = s.presenceAnswer(ctx, p.kind, p.id, p.channel)
	cancel()
	p.c.mu.Lock()
	p.c.unlockSubmit(p.c.scheduleLocked(evResume))
}

// finish answers on the handler (brokerCall).
func (p *presenceCall) finish(c *conn, _ error) {
	c.concludePresence(p.kind, p.id, p.body, p.err)
}
