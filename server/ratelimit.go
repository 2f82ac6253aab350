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
	// joinTAT is the bucket of joins and leaves (JoinRateLimit). Handler only.
	joinTAT int64
}

// minFloodAllowance keeps a low rate limit from closing a client over a
// handful of commands sent at once.
const minFloodAllowance = 10

// The rate limit is a token bucket of RateLimit tokens, full at first and
// refilled at RateLimit per second. Every client message takes a token
// (a malformed one too), and so does a ping: with one, it goes on;
// without, a message is refused with rate_limited and not run, and a ping
// is not answered. Refusals fill a
// second bucket of max(RateLimit, 10) tokens that drains at RateLimit per
// second; a refusal that finds it empty closes the connection with 1008.
// So a client sending flat out is closed after about 2*RateLimit+1
// messages, one sending at up to twice the rate gets its RateLimit
// commands a second and errors for the rest, and one that backs off when
// refused is never closed.

// admitMessage applies the rate limit to one client message and reports
// whether it may be processed; a refused one has been answered.
func (c *conn) admitMessage(p []byte) bool {
	ok, closed := c.takeToken()
	if !ok && !closed {
		c.refuse(p, protocol.ErrRateLimited)
	}
	return ok
}

// takeToken applies the rate limit to one frame the client sent: ok when it
// may be handled; when it may not, closed tells whether the refusal closed
// the connection as a flooder.
func (c *conn) takeToken() (ok, closed bool) {
	rate := int64(c.srv.cfg.RateLimit)
	if rate <= 0 {
		return true, false
	}
	now, period := c.srv.now(), max(1, 1e9/rate)
	if gcraTake(&c.lim.tat, now, period, rate) {
		return true, false
	}
	if !gcraTake(&c.lim.floodTAT, now, period, max(rate, minFloodAllowance)) {
		c.srv.stats.flooders.Add(1)
		c.close(discFlooder)
		return false, true
	}
	c.srv.stats.rateLimited.Add(1)
	return false, false
}

// changesChannels reports whether cmd is a join of a channel c is not in,
// or a leave of one it is in: repeating either changes nothing, and
// costs no join token.
func (c *conn) changesChannels(cmd *protocol.Command) bool {
	switch cmd.Kind {
	case protocol.KindJoin:
		return !slices.Contains(c.channels, string(cmd.Channel))
	case protocol.KindLeave:
		return slices.Contains(c.channels, string(cmd.Channel))
	}
	return false
}

// admitChurn applies JoinRateLimit to a join or a leave: a bucket of
// MaxChannels tokens (so a client may join up to its limit at once)
// refilled at JoinRateLimit a second. A client that joins and leaves in a
// loop would otherwise make this node subscribe and unsubscribe at the
// broker as fast as it can send.
func (c *conn) admitChurn() bool {
	rate := int64(c.srv.cfg.JoinRateLimit)
	if rate <= 0 {
		return true
	}
	burst := max(rate, int64(c.srv.cfg.MaxChannels))
	return gcraTake(&c.lim.joinTAT, c.srv.now(), max(1, 1e9/rate), burst)
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

// admitCommand checks a decoded command against the channel limit and the
// join rate before the authorizer is asked, and reports whether it goes
// on. Commands run in order (reads pause while the authorizer is asked),
// so the channels checked here are those the join will find. Joining a
// channel already joined, or leaving one not joined, changes nothing and
// always succeeds.
func (c *conn) admitCommand(cmd *protocol.Command) bool {
	var refusal *protocol.Error
	switch {
	case !c.changesChannels(cmd):
		return true
	case cmd.Kind == protocol.KindJoin && c.srv.cfg.MaxChannels > 0 && len(c.channels) >= c.srv.cfg.MaxChannels:
		c.srv.stats.tooManyChannels.Add(1)
		refusal = protocol.ErrTooManyChannels
	case !c.admitChurn():
		c.srv.stats.rateLimited.Add(1)
		refusal = protocol.ErrRateLimited
	default:
		return true
	}
	c.srv.stats.command(cmd.Kind, resultLimited)
	c.replyError(cmd.ID, refusal)
	return false
}
