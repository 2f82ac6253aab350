package server

import (
	"github.com/gobwas/ws"

	"github.com/wsify/wsify/events"
)

// The lifecycle webhook (Config.Events): each upgraded connection's
// connect and disconnect, and each channel it joins or leaves, go to the
// events package's sink, which never blocks the caller. Off, it costs a
// nil check.

func (c *conn) user() string {
	if c.ident == nil {
		return ""
	}
	return c.ident.User
}

func (c *conn) emitConnect() {
	if s := c.srv.events; s != nil {
		ev := events.Event{Kind: events.Connect, Client: c.id(), User: c.user()}
		if c.ident != nil {
			ev.Info = c.ident.Info
		}
		s.Emit(ev)
	}
}

func (c *conn) emitChannel(kind events.Kind, channel string) {
	c.presenceChanged(kind == events.Join, channel)
	if s := c.srv.events; s != nil {
		s.Emit(events.Event{Kind: kind, Client: c.id(), User: c.user(), Channel: channel})
	}
}

func (c *conn) emitDisconnect(code ws.StatusCode) {
	if s := c.srv.events; s != nil {
		if code == 0 {
			code = ws.StatusAbnormalClosure
		}
		s.Emit(events.Event{Kind: events.Disconnect, Client: c.id(), User: c.user(), Code: int(code)})
	}
}
