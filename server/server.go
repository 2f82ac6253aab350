package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/valyala/fasthttp"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/events"
	"github.com/wsify/wsify/hub"
	"github.com/wsify/wsify/namespace"
	"github.com/wsify/wsify/netpoll"
	"github.com/wsify/wsify/server/internal/pool"
	"github.com/wsify/wsify/server/internal/wheel"
)

// Server is a wsify node: the listener, the poller, the worker pools, the
// hub and the HTTP endpoints.
type Server struct {
	cfg      Config
	log      *slog.Logger
	nodeID   string // prefix of client ids, unique per process
	hub      *hub.Hub
	auth     *auth.Client // nil without an authorizer
	tls      *tlsServer   // nil on a plain listener (tls.go)
	link     brokerLink   // the broker, kept in step with the hub (broker.go)
	upgrader ws.Upgrader
	bufs     sync.Pool // *[]byte: read buffers of cfg.ReadBufferBytes (conn.unpool)
	stats    stats

	poller   *netpoll.Poller
	workers  *pool.Pool
	authPool *pool.Pool
	wheel    *wheel.Wheel[*conn] // every connection deadline: handshake, partial frame, close linger
	http     *fasthttp.Server
	httpLn   *chanListener
	lfd      int
	addr     netip.AddrPort
	seq      atomic.Uint64
	conns    table
	draining atomic.Bool // set by Shutdown: no new connections
	lim      limits      // connection limits and the ping sweeper (limits.go)
	httpDone chan struct{}
	admin    adminServer  // operator endpoints on cfg.AdminAddr; see admin.go
	events   *events.Sink // the lifecycle webhook; nil when off (events.go)

	ns   *namespace.Table // channel options; nil when no channel keeps history (history.go)
	hist broker.Historian // the broker keeping the histories; nil: the hub keeps them (or none)
	// remoteHistory says the broker keeps the histories (Redis), known
	// from the config before the broker is open.
	remoteHistory bool
	pres          *presence     // presence and join/leave events; nil when off (presence.go)
	sweepStop     chan struct{} // stops the history sweeper; nil without one
	sweepDone     chan struct{}
	idem          *idempotency // POST /broadcast idempotency keys this node keeps (idempotency.go)

	ho handoffState // handing the sockets to a new process, or taking them over (handoff.go)
}

// wheelTick is the resolution of every connection deadline: a handshake,
// a partial frame or a close linger ends within a tick after it is due.
const wheelTick = 100 * time.Millisecond

// New checks cfg and prepares a server; Start opens it.
func New(cfg Config) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("server: config: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, nodeID: newNodeID(), lfd: -1, idem: newIdempotency(cfg.IdempotencyTTL)}
	s.ho.gone = make(chan struct{})
	s.auth = auth.New(cfg.Auth)
	s.upgrader = ws.Upgrader{ReadBufferSize: cfg.MaxHeaderBytes}
	s.bufs.New = func() any { b := make([]byte, 0, cfg.ReadBufferBytes); return &b }
	if err := s.setupTLS(); err != nil {
		return nil, err
	}
	if err := s.loadNamespaces(); err != nil {
		return nil, fmt.Errorf("server: config: %w", err)
	}
	return s, nil
}

func newNodeID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Start listens and serves in the background; with Config.TakeoverFrom it
// takes the sockets of a running process over instead (handoff_take.go).
func (s *Server) Start() error {
	if s.cfg.TakeoverFrom != "" {
		return s.takeOver()
	}
	if err := s.listenAdmin(); err != nil {
		return err
	}
	if err := s.openBroker(); err != nil {
		s.stopAdmin()
		return err
	}
	lfd, addr, err := netpoll.Listen(s.cfg.Addr, netpoll.ListenConfig{ReusePort: s.cfg.ReusePort, KeepAlive: s.keepAliveSeconds()})
	if err != nil {
		s.stopAdmin()
		s.closeBroker()
		return fmt.Errorf("server: %w", err)
	}
	if err := s.open(lfd, addr); err != nil {
		return err
	}
	return s.serve()
}

// open makes everything that serves lfd, but does not accept yet. On a
// failure it closes what Start opened before it.
func (s *Server) open(lfd int, addr netip.AddrPort) error {
	var err error
	if s.poller, err = netpoll.New(); err != nil {
		s.stopAdmin()
		netpoll.CloseListener(lfd)
		s.closeBroker()
		return fmt.Errorf("server: %w", err)
	}
	s.lfd, s.addr = lfd, addr
	s.workers = pool.New(s.cfg.Workers, s.taskPanicked)
	s.events = events.New(s.cfg.Events)
	if s.auth != nil {
		s.authPool = pool.New(s.cfg.Auth.MaxConns, s.taskPanicked)
	}
	s.hub = hub.New(s.historyHub(hub.Config{Dispatch: func(t hub.Task) { s.workers.Submit(t) }, Parallelism: s.cfg.Workers}))
	s.startSweeper()
	s.wheel = wheel.New(wheelTick, func(c *conn) { c.schedule(evTimeout) })
	s.startLimits()
	s.startHTTP()
	return nil
}

// serve starts accepting, on the public listener, the admin one and the
// control socket.
func (s *Server) serve() error {
	s.serveAdmin()
	if err := s.poller.AddListener(s.lfd, s.acceptReady); err != nil {
		s.stopAll()
		return fmt.Errorf("server: watch listener: %w", err)
	}
	if err := s.listenControl(); err != nil {
		s.stopAll()
		netpoll.CloseListener(s.lfd)
		return err
	}
	s.log.Info("wsify listening", "addr", s.addr.String(), "workers", s.cfg.Workers)
	s.logProtectedMode()
	if s.cfg.OnServing != nil {
		s.cfg.OnServing()
	}
	return nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() netip.AddrPort { return s.addr }

// Shutdown stops accepting, closes every client with 1001 (spread over
// Config.DrainPeriod, drain.go), each once what is queued for it is
// written, and waits until they are gone or ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.draining.Swap(true) {
		return nil
	}
	s.closeControl()
	s.poller.CloseFD(s.lfd)
	s.drain(ctx)
	err := s.waitDrained(ctx)
	s.http.ShutdownWithContext(ctx)
	s.shutdownAdmin(ctx)
	s.stopAll()
	return err
}

func (s *Server) waitDrained(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for s.conns.len() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("server: shutdown: %d connections left: %w", s.conns.len(), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

func (s *Server) stopAll() {
	s.httpLn.Close()
	<-s.httpDone
	s.stopAdmin()
	s.wheel.Close()
	s.stopSweeper()
	s.stopLimits()
	if s.authPool != nil {
		s.authPool.Close()
	}
	s.closeBroker()
	s.workers.Close()
	if s.events != nil {
		s.events.Close()
	}
	s.poller.Close()
}
