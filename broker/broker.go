package broker

import (
	"errors"
	"fmt"
	"time"
)

// Broker carries publications between the nodes that share it.
type Broker interface {
	// Publish hands frame, an encoded WebSocket frame for channel, to the
	// other nodes. It fails with an error wrapping ErrUnavailable when the
	// broker is down or does not take it within Config.Timeout. It does not
	// deliver to this node: the caller does that itself.
	Publish(channel, frame []byte) error
	// Subscribe records that this node wants the publications of channel.
	// It never waits on the network; a subscribed channel stays wanted
	// across reconnects until Unsubscribe.
	Subscribe(channel []byte)
	// Unsubscribe records that this node no longer wants channel.
	Unsubscribe(channel []byte)
	// Blocking reports whether Publish may wait on the network. When false
	// it returns at once, and a caller may publish on a goroutine that
	// must not wait.
	Blocking() bool
	// Health tells whether the broker is up now, and why not.
	Health() Health
	// Stats returns the broker's counters.
	Stats() Stats
	// Close disconnects. No Handlers call runs once it has returned.
	Close() error
}

// Handlers receive what a broker has for its node.
type Handlers struct {
	// Message receives a frame another node published on channel. It runs
	// on the driver's receiving goroutine, one call at a time in the order
	// the broker delivered, and must not block: later messages wait. The
	// slices are the callee's to keep. Nil drops messages.
	Message func(channel, frame []byte)
	// State is told each change between up and down, and the first state
	// a networked driver reaches. Calls come one at a time. Nil ignores.
	State func(Health)
	// Publication receives a publication on a channel with history
	// (Historian.PublishAt), this node's own included: every node delivers
	// them in the broker's order, which is the order of their offsets. It
	// runs as Message does; the slices are the callee's. Nil drops them.
	Publication func(channel []byte, offset uint64, content []byte)
}

// Health is a broker's state.
type Health struct {
	Up     bool
	Reason string    // why it is down; empty when up
	Since  time.Time // when it last went up or down
}

// Stats are a broker's counters since it was opened.
type Stats struct {
	Driver        string `json:"driver"`
	Up            bool   `json:"up"`
	Reason        string `json:"reason,omitempty"`      // why it is down
	Downs         uint64 `json:"downs"`                 // times it went down
	Subscriptions int    `json:"subscriptions"`         // channels this node wants
	Published     uint64 `json:"published"`             // publications handed to the broker
	Received      uint64 `json:"received"`              // publications of other nodes delivered
	Dropped       uint64 `json:"dropped"`               // messages refused (bad envelope) or lost (slow)
	Own           uint64 `json:"own_skipped,omitempty"` // own publications echoed back and ignored
	Refused       uint64 `json:"refused_while_down"`    // Publish calls failed with ErrUnavailable
	Since         string `json:"since,omitempty"`       // RFC 3339 time of the last up or down
	Node          string `json:"node_id,omitempty"`     // this node's id in envelopes, hex
	URL           string `json:"url,omitempty"`         // broker URL, credentials redacted
}

var (
	// ErrUnavailable is wrapped by every Publish failure: the broker is
	// down or did not take the publication in time.
	ErrUnavailable = errors.New("broker unavailable")
	// ErrClosed is returned by Publish after Close.
	ErrClosed = fmt.Errorf("%w: closed", ErrUnavailable)
	// ErrUnconfirmed is wrapped by a publication that was sent to the
	// broker and got no answer in time (a timeout, a connection lost): the
	// broker may have delivered it, and may still. It wraps
	// ErrUnavailable. Every other failure is a publication the broker did
	// not run: refused while down, never sent, or answered with an error.
	ErrUnconfirmed = fmt.Errorf("%w: sent, no answer in time: it may have been delivered", ErrUnavailable)
)

// Open starts the broker cfg describes. A networked driver connects in the
// background: Open fails only on a config that cannot work, and the broker
// reports down (Health) until it has connected.
func Open(cfg Config, h Handlers) (Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("broker: config: %w", err)
	}
	cfg = cfg.WithDefaults()
	node, err := newNodeID()
	if err != nil {
		return nil, fmt.Errorf("broker: node id: %w", err)
	}
	switch cfg.Driver {
	case "redis":
		return openRedis(cfg, h, node)
	case "redis-cluster":
		return openCluster(cfg, h, node)
	case "nats":
		return openNATS(cfg, h, node)
	}
	return openMemory(cfg, h, node), nil
}
