package server

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsify/wsify/events"
	"github.com/wsify/wsify/hub"
	"github.com/wsify/wsify/namespace"
	"github.com/wsify/wsify/protocol"
)

// Channel history (README: Continuity). A channel whose namespace keeps
// history gets its publications numbered by the hub: under the channel's
// lock the hub takes the next offset, this file's build encodes the frame
// with it once, and the hub keeps it and queues it on every subscriber. A
// join that names the last publication its client saw is answered and
// replayed to in that same critical section, so nothing is missed or
// doubled. Channels without history take none of these paths.

// loadNamespaces reads the namespaces file and checks that the broker can
// carry history when some namespace keeps it.
func (s *Server) loadNamespaces() error {
	var file *namespace.File
	if s.cfg.NamespacesFile != "" {
		f, err := namespace.Read(s.cfg.NamespacesFile)
		if err != nil {
			return err
		}
		file = f
	}
	def := namespace.Options{HistorySize: max(0, s.cfg.HistorySize), HistoryTTL: s.cfg.HistoryTTL,
		Presence: s.cfg.Presence, JoinLeave: s.cfg.JoinLeave}
	s.ns = namespace.NewTable(def, file)
	if err := s.loadPresence(s.ns); err != nil {
		return err
	}
	if !s.ns.AnyHistory() {
		s.ns = nil // no history anywhere: not even a lookup on the hot paths
		return nil
	}
	switch b := s.cfg.Broker; {
	case b.Driver == "nats":
		return fmt.Errorf("channel history is not available with the nats broker (core NATS keeps nothing): use the redis broker for history, or turn history off")
	case b.Driver == "redis" || b.Driver == "redis-cluster":
		s.remoteHistory = true // kept in Redis (historyremote.go)
	case b.URL != "":
		return fmt.Errorf("channel history needs a node-private memory broker: %s is shared by several nodes, whose offsets would differ", b.RedactedURL())
	}
	return nil
}

// historyHub is the hub's history configuration: none without history.
func (s *Server) historyHub(cfg hub.Config) hub.Config {
	if s.ns == nil || s.remoteHistory {
		return cfg
	}
	var epoch [6]byte
	rand.Read(epoch[:])
	cfg.Epoch = hex.EncodeToString(epoch[:]) // a new one at every start
	cfg.MaxHistoryBytes = int64(max(0, s.cfg.HistoryMaxBytes))
	cfg.Retention = func(name []byte) hub.Retention {
		o := s.ns.Lookup(name)
		if !o.History() {
			return hub.Retention{}
		}
		return hub.Retention{Size: o.HistorySize, TTL: o.HistoryTTL}
	}
	return cfg
}

// keepsHistory reports whether channel keeps history.
func (s *Server) keepsHistory(channel []byte) bool {
	return s.ns != nil && s.ns.Lookup(channel).History()
}

// startSweeper trims expired publications once a second.
func (s *Server) startSweeper() {
	if s.ns == nil || s.remoteHistory {
		return
	}
	s.sweepStop = make(chan struct{})
	s.sweepDone = make(chan struct{})
	go func() {
		defer close(s.sweepDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-s.sweepStop:
				return
			case <-t.C:
				s.hub.Sweep()
			}
		}
	}()
}

func (s *Server) stopSweeper() {
	if s.sweepStop != nil {
		close(s.sweepStop)
		<-s.sweepDone
	}
}

// publishHistory publishes content on a channel with history: the offset
// is taken, the frame encoded with it and queued in one step (hub.PublishAt).
func (s *Server) publishHistory(channel, content []byte) (n int, pos *protocol.Position) {
	if g := s.ho.giving.Load(); g != nil { // a new process takes the subscribers over (handoff_give.go)
		g.publish(channel, nil, func() (int, []byte, uint64) {
			var frame []byte
			n, pos = s.publishHistoryLocal(channel, content, &frame)
			return n, frame, pos.Offset
		})
		return n, pos
	}
	return s.publishHistoryLocal(channel, content, nil)
}

// publishHistoryLocal is publishHistory on this node's subscribers; it
// stores the frame in *frame when frame is not nil.
func (s *Server) publishHistoryLocal(channel, content []byte, frame *[]byte) (int, *protocol.Position) {
	build := func(offset uint64) *hub.Message {
		f := protocol.HistoryFrame(channel, offset, content)
		if frame != nil {
			*frame = f
		}
		return hub.NewMessage(f, s.variant())
	}
	pos, n, _ := s.hub.PublishAt(channel, build)
	s.stats.published.Add(1)
	s.stats.deliveries.Add(uint64(n))
	return n, &protocol.Position{Offset: pos.Offset, Epoch: pos.Epoch}
}

// joinHistory joins c to a channel with history and answers the join,
// replaying what the client missed when since is recoverable; the answer
// and the replay are queued before any later publication.
func (s *Server) joinHistory(name []byte, c *conn, cmd *protocol.Command) {
	var since *hub.Position
	if cmd.Since.Given {
		since = &hub.Position{Offset: cmd.Since.Offset, Epoch: string(cmd.Since.Epoch)}
	}
	reply := func(pos hub.Position, recovered bool, missed []*hub.Message) {
		if cmd.ID != nil {
			c.enqueue(protocol.AppendPositionFrame(nil, cmd.ID, &protocol.Position{Offset: pos.Offset, Epoch: pos.Epoch}, recovery(cmd, recovered)))
		}
		for _, m := range missed {
			c.enqueueReplay(m)
		}
	}
	mu := s.link.stripe(name)
	mu.Lock()
	if first, _ := s.hub.JoinAt(name, c, since, reply); first {
		s.link.b.Subscribe(name)
	}
	mu.Unlock()
	c.Flush()
}

func recovery(cmd *protocol.Command, recovered bool) protocol.Recovery {
	switch {
	case !cmd.Since.Given:
		return protocol.NoRecovery
	case recovered:
		return protocol.Recovered
	}
	return protocol.NotRecovered
}

// HistoryQuery is a history request: a command's or GET /history's.
type HistoryQuery struct {
	Channel []byte
	Limit   int // protocol.NoLimit: the most
	Since   protocol.Since
}

// History answers a history request as the JSON object of the history
// reply (with id when not nil), or protocol.ErrNotEnabled.
func (s *Server) History(id []byte, q HistoryQuery) ([]byte, *protocol.Error) {
	if !s.keepsHistory(q.Channel) {
		return nil, protocol.ErrNotEnabled
	}
	if s.hist != nil {
		return s.remoteHistoryAnswer(id, q)
	}
	limit := q.Limit
	if limit == protocol.NoLimit {
		limit = protocol.MaxHistoryLimit
	}
	var since *hub.Position
	if q.Since.Given {
		since = &hub.Position{Offset: q.Since.Offset, Epoch: string(q.Since.Epoch)}
	}
	var offsets []uint64
	var frames [][]byte
	rec := false
	pos, _ := s.hub.History(q.Channel, since, limit, func(pubs []*hub.Message, first uint64, recovered bool) {
		rec = recovered
		for i, m := range pubs {
			offsets = append(offsets, first+uint64(i))
			frames = append(frames, protocol.HistoryContent(m.Frame))
		}
	})
	r := protocol.NoRecovery
	if since != nil {
		r = protocol.NotRecovered
		if rec {
			r = protocol.Recovered
		}
	}
	return protocol.AppendHistoryJSON(nil, id, offsets, frames, protocol.Position{Offset: pos.Offset, Epoch: pos.Epoch}, r), nil
}

// historyCommand runs a client's history command.
func (c *conn) historyCommand(cmd *protocol.Command) {
	body, err := c.srv.History(cmd.ID, HistoryQuery{Channel: cmd.Channel, Limit: cmd.Limit, Since: cmd.Since})
	if err != nil {
		c.srv.stats.command(cmd.Kind, resultInvalid)
		c.replyError(cmd.ID, err)
		return
	}
	c.srv.stats.command(cmd.Kind, resultOK)
	if cmd.ID != nil {
		c.send(protocol.AppendFrame(nil, ws.OpText, body))
	}
}

// joinWithHistory runs a join of a channel with history.
func (c *conn) joinWithHistory(cmd *protocol.Command) {
	c.srv.stats.command(cmd.Kind, resultOK)
	if !slices.Contains(c.channels, string(cmd.Channel)) {
		c.channels = append(c.channels, string(cmd.Channel))
		c.srv.joinHistory(cmd.Channel, c, cmd)
		c.emitChannel(events.Join, c.channels[len(c.channels)-1])
		return
	}
	// Joined already: every publication since is on its way, so there
	// is nothing to replay, and the client learns where the channel is.
	if cmd.ID != nil {
		pos, _ := c.srv.hub.Position(cmd.Channel)
		c.send(protocol.AppendPositionFrame(nil, cmd.ID, &protocol.Position{Offset: pos.Offset, Epoch: pos.Epoch}, recovery(cmd, false)))
	}
}

// enqueueReplay queues a publication a recovering join missed. It is not
// held to the outbox limit: the replay comes at once and may pass it, and
// it is bounded by the history, which is bounded by the node's history
// memory. Live publications queued after it are held to the limit.
func (c *conn) enqueueReplay(m *hub.Message) {
	frame := m.Frame
	if c.deflate {
		frame = m.Variant()
	}
	c.mu.Lock()
	if !c.closed && c.closing == nil {
		c.ob.push(frame)
		c.flushQueued = true
	}
	c.mu.Unlock()
}
