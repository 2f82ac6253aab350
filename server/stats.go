package server

import (
	"errors"
	"net/http"
	"runtime"
	"sync/atomic"

	"github.com/gobwas/ws"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/protocol"
)

// Reasons a handshake is rejected, as counted in Stats.Rejected.
const (
	reasonBadHandshake = "bad_handshake"
	reasonAuthDenied   = "auth_denied"
	reasonAuthDown     = "auth_unavailable"
	reasonTooLarge     = "head_too_large"
	reasonOther        = "other"
)

func statusReason(status int) string {
	switch status {
	case http.StatusForbidden:
		return reasonAuthDenied
	case http.StatusServiceUnavailable:
		return reasonAuthDown
	case http.StatusRequestHeaderFieldsTooLarge:
		return reasonTooLarge
	}
	return reasonOther
}

// stats are the server's counters, updated without locks.
type stats struct {
	accepted, open, closed               atomic.Int64
	handshakeTimeouts, protocolErrors    atomic.Int64
	slowConsumers                        atomic.Int64
	published, deliveries                atomic.Uint64
	rejectedBad, rejectedAuth            atomic.Int64
	rejectedDown, rejectedOther          atomic.Int64
	commandsOK, commandsFailed           [protocol.KindBroadcast + 1]atomic.Uint64
	authAllowed, authDenied, authFailing atomic.Uint64
}

func (st *stats) rejected(reason string) {
	switch reason {
	case reasonBadHandshake:
		st.rejectedBad.Add(1)
	case reasonAuthDenied:
		st.rejectedAuth.Add(1)
	case reasonAuthDown:
		st.rejectedDown.Add(1)
	default:
		st.rejectedOther.Add(1)
	}
}

func (st *stats) command(k protocol.Kind, ok bool) {
	if ok {
		st.commandsOK[k].Add(1)
	} else {
		st.commandsFailed[k].Add(1)
	}
}

func (st *stats) authorized(err error) {
	switch {
	case err == nil:
		st.authAllowed.Add(1)
	case errors.Is(err, auth.ErrDenied):
		st.authDenied.Add(1)
	default:
		st.authFailing.Add(1)
	}
}

func (s *Server) connOpened() { s.stats.open.Add(1) }

func (s *Server) connClosed(code ws.StatusCode) {
	s.stats.open.Add(-1)
	s.stats.closed.Add(1)
}

// Stats is a snapshot of the server's state and counters.
type Stats struct {
	Open          int64  `json:"connections"`         // upgraded connections now
	Sockets       int    `json:"sockets"`             // sockets held, handshakes included
	Accepted      int64  `json:"accepted"`            // TCP connections accepted
	Channels      int    `json:"channels"`            // channels with subscribers
	Published     uint64 `json:"published"`           // publications
	Deliveries    uint64 `json:"deliveries"`          // frames queued to subscribers
	SlowConsumers int64  `json:"slow_consumers"`      // closed for a full outbox
	Rejected      int64  `json:"handshakes_rejected"` // handshakes refused
	Goroutines    int    `json:"goroutines"`          // goroutines of the process

	Broker broker.Stats `json:"broker"` // the broker's state and counters
}

// Stats returns a snapshot.
func (s *Server) Stats() Stats {
	st := &s.stats
	return Stats{
		Open: st.open.Load(), Sockets: s.conns.len(), Accepted: st.accepted.Load(),
		Channels: s.hub.Channels(), Published: st.published.Load(), Deliveries: st.deliveries.Load(),
		SlowConsumers: st.slowConsumers.Load(),
		Rejected:      st.rejectedBad.Load() + st.rejectedAuth.Load() + st.rejectedDown.Load() + st.rejectedOther.Load(),
		Goroutines:    runtime.NumGoroutine(),
		Broker:        s.link.b.Stats(),
	}
}
