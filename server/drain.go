package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// A gentle drain (Config.DrainPeriod) closes the connections of a node
// that shuts down spread over the period instead of all at once, each with
// close 1001 and a reason that tells its client how long to wait before it
// reconnects, a delay drawn at random per client. Closing everyone at once
// makes every client, and through them the authorizer and the app's
// backend, come back in the same second; spreading both the closes and the
// reconnects turns that storm into a steady stream. Every close flushes
// what is queued first, like any shutdown.

// drainStep is how often the drain closes its next batch of connections.
const drainStep = 10 * time.Millisecond

// drainReason is the close reason of a drained connection: a JSON object a
// client can parse, documented in README.md ("Deploying").
func drainReason(delay time.Duration) string {
	return fmt.Sprintf(`{"reason":"shutdown","reconnect":true,"delay_ms":%d}`, delay.Milliseconds())
}

// drainDisconnect is discShutdown with a reason carrying a reconnect delay
// drawn uniformly from [0, period].
func drainDisconnect(period time.Duration) *disconnect {
	d := *discShutdown
	d.reason = drainReason(time.Duration(rand.Int64N(int64(period) + 1)))
	return &d
}

// drain asks every connection to close, all at once without a drain
// period, else spread evenly over it, batch by batch. It returns when
// every close has been asked for, or ctx ends (the rest then close at once).
func (s *Server) drain(ctx context.Context) {
	period := s.cfg.DrainPeriod
	if period <= 0 {
		s.conns.each(func(c *conn) { c.requestClose(discShutdown) })
		return
	}
	var all []*conn
	s.conns.each(func(c *conn) { all = append(all, c) })
	steps := max(1, int(period/drainStep))
	t := time.NewTicker(drainStep)
	defer t.Stop()
	for i := 0; len(all) > 0; i++ {
		n := (len(all) + steps - i - 1) / max(1, steps-i) // the rest, over the steps left
		if ctx.Err() != nil {
			n = len(all)
		}
		for _, c := range all[:n] {
			c.requestClose(drainDisconnect(period))
		}
		all = all[n:]
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
}
