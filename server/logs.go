package server

import (
	"context"
	"log/slog"

	"github.com/gobwas/ws"
)

// Connection logs are debug lines, one per connection that ends badly:
// enough to trace a client's trouble, never a line per message. The level
// is checked first so that a server at info builds no attributes.

func (s *Server) debugging() bool { return s.log.Enabled(context.Background(), slog.LevelDebug) }

// logClosed notes an upgraded connection closed other than normally (1000,
// 1001): by the server for a reason, by the peer with an error code, or
// dropped without a close frame (logged as 1006).
func (c *conn) logClosed(d *disconnect) {
	if !d.abnormal || !c.srv.debugging() {
		return
	}
	code, reason := d.code, d.reason
	if code == 0 {
		code = ws.StatusAbnormalClosure
	}
	c.srv.log.Debug("connection closed", "id", c.id(), "remote", c.remote.String(),
		"code", int(code), "reason", reason)
}

// logRejected notes a handshake that did not end in an upgrade.
func (c *conn) logRejected(reason string, detail any) {
	if !c.srv.debugging() {
		return
	}
	c.srv.log.Debug("handshake rejected", "remote", c.remote.String(), "reason", reason, "detail", detail)
}
