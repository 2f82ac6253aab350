package server

import (
	"github.com/gobwas/ws"

	"github.com/wsify/wsify/protocol"
)

// disconnect is one way an upgraded connection ends: the close code the
// peer is sent (0: none, the TCP connection is dropped and clients see
// 1006), the reason in the close frame, and whether the end is abnormal,
// which logs it. Every close site names one of the table below, so the
// codes a client can meet are all here; README.md's close-code table is
// checked against it (disconnect_test.go).
type disconnect struct {
	code     ws.StatusCode
	reason   string
	abnormal bool
	flush    bool // every frame queued is written before the close frame
}

// keep is what the close keeps of the frames queued: all of them when d
// flushes, the frame under way when a close frame follows (never cut a
// frame), nothing when the peer is gone.
func (d *disconnect) keep() closeKeep {
	switch {
	case d.code == 0:
		return keepNone
	case d.flush:
		return keepAll
	}
	return keepFrame
}

// StatusDisconnected is the close code of a connection POST /disconnect
// closed: in the range RFC 6455 leaves to applications (4000-4999).
const StatusDisconnected ws.StatusCode = 4000

// The disconnects of the server. Protocol violations take their code and
// reason from protocol.CloseError (protocolViolation), and a client's own
// close is answered with its code (peerClosed).
var (
	discShutdown      = &disconnect{ws.StatusGoingAway, "server shutting down", false, true}
	discSlowConsumer  = &disconnect{ws.StatusPolicyViolation, "slow consumer: outbox limit exceeded", true, false}
	discStalled       = &disconnect{ws.StatusPolicyViolation, "incomplete message timed out", true, false}
	discFlooder       = &disconnect{ws.StatusPolicyViolation, "rate limit exceeded", true, false}
	discAuthDown      = &disconnect{protocol.StatusTryAgainLater, "authorizer unavailable", true, false}
	discInternalError = &disconnect{ws.StatusInternalServerError, "internal error", true, false}
	discDeadPeer      = &disconnect{0, "peer did not answer a ping", true, false}
	discPeerGone      = &disconnect{0, "dropped without a close frame", true, false}
	discWriteFailed   = &disconnect{0, "write to the socket failed", true, false}
	discTLSFailed     = &disconnect{0, "TLS handshake failed", true, false}
	discPollerError   = &disconnect{0, "the poller refused the socket", true, false}
	// discKicked and discBanned end the connections POST /disconnect
	// names (kick.go); the JSON reason says whether to come back.
	discKicked = &disconnect{StatusDisconnected, `{"reason":"disconnected","reconnect":true}`, false, false}
	discBanned = &disconnect{StatusDisconnected, `{"reason":"disconnected","reconnect":false}`, false, false}
	// discUnopened ends a socket that never upgraded: a refused or timed
	// out handshake, or one handed to fasthttp. It is not counted.
	discUnopened = &disconnect{0, "", false, false}
)

// wireDisconnects are the codes a client can be sent, for the README check:
// the fixed ones above, the protocol violations, and the echo of a
// client's close (1000 stands for it).
func wireDisconnects() []*disconnect {
	all := []*disconnect{discShutdown, discSlowConsumer, discStalled, discFlooder, discAuthDown, discInternalError,
		discKicked, discBanned, peerClosed(ws.StatusNormalClosure)}
	for _, e := range protocol.CloseErrors {
		all = append(all, protocolViolation(e))
	}
	return all
}

// protocolViolation is the disconnect of a client that broke the protocol.
func protocolViolation(e *protocol.CloseError) *disconnect {
	return &disconnect{e.Code, e.Reason, true, false}
}

// peerClosed answers a client's close frame with its own code; only codes
// other than 1000 and 1001 are abnormal.
func peerClosed(code ws.StatusCode) *disconnect {
	return &disconnect{code, "", code != ws.StatusNormalClosure && code != ws.StatusGoingAway, false}
}
