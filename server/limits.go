package server

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"
)

// Limits a hostile or broken client meets: the connection cap and the
// origin check at the handshake (here and in origin.go), the channel and
// command-rate limits per connection (ratelimit.go) and dead-peer detection
// (ping.go).

// Defaults of the limit settings; see their Config fields.
const (
	defaultMaxChannels  = 1024
	defaultPingInterval = 30 * time.Second
	defaultPingTimeout  = 10 * time.Second
	defaultKeepAlive    = 60 * time.Second
)

// limits is the server's share of the limit machinery. It is set up by
// startLimits before the listener is watched and read-only afterwards,
// except for the counters.
type limits struct {
	epoch   time.Time           // zero of the monotonic clock of now()
	origins map[string]struct{} // normalized allowed origins; nil: all
	sweep   *sweeper            // nil when pings are off

	overCapacity, originDenied atomic.Uint64
	tooManyChannels            atomic.Uint64
	rateLimited, flooders      atomic.Uint64
	pings, deadPeers           atomic.Uint64
}

// LimitStats counts what the limits did since the server started.
type LimitStats struct {
	OverCapacity    uint64 `json:"over_capacity"`     // upgrades refused with 503
	OriginDenied    uint64 `json:"origin_denied"`     // upgrades refused with 403
	TooManyChannels uint64 `json:"too_many_channels"` // joins refused
	RateLimited     uint64 `json:"rate_limited"`      // commands refused
	Flooders        uint64 `json:"flooders"`          // closed with 1008 for flooding
	Pings           uint64 `json:"pings"`             // pings sent to silent connections
	DeadPeers       uint64 `json:"dead_peers"`        // dropped for not answering a ping
}

// LimitStats returns a snapshot of the limit counters.
func (s *Server) LimitStats() LimitStats {
	l := &s.lim
	return LimitStats{
		OverCapacity: l.overCapacity.Load(), OriginDenied: l.originDenied.Load(),
		TooManyChannels: l.tooManyChannels.Load(), RateLimited: l.rateLimited.Load(),
		Flooders: l.flooders.Load(), Pings: l.pings.Load(), DeadPeers: l.deadPeers.Load(),
	}
}

// now is the monotonic time since the server started, in nanoseconds; a
// wall clock step can neither ping nor drop anyone.
func (s *Server) now() int64 { return int64(time.Since(s.lim.epoch)) + 1 }

// startLimits prepares the limits and starts the ping sweeper.
func (s *Server) startLimits() {
	s.lim.epoch = time.Now()
	s.lim.origins = originSet(s.cfg.AllowedOrigins)
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

// limitDefaults gives the unset limit fields their documented defaults.
func (c Config) limitDefaults() Config {
	c.MaxConnections = orDefault(c.MaxConnections, defaultMaxConnections())
	c.MaxChannels = orDefault(c.MaxChannels, defaultMaxChannels)
	c.PingInterval = orDefault(c.PingInterval, defaultPingInterval)
	c.PingTimeout = orDefault(c.PingTimeout, defaultPingTimeout)
	c.TCPKeepAlive = orDefault(c.TCPKeepAlive, defaultKeepAlive)
	return c
}

// defaultMaxConnections is 7/8 of the open-file limit: past it accept
// would fail with EMFILE and clients would hang in the backlog instead of
// hearing 503. The other eighth is for HTTP, the authorizer and files.
func defaultMaxConnections() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return -1
	}
	return int(min(lim.Cur, 1<<31) / 8 * 7)
}

func (c Config) validateLimits() []error {
	var errs []error
	if c.PingTimeout < 0 {
		errs = append(errs, fmt.Errorf("ping timeout must not be negative, got %v", c.PingTimeout))
	}
	if c.RateLimit > 1e9 {
		errs = append(errs, fmt.Errorf("rate limit above 1e9 commands per second: %d", c.RateLimit))
	}
	for _, o := range c.AllowedOrigins {
		if _, err := normalizeOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("allowed origin %q: %w", o, err))
		}
	}
	return errs
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
	case !s.originAllowed(head):
		s.lim.originDenied.Add(1)
		c.reject(http.StatusForbidden, reasonOrigin, "origin not allowed")
	case s.overCapacity():
		s.lim.overCapacity.Add(1)
		c.reject(http.StatusServiceUnavailable, reasonOverCapacity, "too many connections")
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

// keepAliveSeconds is the TCP keep-alive idle time accepted sockets get
// from the listener, 0 for none: a backstop that finds dead peers when
// pings are off and keeps NAT mappings alive.
func (s *Server) keepAliveSeconds() int {
	if s.cfg.TCPKeepAlive <= 0 {
		return 0
	}
	return int(max(time.Second, s.cfg.TCPKeepAlive) / time.Second)
}
