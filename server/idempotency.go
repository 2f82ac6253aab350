package server

import (
	"errors"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/protocol"
	"github.com/wsify/wsify/server/internal/httphead"
)

// Idempotent POST /broadcast (README: "Retries and the Idempotency-Key
// header"). A request carrying an Idempotency-Key header publishes once per
// key and channel within Config.IdempotencyTTL; a retry gets the first
// answer again, with Idempotent-Replayed: true, and publishes nothing.
//
// On a channel whose history Redis keeps, the key is stored by the script
// that publishes, on the channel's slot, in the same atomic step: a retry
// on any node finds it, even after a first attempt whose reply was lost.
// Elsewhere (no history, or the memory engine's) the node keeps the keys
// of the publications it made, in memory: a retry on another node, or
// after a failed attempt, publishes again.

// idempotencyHeader names the key (the IETF httpapi draft's header); the
// answer to a retry carries replayedHeader.
const (
	idempotencyHeader = "Idempotency-Key"
	replayedHeader    = "Idempotent-Replayed"
	// maxIdempotencyKeys bounds the keys a node keeps: past it the oldest
	// are forgotten before their time.
	maxIdempotencyKeys = 100000
)

var errBadIdempotencyKey = &protocol.Error{Code: "bad_idempotency_key",
	Message: "Idempotency-Key must be 1 to 128 visible ASCII characters other than { and }, optionally in double quotes",
	Status:  fasthttp.StatusBadRequest}

// idempotencyKey reads the request's key: ok false without one (or with
// the feature off), bad for a malformed one.
func (s *Server) idempotencyKey(ctx *fasthttp.RequestCtx) (key string, ok, bad bool) {
	raw := ctx.Request.Header.Peek(idempotencyHeader)
	if raw == nil || s.cfg.IdempotencyTTL <= 0 {
		return "", false, false
	}
	key, ok = httphead.IdempotencyKey(raw)
	return key, true, !ok
}

// publishOnce publishes p under key and answers the request.
func (s *Server) publishOnce(ctx *fasthttp.RequestCtx, key string, p *protocol.Publication) {
	if s.keepsHistory(p.Channel) && s.hist != nil {
		pos, replayed, err := s.publishRemoteOnce(p.Channel, p.Content, key)
		if err != nil {
			answerPublishError(ctx, err)
			return
		}
		answerPublished(ctx, pos, replayed)
		return
	}
	e, first := s.idem.claim(string(p.Channel), key, time.Now())
	if !first {
		<-e.done // bounded: the first attempt waits on the broker at most its timeout
		if e.err != nil {
			answerPublishError(ctx, e.err)
			return
		}
		answerPublished(ctx, e.pos, true)
		return
	}
	_, pos, err := s.PublishAt(p.Channel, p.Content)
	s.idem.settle(e, pos, err)
	if err != nil {
		answerPublishError(ctx, err)
		return
	}
	answerPublished(ctx, pos, false)
}

// answerPublished answers 201 with the position on a channel with
// history, or ok.
func answerPublished(ctx *fasthttp.RequestCtx, pos *protocol.Position, replayed bool) {
	if replayed {
		ctx.Response.Header.Set(replayedHeader, "true")
	}
	ctx.SetStatusCode(fasthttp.StatusCreated)
	ctx.SetContentType("application/json")
	if pos != nil {
		ctx.SetBody(protocol.AppendPositionJSON(nil, nil, pos, protocol.NoRecovery))
		return
	}
	ctx.SetBodyString(`{"ok":true}`)
}

// answerPublishError answers a publication the broker did not take: 503
// when it certainly did not run it, 504 when it may have (publishRefusal).
func answerPublishError(ctx *fasthttp.RequestCtx, err error) {
	if e := publishRefusal(err); e != protocol.ErrUnavailable {
		httpError(ctx, e.Status, e.Code, e.Message)
		return
	}
	httpError(ctx, fasthttp.StatusServiceUnavailable, protocol.ErrUnavailable.Code, "the broker is down, try again later")
}

// publishRefusal is the refusal a failed publication gets: unconfirmed
// when the broker got it and did not answer in time, so that it may have
// been delivered (a retry may deliver it twice, see idempotency above),
// unavailable when it was not delivered anywhere.
func publishRefusal(err error) *protocol.Error {
	if errors.Is(err, broker.ErrUnconfirmed) {
		return protocol.ErrUnconfirmed
	}
	return protocol.ErrUnavailable
}

// idempotency is the node's own record of the publications made under a
// key, each kept ttl after it was claimed, oldest first in order.
type idempotency struct {
	ttl   time.Duration
	mu    sync.Mutex
	byKey map[idemKey]*idemEntry // guarded by mu
	order []*idemEntry           // by claim time, oldest first, from head on; guarded by mu
	head  int                    // guarded by mu
}

// idemKey scopes a key to its channel.
type idemKey struct{ channel, key string }

// idemEntry is one keyed publication: in flight until done is closed,
// then its outcome.
type idemEntry struct {
	k    idemKey
	at   time.Time
	done chan struct{}
	pos  *protocol.Position // the position answered; set before done closes
	err  error              // the publication failed: the entry is gone
}

func newIdempotency(ttl time.Duration) *idempotency {
	return &idempotency{ttl: ttl, byKey: map[idemKey]*idemEntry{}}
}

// claim returns the entry of key on channel, and first true when the
// caller is to publish: no live entry was there.
func (m *idempotency) claim(channel, key string, now time.Time) (e *idemEntry, first bool) {
	k := idemKey{channel, key}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expireLocked(now)
	if e := m.byKey[k]; e != nil {
		return e, false
	}
	e = &idemEntry{k: k, at: now, done: make(chan struct{})}
	m.byKey[k] = e
	m.order = append(m.order, e)
	return e, true
}

// settle records the outcome of e's publication. A failed one is
// forgotten, so that a retry publishes.
func (m *idempotency) settle(e *idemEntry, pos *protocol.Position, err error) {
	m.mu.Lock()
	e.pos, e.err = pos, err
	if err != nil && m.byKey[e.k] == e {
		delete(m.byKey, e.k)
	}
	m.mu.Unlock()
	close(e.done)
}

// expireLocked forgets the entries past their time, and the oldest ones
// past the bound.
func (m *idempotency) expireLocked(now time.Time) {
	for m.head < len(m.order) && (now.Sub(m.order[m.head].at) >= m.ttl || len(m.order)-m.head >= maxIdempotencyKeys) {
		if e := m.order[m.head]; m.byKey[e.k] == e {
			delete(m.byKey, e.k)
		}
		m.order[m.head] = nil
		m.head++
	}
	if m.head > len(m.order)/2 { // compact now and then, not on every expiry
		m.order = append(m.order[:0], m.order[m.head:]...)
		m.head = 0
	}
}
