package server

import (
	"net"
	"net/netip"

	"github.com/valyala/fasthttp"
)

// Protected mode, as Redis has it: without an admin address and without
// Config.OperatorPublic, the operator endpoints on the public port answer
// loopback clients only. Anyone who reaches the WebSocket port could
// otherwise publish to any channel past the authorizer and read the
// server's counters. POST /broadcast with a BroadcastKey set is the one
// exception: the key guards it, from anywhere.

// servePublicOperator serves an operator endpoint on the public port,
// reporting whether path was one; in protected mode a client that is not
// loopback gets 403.
func (s *Server) servePublicOperator(ctx *fasthttp.RequestCtx, path string) bool {
	h := s.operatorHandler(path)
	switch {
	case h == nil:
		return false
	case s.protects(path) && !isLocal(ctx.RemoteAddr()):
		httpError(ctx, fasthttp.StatusForbidden, "forbidden",
			"protected mode: this endpoint answers loopback clients only; set a broadcast key (for POST /broadcast), "+
				"open it with --operator-public (WSIFY_OPERATOR_PUBLIC=true) or serve it on --admin-addr")
	default:
		h(ctx)
	}
	return true
}

// protects reports whether protected mode keeps path to loopback clients.
func (s *Server) protects(path string) bool {
	return !s.cfg.OperatorPublic && !(keyGuarded(path) && s.cfg.BroadcastKey != "")
}

// keyGuarded reports whether the broadcast key guards path: POST
// /broadcast and the backends' reads beside it.
func keyGuarded(path string) bool {
	switch path {
	case "/broadcast", "/history", "/presence", "/presence_stats":
		return true
	}
	return false
}

// remoteForTest, set only by tests before a server starts
// (export_test.go), is a loopback address protected mode takes as remote:
// a test's clients all come from loopback, and may not go elsewhere.
var remoteForTest netip.Addr

// isLocal reports whether a client at addr is on this machine's loopback.
func isLocal(addr net.Addr) bool {
	if ta, ok := addr.(*net.TCPAddr); ok && remoteForTest.IsValid() {
		if ip, _ := netip.AddrFromSlice(ta.IP); ip.Unmap() == remoteForTest {
			return false
		}
	}
	return isLoopback(addr)
}

// isLoopback reports whether addr is 127.0.0.0/8 or ::1, IPv4-mapped
// included. Forwarding headers are not read: anyone could send them.
func isLoopback(addr net.Addr) bool {
	ta, ok := addr.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// logProtectedMode says at start-up which endpoints protected mode keeps
// to loopback clients and how to open them.
func (s *Server) logProtectedMode() {
	if s.cfg.AdminAddr != "" || s.cfg.OperatorPublic {
		return
	}
	which := "POST /broadcast, /stats, /metrics and the console"
	if s.cfg.BroadcastKey != "" {
		which = "/stats, /metrics and the console (POST /broadcast takes the broadcast key from anywhere)"
	}
	s.log.Info("protected mode: " + which + " answer loopback clients only; " +
		"open them with --operator-public (WSIFY_OPERATOR_PUBLIC=true) or move them to --admin-addr")
}
