package broker

import (
	"context"
	"time"
)

// Historian is a broker that keeps channel histories shared by every node
// (the redis driver): offsets are assigned by the broker, and a client may
// recover on any node.
type Historian interface {
	// PublishAt appends content to channel's history and publishes it to
	// every node subscribed to channel, this one included, in one atomic
	// step: no node can deliver an offset that a read of the history
	// would not find. It fails like Publish.
	PublishAt(channel, content []byte, o Retention) (Position, error)
	// PublishOnce is PublishAt under an idempotency key (not empty): the
	// first call with key on channel publishes and stores the key with
	// the publication, in the same atomic step; a call with the same key
	// on the same channel, from any node, within keep of the first,
	// publishes nothing and returns the first one's position, replayed.
	PublishOnce(channel, content []byte, o Retention, key string, keep time.Duration) (pos Position, replayed bool, err error)
	// ReadHistory returns where channel's history stands and the
	// publications it keeps, oldest first, those older than o.TTL left out.
	ReadHistory(channel []byte, o Retention) (Position, []Kept, error)
	Confirmer
}

// Confirmer is a broker that can say when this node's subscription to a
// channel is in place on the broker, so that a join answered after that
// misses no publication made anywhere later (the redis driver).
type Confirmer interface {
	// Subscribed reports, without waiting, whether the broker has
	// confirmed this node's subscription to channel.
	Subscribed(channel []byte) bool
	// WaitSubscribed returns once the broker has confirmed this node's
	// subscription to channel (Subscribe), so that every publication made
	// after that reaches this node.
	WaitSubscribed(ctx context.Context, channel []byte) error
}

// Retention is how a channel keeps its history.
type Retention struct {
	Size int
	TTL  time.Duration
}

// Position is the offset of a channel's latest publication (0: none) and
// the epoch its offsets belong to.
type Position struct {
	Offset uint64
	Epoch  string
}

// Kept is one publication of a history.
type Kept struct {
	Offset  uint64
	Content []byte
}
