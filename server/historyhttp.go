package server

import (
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/wsify/wsify/protocol"
)

// handleHistory serves GET /history?channel=..&limit=..&since_offset=..&epoch=..
// with the object of the history command's reply. It is guarded as POST
// /broadcast is: the broadcast key when set, protected mode otherwise.
func (s *Server) handleHistory(ctx *fasthttp.RequestCtx) {
	if !s.operatorGet(ctx) {
		return
	}
	q, perr := s.historyQuery(ctx.QueryArgs())
	var body []byte
	if perr == nil {
		body, perr = s.History(nil, q)
	}
	answerRead(ctx, body, perr)
}

// historyQuery reads the query string as the history command's args.
func (s *Server) historyQuery(a *fasthttp.Args) (HistoryQuery, *protocol.Error) {
	q := HistoryQuery{Limit: protocol.NoLimit}
	ch, err := protocol.ChannelName(protocol.AppendString(nil, a.Peek("channel")), s.cfg.MaxChannelBytes)
	if err != nil {
		return q, err
	}
	q.Channel = ch
	if a.Has("limit") {
		n, err := strconv.ParseUint(string(a.Peek("limit")), 10, 31)
		if err != nil {
			return q, protocol.ErrBadLimit
		}
		q.Limit = min(int(n), protocol.MaxHistoryLimit)
	}
	switch hasOffset, hasEpoch := a.Has("since_offset"), a.Has("epoch"); {
	case !hasOffset && !hasEpoch:
	case !hasOffset || !hasEpoch:
		return q, protocol.ErrBadSince
	default:
		n, err := strconv.ParseUint(string(a.Peek("since_offset")), 10, 53)
		if err != nil {
			return q, protocol.ErrBadSince
		}
		q.Since = protocol.Since{Given: true, Offset: n, Epoch: a.Peek("epoch")}
	}
	return q, nil
}
