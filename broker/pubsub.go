package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

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
