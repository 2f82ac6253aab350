package server

import (
	"errors"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/protocol"
)

// rejectReason says why a handshake was refused; it labels
// wsify_handshakes_rejected_total.
type rejectReason uint8

const (
	reasonBadHandshake rejectReason = iota
	reasonAuthDenied
	reasonAuthDown
	reasonTooLarge
	reasonOverCapacity // WSIFY_MAX_CONNECTIONS reached
	reasonOrigin       // Origin not in WSIFY_ALLOWED_ORIGINS
	reasonOther
	numReasons
)

var reasonNames = [numReasons]string{"bad_handshake", "auth_denied", "auth_unavailable", "head_too_large",
	"too_many_connections", "origin_denied", "other"}

// authReason labels a handshake the authorizer refused: 503 when it was
// down, 403 when it said no.
func authReason(status int) rejectReason {
	if status == http.StatusServiceUnavailable {
		return reasonAuthDown
	}
	return reasonAuthDenied
}

// commandResult is how a command ended; it labels wsify_commands_total.
type commandResult uint8

const (
	resultOK          commandResult = iota // ran
	resultInvalid                          // malformed: an error was replied
	resultDenied                           // the authorizer said no
	resultLimited                          // refused by a limit: rate or channels
	resultUnavailable                      // the authorizer (closed 1013) or the broker was down
	numResults
)

var resultNames = [numResults]string{"ok", "invalid", "denied", "limited", "unavailable"}

// numKinds counts command kinds, 0 (no recognizable command) included.
const numKinds = protocol.KindBroadcast + 1

var kindNames = [numKinds]string{"unknown", "join", "leave", "broadcast"}

// authVerdict is an authorizer answer; it labels wsify_authorizer_calls_total.
type authVerdict uint8

const (
	verdictAllowed authVerdict = iota
	verdictDenied
	verdictUnavailable
	numVerdicts
)

var verdictNames = [numVerdicts]string{"allowed", "denied", "unavailable"}

// closeCodes are the close codes counted one by one; any other code is
// counted as "other". 1006 stands for a connection dropped without a close
// frame (the peer vanished, a write failed).
var closeCodes = [...]ws.StatusCode{1000, 1001, 1002, 1006, 1007, 1008, 1009, 1013}

const numCloseSlots = len(closeCodes) + 1 // the last one is "other"

func closeSlot(code ws.StatusCode) int {
	if code == 0 {
		code = ws.StatusAbnormalClosure
	}
	for i, c := range closeCodes {
		if c == code {
			return i
		}
	}
	return len(closeCodes)
}

// stats are the server's counters, updated with atomics only: no lock and
// no map on any path, the delivery path included. Labelled counters are
// arrays indexed by small enums.
type stats struct {
	accepted, open, closed            atomic.Int64
	handshakeTimeouts, protocolErrors atomic.Int64
	slowConsumers                     atomic.Int64
	published, deliveries             atomic.Uint64
	rejectedBy                        [numReasons]atomic.Int64
	closedBy                          [numCloseSlots]atomic.Uint64
	commands                          [numKinds][numResults]atomic.Uint64
	authCalls                         [numVerdicts]atomic.Uint64
	authLatency                       histogram
}

func (st *stats) rejected(r rejectReason) { st.rejectedBy[r].Add(1) }

func (st *stats) command(k protocol.Kind, r commandResult) { st.commands[k][r].Add(1) }

// authorized counts one authorizer call that took d and ended with err.
func (st *stats) authorized(err error, d time.Duration) {
	v := verdictAllowed
	switch {
	case err == nil:
	case errors.Is(err, auth.ErrDenied):
		v = verdictDenied
	default:
		v = verdictUnavailable
	}
	st.authCalls[v].Add(1)
	st.authLatency.observe(d)
}

func (st *stats) rejectedTotal() int64 {
	var n int64
	for i := range st.rejectedBy {
		n += st.rejectedBy[i].Load()
	}
	return n
}

func (s *Server) connOpened() { s.stats.open.Add(1) }

func (s *Server) connClosed(code ws.StatusCode) {
	s.stats.open.Add(-1)
	s.stats.closed.Add(1)
	s.stats.closedBy[closeSlot(code)].Add(1)
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
	BrokerUp      bool   `json:"broker_up"`           // the broker linking the nodes works (always, without one)

	Broker broker.Stats `json:"broker"` // the broker's state and counters
}

// Stats returns a snapshot.
func (s *Server) Stats() Stats {
	st := &s.stats
	return Stats{
		Open: st.open.Load(), Sockets: s.conns.len(), Accepted: st.accepted.Load(),
		Channels: s.hub.Channels(), Published: st.published.Load(), Deliveries: st.deliveries.Load(),
		SlowConsumers: st.slowConsumers.Load(), Rejected: st.rejectedTotal(),
		Goroutines: runtime.NumGoroutine(), BrokerUp: s.link.b.Health().Up,
		Broker: s.link.b.Stats(),
	}
}
