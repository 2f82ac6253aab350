package server

import (
	"slices"
	"sync/atomic"

	"github.com/wsify/wsify/protocol"
)

// connLimits is a connection's share of the limits: three words, no timer.
type connLimits struct {
	// seen is the liveness word of ping.go: the handler stores the time
	// bytes arrived, the sweeper marks a ping in it. Atomic.
	seen atomic.Int64
	// tat and floodTAT are the two buckets of the rate limit, each kept as
	// a GCRA "theoretical arrival time": the now() at which the bucket is
	// full again. Tokens are computed from it lazily when a message comes,
	// so no timer refills them. Handler only.
	tat, floodTAT int64
}

// minFloodAllowance keeps a low rate limit from closing a client over a
// handful of commands sent at once.
const minFloodAllowance = 10

// The rate limit is a token bucket of RateLimit tokens, full at first and
// refilled at RateLimit per second. Every client message takes a token
// (a malformed one too; control frames do not): with one, it goes on;
// without, it is refused with rate_limited and not run. Refusals fill a
// second bucket of max(RateLimit, 10) tokens that drains at RateLimit per
// second; a refusal that finds it empty closes the connection with 1008.
// So a client sending flat out is closed after about 2*RateLimit+1
// messages, one sending at up to twice the rate gets its RateLimit
// commands a second and errors for the rest, and one that backs off when
// refused is never closed.

// admitMessage applies the rate limit to one client message and reports
// whether it may be processed; a refused one has been answered.
func (c *conn) admitMessage(p []byte) bool {
	rate := int64(c.srv.cfg.RateLimit)
	if rate <= 0 {
		return true
	}
	now, period := c.srv.now(), max(1, 1e9/rate)
	if gcraTake(&c.lim.tat, now, period, rate) {
		return true
	}
	if !gcraTake(&c.lim.floodTAT, now, period, max(rate, minFloodAllowance)) {
		c.srv.stats.flooders.Add(1)
		c.close(discFlooder)
		return false
	}
	c.srv.stats.rateLimited.Add(1)
	c.refuse(p, protocol.ErrRateLimited)
	return false
}

// gcraTake takes a token from a bucket of burst tokens refilled one per
// period, kept as the time tat at which it is full again.
func gcraTake(tat *int64, now, period, burst int64) bool {
	t := max(*tat, now)
	if t-now > (burst-1)*period {
		return false
	}
	*tat = t + period
	return true
}

// refuse answers message p with e, with p's id when it has a valid one.
func (c *conn) refuse(p []byte, e *protocol.Error) {
	var cmd protocol.Command
	protocol.Decode(&cmd, p, c.srv.cfg.MaxChannelBytes)
	c.srv.stats.command(cmd.Kind, resultLimited)
	c.replyError(cmd.ID, e)
}

// admitCommand checks a decoded command against the channel limit before
// the authorizer is asked, and reports whether it goes on. Commands run in
// order (reads pause while the authorizer is asked), so the channels
// checked here are those the join will find. Joining a channel already
// joined is not a new channel and always succeeds.
func (c *conn) admitCommand(cmd *protocol.Command) bool {
	limit := c.srv.cfg.MaxChannels
	if cmd.Kind != protocol.KindJoin || limit <= 0 || len(c.channels) < limit ||
		slices.Contains(c.channels, string(cmd.Channel)) {
		return true
	}
	c.srv.stats.tooManyChannels.Add(1)
	c.srv.stats.command(cmd.Kind, resultLimited)
	c.replyError(cmd.ID, protocol.ErrTooManyChannels)
	return false
}
