package server

import (
	"errors"
	"net/http"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/events"
	"github.com/wsify/wsify/protocol"
	"github.com/wsify/wsify/server/internal/prom"
)

// The counters of a node have one home, stats, updated with atomics only:
// no lock and no map on any path, the delivery path included. Labelled
// counters are arrays indexed by small enums. Stats() takes one snapshot
// of them, which GET /stats serves as JSON and GET /metrics writes in the
// Prometheus format (metrics.go), so the two always show the same things.

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
	reasonUpgradeRate  // over WSIFY_MAX_UPGRADES_PER_SECOND
	reasonOther
	numReasons
)

var reasonNames = [numReasons]string{"bad_handshake", "auth_denied", "auth_unavailable", "head_too_large",
	"too_many_connections", "origin_denied", "too_many_upgrades", "other"}

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
var closeCodes = [...]ws.StatusCode{1000, 1001, 1002, 1006, 1007, 1008, 1009, 1011, 1013, StatusDisconnected}

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

func closeLabel(slot int) string {
	if slot == len(closeCodes) {
		return "other"
	}
	return strconv.Itoa(int(closeCodes[slot]))
}

// stats are the server's counters.
type stats struct {
	accepted, open, closed            atomic.Int64
	handshakeTimeouts, protocolErrors atomic.Int64
	slowConsumers                     atomic.Int64
	published, deliveries             atomic.Uint64
	rejectedBy                        [numReasons]atomic.Int64
	closedBy                          [numCloseSlots]atomic.Uint64
	commands                          [protocol.NumKinds][numResults]atomic.Uint64
	authCalls                         [numVerdicts]atomic.Uint64
	authLatency                       prom.Histogram

	// What the limits did (limits.go, ratelimit.go, ping.go).
	tooManyChannels, rateLimited, flooders atomic.Uint64
	pings, deadPeers                       atomic.Uint64

	panics          atomic.Uint64 // recovered (panic.go)
	pollerErrors    atomic.Uint64 // the poller refused to watch a socket or the listener
	refusedAtAccept atomic.Uint64 // sockets closed at accept, past the cap and its headroom
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
	st.authLatency.Observe(d)
}

func (s *Server) connOpened() { s.stats.open.Add(1) }

func (s *Server) connClosed(code ws.StatusCode) {
	s.stats.open.Add(-1)
	s.stats.closed.Add(1)
	s.stats.closedBy[closeSlot(code)].Add(1)
}

// Stats is a snapshot of the server's state and counters: GET /stats
// serves it, GET /metrics writes it.
type Stats struct {
	Open              int64  `json:"connections"`         // upgraded connections now
	Sockets           int    `json:"sockets"`             // sockets held, handshakes included
	Accepted          int64  `json:"accepted"`            // TCP connections accepted
	Channels          int    `json:"channels"`            // channels with subscribers
	Published         uint64 `json:"published"`           // publications
	Deliveries        uint64 `json:"deliveries"`          // frames queued to subscribers
	SlowConsumers     int64  `json:"slow_consumers"`      // closed for a full outbox
	Rejected          int64  `json:"handshakes_rejected"` // handshakes refused
	HandshakeTimeouts int64  `json:"handshake_timeouts"`  // sockets closed for an incomplete request head
	ProtocolErrors    int64  `json:"protocol_errors"`     // connections closed for a protocol violation
	Panics            uint64 `json:"panics"`              // panics recovered (bugs: each is logged with its stack)
	PollerErrors      uint64 `json:"poller_errors"`       // the poller refused to watch a socket or the listener
	Goroutines        int    `json:"goroutines"`          // goroutines of the process
	BrokerUp          bool   `json:"broker_up"`           // the broker linking the nodes works (always, without one)

	Limits     LimitStats                   `json:"limits"`      // what the limits did
	RejectedBy map[string]int64             `json:"rejected_by"` // handshakes refused, by reason
	ClosedBy   map[string]uint64            `json:"closed_by"`   // connections closed, by close code ("1006": no close frame)
	Commands   map[string]map[string]uint64 `json:"commands"`    // client commands, by command and result
	AuthCalls  map[string]uint64            `json:"authorizer"`  // authorizer calls, by verdict
	Broker     broker.Stats                 `json:"broker"`      // the broker's state and counters
	Events     events.Stats                 `json:"events"`      // the lifecycle webhook (zero when off)
	Handoff    HandoffStats                 `json:"handoff"`     // connections handed to or taken from another process
}

// HandoffStats counts the connections a handoff moved (README: Deploying).
type HandoffStats struct {
	Handed uint64 `json:"handed"` // sent to a new process
	Taken  uint64 `json:"taken"`  // taken over from an old one
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
	SlowConsumers   uint64 `json:"slow_consumers"`    // closed with 1008 for a full outbox
	RefusedAtAccept uint64 `json:"refused_at_accept"` // sockets closed at accept, past the connection cap and its headroom
}

// Stats returns a snapshot.
func (s *Server) Stats() Stats {
	st := &s.stats
	out := Stats{
		Handoff: HandoffStats{Handed: uint64(s.ho.handed.Load()), Taken: uint64(s.ho.taken.Load())},
		Open:    st.open.Load(), Sockets: s.conns.len(), Accepted: st.accepted.Load(),
		Channels: s.hub.Channels(), Published: st.published.Load(), Deliveries: st.deliveries.Load(),
		SlowConsumers: st.slowConsumers.Load(), HandshakeTimeouts: st.handshakeTimeouts.Load(),
		ProtocolErrors: st.protocolErrors.Load(), Panics: st.panics.Load(), PollerErrors: st.pollerErrors.Load(), Goroutines: runtime.NumGoroutine(),
		BrokerUp: s.link.b.Health().Up, Broker: s.link.b.Stats(), Limits: s.LimitStats(),
		RejectedBy: map[string]int64{}, ClosedBy: map[string]uint64{},
		Commands: map[string]map[string]uint64{}, AuthCalls: map[string]uint64{},
	}
	for r := range st.rejectedBy {
		out.RejectedBy[reasonNames[r]] = st.rejectedBy[r].Load()
		out.Rejected += st.rejectedBy[r].Load()
	}
	for i := range st.closedBy {
		out.ClosedBy[closeLabel(i)] = st.closedBy[i].Load()
	}
	for k := range st.commands {
		byResult := map[string]uint64{}
		for r := range st.commands[k] {
			if k == 0 && commandResult(r) != resultInvalid {
				continue // an unrecognized command can only be invalid
			}
			byResult[resultNames[r]] = st.commands[k][r].Load()
		}
		out.Commands[protocol.Kind(k).String()] = byResult
	}
	if s.events != nil {
		out.Events = s.events.Stats()
	}
	for v := range st.authCalls {
		out.AuthCalls[verdictNames[v]] = st.authCalls[v].Load()
	}
	return out
}

// LimitStats returns a snapshot of what the limits did.
func (s *Server) LimitStats() LimitStats {
	st := &s.stats
	return LimitStats{
		OverCapacity: uint64(st.rejectedBy[reasonOverCapacity].Load()), OriginDenied: uint64(st.rejectedBy[reasonOrigin].Load()),
		TooManyChannels: st.tooManyChannels.Load(), RateLimited: st.rateLimited.Load(),
		Flooders: st.flooders.Load(), Pings: st.pings.Load(), DeadPeers: st.deadPeers.Load(),
		SlowConsumers: uint64(st.slowConsumers.Load()), RefusedAtAccept: st.refusedAtAccept.Load(),
	}
}
