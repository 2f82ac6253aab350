package server

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/wsify/wsify/console"
)

// adminServer serves the operator endpoints on Config.AdminAddr, a plain
// listener apart from the event loop: it sees a few scrapes a minute.
type adminServer struct {
	ln   net.Listener // nil without Config.AdminAddr
	http *fasthttp.Server
	done chan struct{} // closed when Serve returns; nil until it runs
}

// listenAdmin binds the admin address first thing in Start, so a bad
// address fails start-up before anything else runs.
func (s *Server) listenAdmin() error {
	if s.cfg.AdminAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("server: admin address: %w", err)
	}
	s.admin.ln = ln
	return nil
}

// serveAdmin starts serving once the rest of the server is ready.
func (s *Server) serveAdmin() {
	if s.admin.ln == nil {
		return
	}
	s.admin.http = s.newHTTPServer(s.serveAdminHTTP)
	s.admin.done = make(chan struct{})
	go func() {
		defer close(s.admin.done)
		s.admin.http.Serve(s.admin.ln)
	}()
	s.log.Info("wsify admin listening", "addr", s.admin.ln.Addr().String())
}

// shutdownAdmin stops the admin server gracefully, within ctx.
func (s *Server) shutdownAdmin(ctx context.Context) {
	if s.admin.http != nil {
		s.admin.http.ShutdownWithContext(ctx)
	}
}

// stopAdmin closes the listener and waits for Serve to return.
func (s *Server) stopAdmin() {
	if s.admin.ln == nil {
		return
	}
	s.admin.ln.Close()
	if s.admin.done != nil {
		<-s.admin.done
	}
}

// AdminAddr is the address of the admin endpoints; not valid without
// Config.AdminAddr.
func (s *Server) AdminAddr() netip.AddrPort {
	if s.admin.ln == nil {
		return netip.AddrPort{}
	}
	return s.admin.ln.Addr().(*net.TCPAddr).AddrPort()
}

func (s *Server) serveAdminHTTP(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	switch {
	case path == "/healthz":
		s.handleHealth(ctx, true)
	case s.serveOperator(ctx, path):
	default:
		httpError(ctx, fasthttp.StatusNotFound, "not_found", "no such endpoint (WebSocket clients use the public address)")
	}
}

// serveOperator serves the endpoints an operator needs and the public need
// not see, reporting whether path was one of them.
func (s *Server) serveOperator(ctx *fasthttp.RequestCtx, path string) bool {
	h := s.operatorHandler(path)
	if h != nil {
		h(ctx)
	}
	return h != nil
}

// operatorHandler is the handler of the operator endpoint path; nil for
// any other path.
func (s *Server) operatorHandler(path string) fasthttp.RequestHandler {
	switch path {
	case "/broadcast":
		return s.handleBroadcast
	case "/stats":
		return s.handleStats
	case "/metrics":
		return s.handleMetrics
	case "/", "/index.html":
		return s.handleConsole
	case "/console.json":
		return s.handleConsoleConfig
	case "/history":
		if s.ns != nil { // without history the path stays unknown, as before it
			return s.handleHistory
		}
	case "/presence", "/presence_stats":
		if s.pres != nil { // without presence the paths stay unknown, as before it
			return s.handlePresence
		}
	case "/wsify.js":
		return handleClientModule
	}
	return nil
}

func (s *Server) handleConsole(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetBody(console.Page)
}

// handleClientModule serves the JavaScript client the console imports
// (clients/js/wsify.js).
func handleClientModule(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/javascript; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetBody(console.Client)
}

// handleConsoleConfig tells the console the public port, which differs
// from the page's own when the console is served on the admin address.
func (s *Server) handleConsoleConfig(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	ctx.SetBodyString(`{"ws_port":` + strconv.Itoa(int(s.addr.Port())) + `,"ws_path":"/ws"}`)
}
