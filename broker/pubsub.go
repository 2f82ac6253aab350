package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wsify/wsify/internal/backoff"
)

// deliverMessage hands a Redis message on channel (known false: not a
// wsify channel) to h: a history publication, or another node's
// publication; this node's own (self, its envelope's start) are counted
// and dropped before any copy.
func (c *counters) deliverMessage(h Handlers, node nodeID, self, channel string, known bool, payload string) {
	switch {
	case !known:
		c.dropped.Add(1)
	case strings.HasPrefix(payload, historyMagic):
		c.deliverHistory(h, channel, payload)
	case strings.HasPrefix(payload, self):
		c.own.Add(1)
	default:
		if filter, frame, ok := c.accept(node, []byte(payload)); ok {
			h.deliver([]byte(channel), filter, frame)
		}
	}
}

// keepUp runs a subscription connection's session again and again until
// ctx ends: after each failure it reports it to down and waits out the
// backoff; a session that was up starts the backoff over.
func keepUp(ctx context.Context, cfg Config, session func() (wasUp bool, err error), down func(error)) {
	for attempt := 1; ; attempt++ {
		wasUp, err := session()
		if ctx.Err() != nil {
			return
		}
		if wasUp {
			attempt = 1
		}
		down(err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff.Delay(cfg.MinBackoff, cfg.MaxBackoff, attempt)):
		}
	}
}

// receivePubSub reads a Redis subscription connection (single Redis or a
// cluster partition) until it fails or handle refuses a message. An idle
// connection is pinged; one that stays silent for two intervals is dead.
// A MOVED reply is an error too: the cluster driver then reloads its slot
// map.
func receivePubSub(ctx context.Context, ps *redis.PubSub, interval time.Duration, handle func(msg any) error) error {
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, interval)
		var ne net.Error
		switch {
		case err != nil && errors.As(err, &ne) && ne.Timeout() && !pinged:
			pinged = true
			if err := ps.Ping(ctx); err != nil {
				return fmt.Errorf("ping: %w", err)
			}
			continue
		case err != nil && pinged:
			return fmt.Errorf("receive (after an unanswered ping): %w", err)
		case err != nil:
			return fmt.Errorf("receive: %w", err)
		}
		pinged = false
		if err := handle(msg); err != nil {
			return err
		}
	}
}

// syncPonged tells pong, without blocking, that the ping confirming a
// session's subscriptions came back: Redis answers a connection's
// commands in order.
func syncPonged(m *redis.Pong, pong chan<- struct{}) {
	if m.Payload != syncToken {
		return
	}
	select {
	case pong <- struct{}{}:
	default:
	}
}
