package events

import (
	"cmp"
	"time"
)

// Config configures a Sink. The zero value, with no URL, is off.
type Config struct {
	// URL receives the batches as POSTed JSON arrays; empty: off.
	URL string
	// MaxBatch is the most events in one request. Default 100.
	MaxBatch int
	// MaxDelay is the longest an event waits for its batch to fill before
	// it is sent. Default 200ms.
	MaxDelay time.Duration
	// QueueSize bounds the events waiting to be sent, retries included;
	// past it new events are dropped and counted. Default 10000.
	QueueSize int
	// Grace is how long a user's leave is held back: a join of the same
	// user to the same channel within it cancels both. Default 5s;
	// negative: off.
	Grace time.Duration
	// Timeout bounds one request. Default 2s.
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before a failed batch is
	// sent again; it doubles from MinBackoff on each failure. Defaults
	// 100ms and 5s.
	MinBackoff, MaxBackoff time.Duration
}

// WithDefaults returns c with every unset field given its default.
func (c Config) WithDefaults() Config {
	c.MaxBatch = cmp.Or(c.MaxBatch, 100)
	c.MaxDelay = cmp.Or(c.MaxDelay, 200*time.Millisecond)
	c.QueueSize = cmp.Or(c.QueueSize, 10000)
	c.Grace = cmp.Or(c.Grace, 5*time.Second)
	c.Timeout = cmp.Or(c.Timeout, 2*time.Second)
	c.MinBackoff = cmp.Or(c.MinBackoff, 100*time.Millisecond)
	c.MaxBackoff = cmp.Or(c.MaxBackoff, 5*time.Second)
	return c
}
