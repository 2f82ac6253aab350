package server

import (
	"encoding/json"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/protocol"
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
type brokerLink struct {
	b       broker.Broker
	seed    maphash.Seed
	stripes [64]sync.Mutex // serialize join and leave per channel hash
}

// wrapBroker, set only by tests (export_test.go), wraps each broker as it
// is opened, to inject latency.
var wrapBroker = func(b broker.Broker) broker.Broker { return b }

// openBroker starts the broker. Its messages feed the hub, which Start
// creates later: none can come before a client has joined a channel.
func (s *Server) openBroker() error {
	b, err := broker.Open(s.cfg.Broker, broker.Handlers{Message: s.fromBroker, State: s.brokerState})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	b = wrapBroker(b)
	s.link.b, s.link.seed = b, maphash.MakeSeed()
	return nil
}

// closeBroker disconnects; no message reaches the hub once it returns.
func (s *Server) closeBroker() {
	if s.link.b != nil {
		s.link.b.Close()
	}
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
	n := s.publishFrame(channel, frame)
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
