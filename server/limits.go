package server

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/wsify/wsify/server/internal/httphead"
)

// Limits a hostile or broken client meets: the connection cap and the
// origin check at the handshake (here), the channel and command-rate
// limits per connection (ratelimit.go) and dead-peer detection (ping.go).
// Their settings, defaults and checks are in config.go; what they did is
// counted in stats.go.

// limits is the server's share of the limit machinery. It is set up by
// startLimits before the listener is watched and read-only afterwards.
type limits struct {
	epoch    time.Time        // zero of the monotonic clock of now()
	skew     atomic.Int64     // nanoseconds added to now(): tests move the clock instead of sleeping
	upgrades atomic.Int64     // GCRA bucket of MaxUpgradesPerSecond: now() when it is full again
	origins  httphead.Origins // allowed origins; nil: all
	sweep    *sweeper         // nil when pings are off
}

// now is the monotonic time since the server started, in nanoseconds; a
// wall clock step can neither ping nor drop anyone.
func (s *Server) now() int64 { return int64(time.Since(s.lim.epoch)) + s.lim.skew.Load() + 1 }

// startLimits prepares the limits and starts the ping sweeper.
func (s *Server) startLimits() {
	s.lim.epoch = time.Now()
	s.lim.origins = httphead.NewOrigins(s.cfg.AllowedOrigins)
	if s.cfg.PingInterval > 0 {
		s.lim.sweep = newSweeper(s, s.cfg.PingInterval, s.cfg.PingTimeout)
	}
}

// stopLimits stops the sweeper; it runs before the workers stop.
func (s *Server) stopLimits() {
	if s.lim.sweep != nil {
		s.lim.sweep.Close()
	}
}

// admitUpgrade runs once an upgrade request's head is complete, before the
// authorizer is asked. It answers 403 to a foreign origin and 503 over the
// connection cap, and reports whether the handshake goes on.
//
// The cap is checked here rather than at accept: at accept nothing is read
// yet, so a POST /broadcast or a health check would be refused with the
// upgrades, and closing a socket whose request is still unread makes the
// kernel send a reset that can destroy the 503 before the client reads it.
// The answer still leaves as soon as the head is in, and sockets that are
// still in their handshake count against the cap (they hold an fd too).
func (c *conn) admitUpgrade(head []byte) bool {
	s := c.srv
	switch {
	case !s.lim.origins.Allowed(head):
		c.reject(http.StatusForbidden, reasonOrigin, "origin not allowed")
	case s.overCapacity():
		c.reject(http.StatusServiceUnavailable, reasonOverCapacity, "too many connections")
	case !s.upgradeAllowed():
		c.rejectRetry(reasonUpgradeRate, "too many upgrades per second, retry later")
	default:
		return true
	}
	return false
}

// overCapacity reports whether the sockets held, this one included, pass
// the cap. Every socket stays in the table from accept to release, so of
// any set of upgraded connections the last one checked saw all of them:
// the upgraded ones never number more than the cap.
func (s *Server) overCapacity() bool {
	return s.cfg.MaxConnections > 0 && s.conns.len() > s.cfg.MaxConnections
}

// upgradeAllowed takes a token from the node's upgrade bucket
// (MaxUpgradesPerSecond, a burst of as many). It is shared by every
// worker, hence the compare-and-swap.
func (s *Server) upgradeAllowed() bool {
	rate := int64(s.cfg.MaxUpgradesPerSecond)
	if rate <= 0 {
		return true
	}
	now, period := s.now(), max(1, 1e9/rate)
	for {
		tat := s.lim.upgrades.Load()
		t := max(tat, now)
		if t-now > (rate-1)*period {
			return false
		}
		if s.lim.upgrades.CompareAndSwap(tat, t+period) {
			return true
		}
	}
}

// maxRetryAfter is the largest Retry-After an upgrade over the rate gets:
// each refusal draws a whole number of seconds from 1 to it, so a crowd
// refused together comes back spread over that window.
const maxRetryAfter = 10

// rejectRetry refuses an upgrade with 503 and a jittered Retry-After.
func (c *conn) rejectRetry(why rejectReason, body string) {
	c.srv.stats.rejected(why)
	c.logRejected(reasonNames[why], body)
	retry := "Retry-After: " + strconv.Itoa(1+rand.IntN(maxRetryAfter))
	c.headWriter().Write(httpClose(http.StatusServiceUnavailable, "text/plain; charset=utf-8", []byte(body), retry))
	c.abort()
}

// overAcceptCap reports whether a socket just accepted must be closed at
// once: the sockets held, handshakes in progress (TLS ones included)
// counted, are past the cap by more than the headroom. The cap itself is
// enforced when a head is complete (admitUpgrade), so that POST /broadcast
// and /healthz work on a full server; the headroom is their room, and
// without this bound a crowd of sockets that never finish a request head
// would hold fds until the handshake timeout, as many as it liked.
func (s *Server) overAcceptCap() bool {
	limit := s.cfg.MaxConnections
	return limit > 0 && s.conns.len() >= limit+max(64, limit/16)
}

// keepAliveSeconds is the TCP keep-alive idle time accepted sockets get
// from the listener, 0 for none: a backstop that finds dead peers when
// pings are off and keeps NAT mappings alive.
func (s *Server) keepAliveSeconds() int {
	if s.cfg.TCPKeepAlive <= 0 {
		return 0
	}
	return int(max(time.Second, s.cfg.TCPKeepAlive) / time.Second)
}
