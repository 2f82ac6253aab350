package server

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"mime"
	"net"

	"github.com/valyala/fasthttp"

	"github.com/wsify/wsify/protocol"
)

func (s *Server) startHTTP() {
	s.httpLn = newChanListener(net.TCPAddrFromAddrPort(s.addr))
	s.http = s.newHTTPServer(s.serveHTTP)
	s.http.Concurrency = s.cfg.MaxHTTPConns
	s.http.MaxConnsPerIP = max(0, s.cfg.MaxHTTPConnsPerIP) // fasthttp: 0 is off
	s.http.IdleTimeout = s.cfg.HTTPIdleTimeout
	s.http.ReadBufferSize = s.cfg.MaxHeaderBytes
	s.httpDone = make(chan struct{})
	go func() {
		defer close(s.httpDone)
		s.http.Serve(s.httpLn)
	}()
}

// newHTTPServer is the fasthttp server of the public port and of the admin
// address: the body limit is the message limit, answered 413.
func (s *Server) newHTTPServer(h fasthttp.RequestHandler) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:            h,
		ErrorHandler:       httpParseError,
		Name:               "wsify",
		ReadTimeout:        s.cfg.HandshakeTimeout,
		WriteTimeout:       s.cfg.HandshakeTimeout,
		MaxRequestBodySize: s.cfg.MaxMessageBytes,
		Logger:             fasthttpLogger{s},
	}
}

// httpParseError answers a request fasthttp could not read, in the JSON
// error shape of every other answer.
func httpParseError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		httpError(ctx, fasthttp.StatusRequestEntityTooLarge, "too_large", "body over the message size limit")
	case errors.As(err, &small):
		httpError(ctx, fasthttp.StatusRequestHeaderFieldsTooLarge, "head_too_large", "request head too large")
	default:
		httpError(ctx, fasthttp.StatusBadRequest, "bad_request", "malformed HTTP request")
	}
}

type fasthttpLogger struct{ s *Server }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.s.log.Debug("fasthttp", "msg", format, "args", args)
}

// serveHTTP serves the public port's plain HTTP. The operator endpoints
// (see serveOperator) are here too unless an admin address takes them,
// in protected mode (protected.go).
func (s *Server) serveHTTP(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	switch {
	case path == "/healthz":
		s.handleHealth(ctx, false)
	case path == "/ws":
		httpError(ctx, fasthttp.StatusBadRequest, "bad_handshake",
			"a WebSocket upgrade must be a GET and the first request on its connection")
	case s.cfg.AdminAddr == "" && s.servePublicOperator(ctx, path):
	default:
		httpError(ctx, fasthttp.StatusNotFound, "not_found", "no such endpoint")
	}
}

// handleHealth serves the health checks the event loop does not answer
// itself (see loneHealthCheck).
func (s *Server) handleHealth(ctx *fasthttp.RequestCtx, detailed bool) {
	status, body := s.health(detailed)
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}

// handleBroadcast serves POST /broadcast (broadcasthttp.go).
func (s *Server) handleBroadcast(ctx *fasthttp.RequestCtx) {
	if s.operatorPost(ctx) {
		s.publishBody(ctx)
	}
}

// operatorPost checks a POST to /broadcast or /disconnect in the
// documented order: method (405), key (403), content type (415). It
// answers and reports false when one fails; the body (400) is the
// handler's.
func (s *Server) operatorPost(ctx *fasthttp.RequestCtx) bool {
	switch {
	case !ctx.IsPost():
		ctx.Response.Header.Set("Allow", "POST")
		httpError(ctx, fasthttp.StatusMethodNotAllowed, "method_not_allowed", "use POST")
	case !s.keyOK(ctx):
		httpError(ctx, fasthttp.StatusForbidden, "forbidden", "missing or wrong broadcast key")
	case !isJSON(ctx.Request.Header.ContentType()):
		httpError(ctx, fasthttp.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json")
	default:
		return true
	}
	return false
}

func (s *Server) keyOK(ctx *fasthttp.RequestCtx) bool {
	if s.cfg.BroadcastKey == "" {
		return true
	}
	key := ctx.QueryArgs().Peek("key")
	if scheme, token, ok := bytes.Cut(ctx.Request.Header.Peek("Authorization"), []byte(" ")); ok && bytes.EqualFold(scheme, []byte("Bearer")) {
		key = token
	}
	return subtle.ConstantTimeCompare(key, []byte(s.cfg.BroadcastKey)) == 1
}

// isJSON reports whether contentType is application/json. The usual
// headers are matched as they are, since mime's parse costs two
// allocations and about 0.5 us a request.
func isJSON(contentType []byte) bool {
	switch string(contentType) {
	case "application/json", "application/json; charset=utf-8":
		return true
	}
	mt, _, err := mime.ParseMediaType(string(contentType))
	return err == nil && mt == "application/json"
}

// operatorGet checks a GET of the backends' reads (/history, /presence,
// /presence_stats) as operatorPost does a POST: method (405), key (403).
func (s *Server) operatorGet(ctx *fasthttp.RequestCtx) bool {
	switch {
	case !ctx.IsGet():
		ctx.Response.Header.Set("Allow", "GET")
		httpError(ctx, fasthttp.StatusMethodNotAllowed, "method_not_allowed", "use GET")
	case !s.keyOK(ctx):
		httpError(ctx, fasthttp.StatusForbidden, "forbidden", "missing or wrong broadcast key")
	default:
		return true
	}
	return false
}

// answerRead answers a backend's read: body, or perr when not nil.
func answerRead(ctx *fasthttp.RequestCtx, body []byte, perr *protocol.Error) {
	ctx.SetContentType("application/json")
	if perr != nil {
		ctx.SetStatusCode(perr.Status)
		body = protocol.AppendErrorJSON(nil, nil, perr)
	}
	ctx.SetBody(body)
}

func httpError(ctx *fasthttp.RequestCtx, status int, code, message string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(protocol.AppendErrorJSON(nil, nil, &protocol.Error{Code: code, Message: message}))
}

// handleStats serves GET /stats: a JSON snapshot for tools and the console.
func (s *Server) handleStats(ctx *fasthttp.RequestCtx) {
	b, _ := json.Marshal(s.Stats())
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}
