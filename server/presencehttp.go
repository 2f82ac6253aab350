package server

import (
	"context"

	"github.com/valyala/fasthttp"

	"github.com/wsify/wsify/protocol"
)

// handlePresence serves GET /presence?channel=.. and GET
// /presence_stats?channel=.. with the object of the command's reply. It is
// guarded as POST /broadcast is: the broadcast key when set, protected
// mode otherwise. A backend may ask about any channel.
func (s *Server) handlePresence(ctx *fasthttp.RequestCtx) {
	if !s.operatorGet(ctx) {
		return
	}
	kind := protocol.KindPresence
	if string(ctx.Path()) == "/presence_stats" {
		kind = protocol.KindPresenceStats
	}
	channel, perr := protocol.ChannelName(protocol.AppendString(nil, ctx.QueryArgs().Peek("channel")), s.cfg.MaxChannelBytes)
	if perr == nil && !s.keepsPresence(channel) {
		perr = protocol.ErrNoPresence
	}
	var body []byte
	if perr == nil {
		c, cancel := context.WithTimeout(context.Background(), s.cfg.Broker.Timeout)
		body, perr = s.presenceAnswer(c, kind, nil, channel)
		cancel()
	}
	answerRead(ctx, body, perr)
}
