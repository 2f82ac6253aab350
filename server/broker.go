package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"runtime"
	"sync"
	"time"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/hub"
	"github.com/wsify/wsify/protocol"
	"github.com/wsify/wsify/server/internal/pool"
)

// brokerLink ties the hub to the broker that carries publications between
// nodes: the node wants a channel from the broker exactly while the channel
// has local subscribers.
//
// Join and leave hold the channel's stripe lock around both the hub change
// and the broker call it implies. Without it a leave that empties a channel
// and a join that brings it back, on two workers, could reach the broker in
// the opposite order and leave a live channel unsubscribed. With it, the
// broker's wish for a channel changes in the same order as the hub's
// first/last verdicts, so at every unlock the two agree. Broker calls only
// record the wish (they never wait on the network), so the stripe is held
// briefly. The stripes head the lock order (locksordering.txt).
//
// A client broadcast waits for a broker that may block (Broker.Blocking)
// on pubs, never on a worker: a stuck broker would otherwise hold the few
// workers and freeze every connection.
type brokerLink struct {
	b       broker.Broker
	pubs    *pool.Pool       // client broadcasts waiting on the broker; nil when it never blocks
	confirm broker.Confirmer // says when a subscription is in place; nil: joins answer at once (joinconfirm.go)
	seed    maphash.Seed
	stripes [64]sync.Mutex // serialize join and leave per channel hash
}

// brokerCallers is the size of pubs: go-redis's default connection pool
// (10 per CPU), so a healthy broker takes as many publications at once
// as its client can carry, and a stuck one holds that many calls at most.
func brokerCallers() int { return 10 * runtime.GOMAXPROCS(0) }

// wrapBroker, set only by tests (export_test.go), wraps each broker as it
// is opened, to inject latency.
var wrapBroker = func(b broker.Broker) broker.Broker { return b }

// openBroker starts the broker. Its messages feed the hub, which Start
// creates later: none can come before a client has joined a channel.
func (s *Server) openBroker() error {
	b, err := broker.Open(s.cfg.Broker, broker.Handlers{Message: s.brokerMessage, State: s.brokerState, Publication: s.brokerPublication,
		Filtered: s.brokerFiltered, Control: s.fromControl})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	b = wrapBroker(b)
	if err := s.attachPresence(b); err != nil {
		b.Close()
		return err
	}
	if s.remoteHistory {
		h, ok := b.(broker.Historian)
		if !ok {
			b.Close()
			return fmt.Errorf("server: the %s broker keeps no history", s.cfg.Broker.Driver)
		}
		s.hist = h
	}
	s.link.b, s.link.seed = b, maphash.MakeSeed()
	if b.Blocking() {
		s.link.pubs = pool.New(brokerCallers(), s.taskPanicked)
		s.link.confirm, _ = b.(broker.Confirmer)
	}
	return nil
}

// closeBroker disconnects; no message reaches the hub once it returns.
// Broadcasts still queued for the broker then fail at once rather than
// each waiting out the timeout; their answers reach the workers, which
// close after.
func (s *Server) closeBroker() {
	if s.link.b != nil {
		s.link.b.Close()
	}
	if s.link.pubs != nil {
		s.link.pubs.Close()
	}
}

// askBroker pauses reading and hands a broadcast to the publisher pool:
// the connection's later commands wait for the broker, so its commands
// and publications stay in order, while no worker waits. The call gets
// copies: what cmd points into is the read buffer, reused meanwhile.
func (c *conn) askBroker(cmd *protocol.Command) {
	p := &pubCall{c: c, id: bytes.Clone(cmd.ID), channel: bytes.Clone(cmd.Channel)}
	if c.srv.keepsHistory(cmd.Channel) {
		p.content = bytes.Clone(cmd.Content) // the broker numbers it (historyremote.go)
	} else {
		p.frame = protocol.BroadcastFrame(cmd.Channel, cmd.Content)
		p.filter = c.filterOf(&cmd.Targets) // a copy, too
	}
	c.waitOn(p)
}

// pubCall is one client broadcast, run on the publisher pool. It
// publishes even when its connection closed meanwhile: the client sent
// it, and the whole publication, remote and local, goes or none does.
type pubCall struct {
	c       *conn
	id      []byte // the command's id; nil when it gave none
	channel []byte
	frame   []byte             // nil on a channel with history
	filter  *hub.Filter        // its targets; nil: every subscriber
	content []byte             // on a channel with history
	pos     *protocol.Position // set by Run on a channel with history
	n       int                // receivers on this node, set by Run
}

func (p *pubCall) Run() {
	var err error
	if p.frame == nil {
		p.n, p.pos, err = p.c.srv.PublishAt(p.channel, p.content)
	} else {
		p.n, err = p.c.srv.publish(p.channel, p.frame, p.filter)
	}
	p.c.mu.Lock()
	p.c.answer = err
	p.c.unlockSubmit(p.c.scheduleLocked(evResume))
}

// finish answers the client once the broker has (brokerCall).
func (p *pubCall) finish(c *conn, err error) {
	c.concludePublished(p.id, p.n, p.pos, err)
}

// brokerCall is a command waiting on the broker off the workers, on the
// publisher pool: when it is done it resumes its connection, whose
// handler then calls finish with the broker's answer.
type brokerCall interface {
	Run()
	finish(c *conn, err error)
}

// waitOn hands call to the publisher pool, the connection paused until
// call has answered (waitFor).
func (c *conn) waitOn(call brokerCall) {
	c.call = call
	c.waitFor(c.srv.link.pubs, call)
}

func (l *brokerLink) stripe(name []byte) *sync.Mutex {
	return &l.stripes[maphash.Bytes(l.seed, name)%uint64(len(l.stripes))]
}

func (s *Server) joinChannel(name []byte, c *conn) {
	mu := s.link.stripe(name)
	mu.Lock()
	defer mu.Unlock()
	if s.hub.Join(name, c) {
		s.link.b.Subscribe(name)
	}
}

func (s *Server) leaveChannel(name []byte, c *conn) {
	mu := s.link.stripe(name)
	mu.Lock()
	defer mu.Unlock()
	if s.hub.Leave(name, c) {
		s.link.b.Unsubscribe(name)
	}
}

// fromBroker fans out another node's publication locally, as received: it
// was encoded once by the publishing node.
func (s *Server) fromBroker(channel, frame []byte) {
	if !protocol.IsServerTextFrame(frame) {
		s.log.Debug("broker message is not a text frame; dropped", "channel", string(channel), "bytes", len(frame))
		return
	}
	n := s.publishFrame(channel, frame, nil)
	s.stats.deliveries.Add(uint64(n))
}

// fromBrokerFiltered fans out another node's narrowed publication to the
// local subscribers its filter lets through. A filter this node cannot
// read is dropped: delivering without it could reach anyone.
func (s *Server) fromBrokerFiltered(channel, filter, frame []byte) {
	f, err := hub.ParseFilter(filter)
	if err != nil || !protocol.IsServerTextFrame(frame) {
		s.log.Debug("broker's filtered publication is malformed; dropped", "channel", string(channel), "bytes", len(frame))
		return
	}
	n := s.publishFrame(channel, frame, f)
	s.stats.deliveries.Add(uint64(n))
}

// brokerState logs each change between up and down once. It may run
// before openBroker has returned, so it touches only cfg and the log.
func (s *Server) brokerState(h broker.Health) {
	if h.Up {
		s.log.Info("broker up", "driver", s.cfg.Broker.Driver, "url", s.cfg.Broker.RedactedURL())
		return
	}
	s.log.Warn("broker down: clients stay connected, publications are refused with 503 until it is back",
		"driver", s.cfg.Broker.Driver, "url", s.cfg.Broker.RedactedURL(), "reason", h.Reason)
}

// brokerDown is the body /healthz answers with 503 while the broker is
// down; nil while it is up. Only the operator gets the reason (detailed):
// the driver's words name hosts, and no one outside needs them.
func (s *Server) brokerDown(detailed bool) []byte {
	h := s.link.b.Health()
	if h.Up {
		return nil
	}
	reason := "broker down"
	if detailed {
		reason += ": " + h.Reason
	}
	body, _ := json.Marshal(struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
		Since  string `json:"since"`
	}{"unavailable", reason, h.Since.UTC().Format(time.RFC3339Nano)})
	return body
}

// BrokerStats returns the broker's counters and state.
func (s *Server) BrokerStats() broker.Stats { return s.link.b.Stats() }
