package server

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/gobwas/ws"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/events"
	"github.com/wsify/wsify/hub"
	"github.com/wsify/wsify/protocol"
)

// History kept by the broker (Redis). The broker numbers publications and
// delivers them to every subscribed node, the publisher's included, in
// offset order (fromBrokerAt). A join or a history command needs the
// history, a round trip away, so it runs on the publisher pool while the
// connection's later commands wait, as a client broadcast does. A join
// first becomes a pending member of the channel (hub.JoinPending), which
// holds what arrives; once the broker has confirmed the node's
// subscription the history is read, and under the channel's lock
// (hub.Settle) the answer, the missed publications and the held ones
// after the read are queued, and the joiner goes live.

func (s *Server) retention(channel []byte) broker.Retention {
	o := s.ns.Lookup(channel)
	return broker.Retention{Size: o.HistorySize, TTL: o.HistoryTTL}
}

// publishRemote publishes on a channel whose history the broker keeps.
// The local subscribers get it from the broker, in offset order.
func (s *Server) publishRemote(channel, content []byte) (*protocol.Position, error) {
	pos, err := s.hist.PublishAt(channel, content, s.retention(channel))
	if err != nil {
		return nil, fmt.Errorf("server: publish: %w", err)
	}
	s.stats.published.Add(1)
	return &protocol.Position{Offset: pos.Offset, Epoch: pos.Epoch}, nil
}

// publishRemoteOnce is publishRemote under an idempotency key, which the
// broker stores with the publication (idempotency.go): replayed when the
// key was used already, and nothing was published.
func (s *Server) publishRemoteOnce(channel, content []byte, key string) (*protocol.Position, bool, error) {
	pos, replayed, err := s.hist.PublishOnce(channel, content, s.retention(channel), key, s.cfg.IdempotencyTTL)
	if err != nil {
		return nil, false, fmt.Errorf("server: publish: %w", err)
	}
	if !replayed {
		s.stats.published.Add(1)
	}
	return &protocol.Position{Offset: pos.Offset, Epoch: pos.Epoch}, replayed, nil
}

// fromBrokerAt fans out a publication with history, encoded once here.
func (s *Server) fromBrokerAt(channel []byte, offset uint64, content []byte) {
	if g := s.ho.giving.Load(); g != nil {
		s.deliverAtGiving(g, channel, offset, content)
		return
	}
	n := s.hub.DeliverAt(channel, offset, func() *hub.Message {
		frame := protocol.HistoryFrame(channel, offset, content)
		if s.cfg.Compression {
			return deflateMessage(frame)
		}
		return hub.NewMessage(frame, nil)
	})
	s.stats.deliveries.Add(uint64(n))
}

// historyCall is a join or a history command waiting on the broker.
type historyCall struct {
	c       *conn
	kind    protocol.Kind
	pending bool // a join whose connection is a pending member
	id      []byte
	channel []byte
	since   protocol.Since
	limit   int
	answer  []byte // the history answer's frame, sent by finish
}

// joinRemote runs a join of a channel whose history the broker keeps.
func (c *conn) joinRemote(cmd *protocol.Command) {
	pending := false
	if !slices.Contains(c.channels, string(cmd.Channel)) {
		c.channels = append(c.channels, string(cmd.Channel))
		mu := c.srv.link.stripe(cmd.Channel)
		mu.Lock()
		if c.srv.hub.JoinPending(cmd.Channel, c) {
			c.srv.link.b.Subscribe(cmd.Channel)
		}
		mu.Unlock()
		pending = true
		c.emitChannel(events.Join, c.channels[len(c.channels)-1])
	}
	c.askHistory(cmd, pending)
}

// askHistory hands a join (pending: a pending member of the channel) or a
// history command to the publisher pool.
func (c *conn) askHistory(cmd *protocol.Command, pending bool) {
	since := cmd.Since
	since.Epoch = bytes.Clone(since.Epoch)
	c.waitOn(&historyCall{c: c, kind: cmd.Kind, pending: pending, id: bytes.Clone(cmd.ID),
		channel: bytes.Clone(cmd.Channel), since: since, limit: cmd.Limit})
}

func (h *historyCall) Run() {
	s := h.c.srv
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Broker.Timeout)
	defer cancel()
	var err error
	if h.pending {
		err = s.hist.WaitSubscribed(ctx, h.channel)
	}
	var pos broker.Position
	var kept []broker.Kept
	if err == nil {
		pos, kept, err = s.hist.ReadHistory(h.channel, s.retention(h.channel))
	}
	if err == nil {
		h.settle(pos, kept)
	}
	h.c.mu.Lock()
	h.c.answer = err
	h.c.unlockSubmit(h.c.scheduleLocked(evResume))
}

// settle answers from what was read: a history command's answer is sent
// by the handler; a join's answer, replay and held publications are
// queued here, under the channel's lock.
func (h *historyCall) settle(pos broker.Position, kept []broker.Kept) {
	p := protocol.Position{Offset: pos.Offset, Epoch: pos.Epoch}
	if h.kind == protocol.KindHistory {
		offsets, contents, rec := pickKept(kept, pos, h.since, h.limit)
		h.answer = protocol.AppendFrame(nil, ws.OpText, protocol.AppendHistoryJSON(nil, h.id, offsets, contents, p, rec))
		return
	}
	recovered := h.pending && h.since.Given && holds(kept, pos, h.since)
	rec := recoveryOf(h.since.Given, recovered)
	c := h.c
	if !h.pending { // joined already: nothing to replay
		if h.id != nil {
			h.answer = protocol.AppendPositionFrame(nil, h.id, &p, rec)
		}
		return
	}
	c.srv.hub.Settle(h.channel, c, func(held []hub.Held) {
		if h.id != nil {
			c.enqueue(protocol.AppendPositionFrame(nil, h.id, &p, rec))
		}
		if recovered {
			for _, k := range kept {
				if k.Offset > h.since.Offset {
					c.enqueueReplay(hub.NewMessage(protocol.HistoryFrame(h.channel, k.Offset, k.Content), deflateVariant(c)))
				}
			}
		}
		for _, m := range held {
			if m.Offset > pos.Offset {
				c.enqueueReplay(m.M)
			}
		}
	})
	c.Flush()
}

// deflateVariant is the variant builder of a frame made for one
// connection: its compressed form when it negotiated compression.
func deflateVariant(c *conn) func([]byte) []byte {
	if !c.deflate {
		return nil
	}
	return protocol.DeflateFrame
}

// finish answers on the handler once the broker has (brokerCall).
func (h *historyCall) finish(c *conn, err error) {
	if err != nil {
		if h.pending {
			c.leave(h.channel)
		}
		c.srv.stats.command(h.kind, resultUnavailable)
		c.replyError(h.id, protocol.ErrUnavailable)
		return
	}
	c.srv.stats.command(h.kind, resultOK)
	if h.answer != nil && h.id != nil {
		c.send(h.answer)
	}
}

// holds reports whether kept has every publication after since.
func holds(kept []broker.Kept, pos broker.Position, since protocol.Since) bool {
	switch {
	case string(since.Epoch) != pos.Epoch || since.Offset > pos.Offset:
		return false
	case since.Offset == pos.Offset:
		return true
	}
	return len(kept) > 0 && kept[0].Offset <= since.Offset+1 && kept[len(kept)-1].Offset == pos.Offset
}

func recoveryOf(given, recovered bool) protocol.Recovery {
	switch {
	case !given:
		return protocol.NoRecovery
	case recovered:
		return protocol.Recovered
	}
	return protocol.NotRecovered
}

// pickKept selects a history answer from what the broker keeps, as the
// hub does for its own histories.
func pickKept(kept []broker.Kept, pos broker.Position, since protocol.Since, limit int) ([]uint64, [][]byte, protocol.Recovery) {
	if limit == protocol.NoLimit {
		limit = protocol.MaxHistoryLimit
	}
	from := len(kept) - min(limit, len(kept)) // the latest limit
	to := len(kept)
	rec := protocol.NoRecovery
	if since.Given {
		rec = protocol.NotRecovered
		from, to = 0, 0
		if holds(kept, pos, since) {
			rec = protocol.Recovered
			for from < len(kept) && kept[from].Offset <= since.Offset {
				from++
			}
			to = min(len(kept), from+limit)
		}
	}
	offsets := make([]uint64, 0, to-from)
	contents := make([][]byte, 0, to-from)
	for _, k := range kept[from:to] {
		offsets = append(offsets, k.Offset)
		contents = append(contents, k.Content)
	}
	return offsets, contents, rec
}

// remoteHistoryAnswer is History for a broker keeping the histories.
func (s *Server) remoteHistoryAnswer(id []byte, q HistoryQuery) ([]byte, *protocol.Error) {
	pos, kept, err := s.hist.ReadHistory(q.Channel, s.retention(q.Channel))
	if err != nil {
		return nil, protocol.ErrUnavailable
	}
	offsets, contents, rec := pickKept(kept, pos, q.Since, q.Limit)
	return protocol.AppendHistoryJSON(nil, id, offsets, contents, protocol.Position{Offset: pos.Offset, Epoch: pos.Epoch}, rec), nil
}
