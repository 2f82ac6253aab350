package server

import (
	"errors"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/wsify/wsify/hub"
	"github.com/wsify/wsify/protocol"
)

// POST /broadcast takes one publication object, one with a "channels"
// list (one content, many channels), or a JSON array of them. Every
// publication of a request is checked before any is made, so a malformed
// one refuses the whole request (400) and publishes nothing; then each is
// made in order, and what the broker refuses is reported in its place.

// publishBody serves a POST /broadcast body the guards let through.
func (s *Server) publishBody(ctx *fasthttp.RequestCtx) {
	status, answer, replayed := s.broadcastKeyed(ctx)
	if replayed {
		ctx.Response.Header.Set(replayedHeader, "true")
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(answer)
}

// broadcastBody runs a POST /broadcast body and returns the HTTP status
// and body of its answer. The whole outcome of a request is decided here,
// from its body alone, so a step around it (remembering the answer to a
// request that may be repeated, say) wraps this one call.
func (s *Server) broadcastBody(body []byte) (status int, answer []byte) {
	if protocol.IsBatch(body) {
		pubs, err := protocol.DecodeBatch(body, s.cfg.MaxChannelBytes)
		if err == nil {
			err = s.checkTargets(pubs, true)
		}
		if err != nil {
			return err.Status, protocol.AppendErrorJSON(nil, nil, err)
		}
		return s.publishBatch(pubs)
	}
	var p protocol.Publication
	err := protocol.DecodePublication(&p, body, s.cfg.MaxChannelBytes)
	if err == nil {
		err = s.checkTargets([]protocol.Publication{p}, false)
	}
	if err != nil {
		return err.Status, protocol.AppendErrorJSON(nil, nil, err)
	}
	if p.Channels != nil {
		return s.publishChannels(nil, &p)
	}
	r := s.publishOne(p.Channel, p.Content, s.filterOf(&p.Targets))
	if r.err != nil {
		return r.err.Status, protocol.AppendErrorJSON(nil, nil, r.err)
	}
	return fasthttp.StatusCreated, r.appendJSON(nil, nil)
}

// checkTargets refuses a narrowed publication on a channel with history
// (protocol.ErrFilteredHistory), naming the element of an array body.
func (s *Server) checkTargets(pubs []protocol.Publication, batch bool) *protocol.Error {
	for i := range pubs {
		p := &pubs[i]
		if !p.Targets.Narrowed() {
			continue
		}
		for _, ch := range p.Names() {
			if !s.keepsHistory(ch) {
				continue
			}
			if batch {
				return protocol.ElementError(i, protocol.ErrFilteredHistory)
			}
			return protocol.ErrFilteredHistory
		}
	}
	return nil
}

// filterOf is the filter of an HTTP publication's targets; nil when they
// narrow nothing.
func (s *Server) filterOf(t *protocol.Targets) *hub.Filter {
	if !t.Narrowed() {
		return nil
	}
	return hub.NewFilter(t.Only, t.To, t.Except)
}

// result is the outcome of one publication.
type result struct {
	n   int                // receivers on this node
	pos *protocol.Position // on a channel with history
	err *protocol.Error    // nil: published
}

// publishOne makes one publication.
func (s *Server) publishOne(channel, content []byte, f *hub.Filter) result {
	n, pos, err := s.publishTo(channel, content, f)
	return result{n, pos, wireError(err)}
}

// wireError is the refusal the client is told for err: its own when it
// is one, else the broker's (publishRefusal): unconfirmed when it may
// have delivered the publication, unavailable when it did not take it.
func wireError(err error) *protocol.Error {
	if err == nil {
		return nil
	}
	if perr, ok := errors.AsType[*protocol.Error](err); ok {
		return perr
	}
	if e := publishRefusal(err); e != protocol.ErrUnavailable {
		return e
	}
	return errUnavailableHTTP
}

// errUnavailableHTTP is ErrUnavailable in the words POST /broadcast uses.
var errUnavailableHTTP = &protocol.Error{Code: protocol.ErrUnavailable.Code, Message: "the broker is down, try again later",
	Status: fasthttp.StatusServiceUnavailable}

// appendJSON appends r as its answer: {"ok":true,..,"receivers":N} or
// {"error":{..}}, after "channel" when channel is not nil.
func (r result) appendJSON(dst, channel []byte) []byte {
	if channel == nil {
		if r.err != nil {
			return protocol.AppendErrorJSON(dst, nil, r.err)
		}
		return protocol.AppendPublishedJSON(dst, nil, r.n, r.pos)
	}
	dst = protocol.AppendString(append(dst, `{"channel":`...), channel)
	var one []byte
	if r.err != nil {
		one = protocol.AppendErrorJSON(nil, nil, r.err)
	} else {
		one = protocol.AppendPublishedJSON(nil, nil, r.n, r.pos)
	}
	return append(append(dst, ','), one[1:]...) // the member list of one, after the channel
}

// publishChannels publishes p's content to each of its channels, in
// order, and appends the answer to dst: {"ok":true,"receivers":<sum>,
// "results":[{"channel":..,"ok":true,"receivers":N},...]} with 201, or
// "ok":false and 207 when the broker refused some.
func (s *Server) publishChannels(dst []byte, p *protocol.Publication) (int, []byte) {
	f := s.filterOf(&p.Targets)
	results := make([]result, len(p.Channels))
	total, failed := 0, false
	for i, ch := range p.Channels {
		results[i] = s.publishOne(ch, p.Content, f)
		total += results[i].n
		failed = failed || results[i].err != nil
	}
	dst = append(dst, `{"ok":`...)
	dst = appendBool(dst, !failed)
	dst = strconv.AppendInt(append(dst, `,"receivers":`...), int64(total), 10)
	dst = append(dst, `,"results":[`...)
	for i, r := range results {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = r.appendJSON(dst, p.Channels[i])
	}
	return multiStatus(failed), append(dst, "]}"...)
}

// publishBatch makes the publications of an array body in order and
// answers an array of their answers, each what the element alone would
// have been answered: 201 when all were made, 207 otherwise.
func (s *Server) publishBatch(pubs []protocol.Publication) (int, []byte) {
	dst := append(make([]byte, 0, 64*len(pubs)), '[')
	failed := false
	for i := range pubs {
		if i > 0 {
			dst = append(dst, ',')
		}
		p := &pubs[i]
		if p.Channels != nil {
			var status int
			status, dst = s.publishChannels(dst, p)
			failed = failed || status != fasthttp.StatusCreated
			continue
		}
		r := s.publishOne(p.Channel, p.Content, s.filterOf(&p.Targets))
		failed = failed || r.err != nil
		dst = r.appendJSON(dst, nil)
	}
	return multiStatus(failed), append(dst, ']')
}

func multiStatus(failed bool) int {
	if failed {
		return fasthttp.StatusMultiStatus
	}
	return fasthttp.StatusCreated
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}
