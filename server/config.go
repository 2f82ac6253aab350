package server

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/events"
	"github.com/wsify/wsify/netpoll"
	"github.com/wsify/wsify/server/internal/httphead"
)

// Config configures a Server. The zero value serves on :3000 with the
// defaults documented on each field.
//
// One rule for every setting: zero means the documented default, and for
// a limit or a feature that can be turned off, a negative value means off.
// WithDefaults applies the defaults, Validate checks the result; New does
// both, in that order.
type Config struct {
	// Addr is the TCP address for WebSocket and HTTP. Default ":3000".
	Addr string
	// AdminAddr, when set, is a second TCP address serving the operator
	// endpoints (/metrics, /stats, /broadcast and the console at /), which
	// the public Addr then no longer serves: it keeps /ws and /healthz.
	// Default "": everything on Addr.
	AdminAddr string
	// OperatorPublic serves the operator endpoints of Addr to every
	// client. Default false, "protected mode": without an AdminAddr they
	// answer loopback clients only and others get 403, but for POST
	// /broadcast when BroadcastKey is set, which the key guards from
	// anywhere (protected.go).
	OperatorPublic bool
	// ReusePort sets SO_REUSEPORT so several processes share Addr.
	ReusePort bool
	// Workers is the size of the pool that serves sockets.
	// Default max(2, GOMAXPROCS).
	Workers int
	// MaxMessageBytes bounds a client message, fragments reassembled, and a
	// POST /broadcast body. Default 65536; at most MaxMessageBytesLimit.
	MaxMessageBytes int
	// MaxChannelBytes bounds a channel name after trimming. Default 256.
	MaxChannelBytes int
	// OutboxBytes bounds what may wait unsent for one connection; a
	// subscriber over it is closed with 1008. Default 1 MiB.
	OutboxBytes int
	// ReadBufferBytes is the size of the pooled buffers sockets are read
	// into. Default 4096.
	ReadBufferBytes int
	// MaxHeaderBytes bounds an HTTP request head. Default 8192.
	MaxHeaderBytes int
	// HandshakeTimeout bounds the time from accept to a complete request
	// head. Default 10s.
	HandshakeTimeout time.Duration
	// ReadTimeout bounds how long a started frame may stay incomplete.
	// Default 30s.
	ReadTimeout time.Duration
	// ShutdownTimeout bounds a graceful shutdown. Default 5s.
	ShutdownTimeout time.Duration
	// DrainPeriod spreads the closes of a shutdown over this long, each
	// close 1001 telling its client a random delay (up to the period) to
	// wait before reconnecting (drain.go). It must be shorter than
	// ShutdownTimeout. Default off: every client is closed at once.
	DrainPeriod time.Duration
	// MaxUpgradesPerSecond bounds the WebSocket upgrades a node accepts per
	// second (a burst of as many); one over it gets 503 with a jittered
	// Retry-After, so a reconnect storm is smoothed instead of passed on to
	// the authorizer. Default off.
	MaxUpgradesPerSecond int
	// BroadcastKey, when set, must accompany POST /broadcast as ?key= or
	// "Authorization: Bearer <key>".
	BroadcastKey string
	// IdempotencyTTL is how long a POST /broadcast Idempotency-Key is
	// kept: a request with the same key on the same channel within it
	// publishes nothing and gets the first one's answer (idempotency.go).
	// Default 5m; negative: off (the header is ignored).
	IdempotencyTTL time.Duration
	// Auth configures the authorizer; an empty URL allows everything.
	Auth auth.Config
	// Broker connects this node to the others; the zero value is the
	// in-memory broker of a single node.
	Broker broker.Config
	// Events posts connect, disconnect, join and leave events to a webhook
	// in batches (events.go); an empty URL is off.
	Events events.Config
	// MaxHTTPConns bounds concurrent plain HTTP connections; one over it
	// gets 503 (GET /healthz is answered apart, see health.go). Default 4096.
	MaxHTTPConns int
	// MaxHTTPConnsPerIP bounds the plain HTTP connections of one client
	// address, so one client cannot take every MaxHTTPConns slot; one over
	// it gets 429 and is closed. Default 64; negative: off.
	MaxHTTPConnsPerIP int
	// HTTPIdleTimeout is how long a keep-alive HTTP connection may wait
	// for its next request. Default 10s: an idle connection holds its slot
	// no longer than a new one may take to send its first request
	// (HandshakeTimeout's default), and clients reconnect cheaply.
	HTTPIdleTimeout time.Duration
	// TLSCertFile and TLSKeyFile name a PEM certificate (chain) and its
	// key. With both set the listener speaks TLS only (wss:// and https://,
	// see tls.go); with neither it speaks plain TCP. Default empty.
	TLSCertFile, TLSKeyFile string
	// TLSHandshakes bounds the TLS handshakes doing CPU work at once; a
	// handshake waiting for the client's next flight holds no slot.
	// Default max(1, GOMAXPROCS/2), so a reconnect storm leaves cores to
	// the connections already open.
	TLSHandshakes int
	// Compression offers permessage-deflate (RFC 7692) to clients that ask
	// for it, without context takeover either way (deflate.go). Default
	// off.
	Compression bool
	// MaxConnections bounds the process's WebSocket connections, sockets
	// still in their handshake included; an upgrade request over it gets
	// 503 (limits.go). Default 7/8 of the open-file limit (RLIMIT_NOFILE),
	// so clients get a clear 503 before accept runs out of fds; the rest is
	// left to HTTP, the authorizer and files. Negative: off.
	MaxConnections int
	// MaxChannels bounds the channels one connection may join; a join over
	// it gets the too_many_channels error. Default 128: more than a client
	// needs, and a bound on the broker subscriptions and memory one
	// connection can pin. Negative: off.
	MaxChannels int
	// RateLimit is the commands per second one connection may send, with a
	// burst of as many; a command over it gets the rate_limited error and
	// is not run, and a connection that keeps sending is closed with 1008
	// (ratelimit.go). Default off; negative: off.
	RateLimit int
	// JoinRateLimit is the joins and leaves per second one connection may
	// send, with a burst of MaxChannels; one over it gets the rate_limited
	// error and is not run. It keeps a client from churning the broker's
	// subscriptions. Default 20; negative: off.
	JoinRateLimit int
	// PingInterval is how long a connection may stay silent before the
	// server pings it (ping.go). Default 30s; negative: off.
	PingInterval time.Duration
	// PingTimeout is how long a pinged connection has to send anything
	// (a pong or any other frame) before it is dropped. Default 10s.
	PingTimeout time.Duration
	// TCPKeepAlive is the idle time before the kernel's first TCP
	// keep-alive probe on an accepted socket, and the time between probes.
	// Default 60s; negative: off.
	TCPKeepAlive time.Duration
	// AllowedOrigins lists the origins, as scheme://host[:port], whose
	// pages may connect; an upgrade request whose Origin header names any
	// other gets 403, one without an Origin header is let in (origin.go).
	// Default empty: every origin.
	AllowedOrigins []string
	// HistorySize is how many publications a channel of the default
	// namespace keeps, and of every namespace the NamespacesFile does not
	// set it for (history.go). Default off: no channel keeps any, and the
	// wire is as without history.
	HistorySize int
	// HistoryTTL is how long a kept publication lives, and the history of
	// a channel nobody has joined, for the same namespaces. Default 5m.
	HistoryTTL time.Duration
	// HistoryMaxBytes bounds the memory of every history of the node
	// together; past it the least recently published histories are
	// dropped (their epochs change). Default 64 MiB; negative: off.
	HistoryMaxBytes int
	// Presence keeps who is in each channel of the default namespace, and
	// of every namespace the NamespacesFile does not set it for, for the
	// presence and presence_stats commands and endpoints (presence.go).
	// Default off.
	Presence bool
	// JoinLeave tells the subscribers of those channels who joins and
	// leaves. Default off.
	JoinLeave bool
	// NamespacesFile names a JSON or TOML file of per-namespace options
	// (package namespace), read by New. Default none.
	NamespacesFile string
	// ControlSocket is the path of a Unix socket the server listens on for
	// a new process that takes its sockets over (TakeoverFrom), created
	// with mode 0600 and answering only its own user (handoff.go). Default
	// "": off, and no takeover is possible.
	ControlSocket string
	// TakeoverFrom, when set, makes Start take the listening sockets and
	// the connections of the process whose ControlSocket it names instead
	// of listening itself: the addresses are that process's, every other
	// setting is this one's. Start fails, and the other process keeps
	// serving, when the two speak different handoff protocols. Default "".
	TakeoverFrom string
	// OnServing, when set, is called once the server serves: at the end of
	// Start and, when taking over, before the old process is told that it
	// may exit, so that a service manager learns of the new main process
	// before the old one is gone (cmd/wsify notifies systemd here).
	OnServing func()
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
}

// MaxMessageBytesLimit is the largest MaxMessageBytes: a message is held
// whole in memory while it is handled, by the reader and by every outbox
// it is queued on, so a larger one is a design for another server.
const MaxMessageBytesLimit = 16 << 20

// Defaults of the settings whose default is not a plain constant in
// WithDefaults; see their Config fields.
const (
	defaultMaxChannels     = 128
	defaultJoinRateLimit   = 20
	defaultPingInterval    = 30 * time.Second
	defaultPingTimeout     = 10 * time.Second
	defaultKeepAlive       = 60 * time.Second
	defaultHTTPIdleTimeout = 10 * time.Second
	defaultHTTPConnsPerIP  = 64
	defaultHistoryTTL      = 5 * time.Minute
	defaultHistoryMaxBytes = 64 << 20
	defaultIdempotencyTTL  = 5 * time.Minute
	off                    = -1 // a limit or feature turned off
)

// WithDefaults returns c with every unset field given its documented default.
func (c Config) WithDefaults() Config {
	c.Addr = cmp.Or(c.Addr, ":3000")
	c.Workers = cmp.Or(c.Workers, max(2, runtime.GOMAXPROCS(0)))
	c.MaxMessageBytes = cmp.Or(c.MaxMessageBytes, 65536)
	c.MaxChannelBytes = cmp.Or(c.MaxChannelBytes, 256)
	c.OutboxBytes = cmp.Or(c.OutboxBytes, 1<<20)
	c.ReadBufferBytes = cmp.Or(c.ReadBufferBytes, 4096)
	c.MaxHeaderBytes = cmp.Or(c.MaxHeaderBytes, 8192)
	c.HandshakeTimeout = cmp.Or(c.HandshakeTimeout, 10*time.Second)
	c.ReadTimeout = cmp.Or(c.ReadTimeout, 30*time.Second)
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, 5*time.Second)
	c.Auth = c.Auth.WithDefaults()
	c.MaxHTTPConns = cmp.Or(c.MaxHTTPConns, 4096)
	c.HTTPIdleTimeout = cmp.Or(c.HTTPIdleTimeout, defaultHTTPIdleTimeout)
	c.MaxHTTPConnsPerIP = cmp.Or(c.MaxHTTPConnsPerIP, defaultHTTPConnsPerIP)
	c.TLSHandshakes = cmp.Or(c.TLSHandshakes, max(1, runtime.GOMAXPROCS(0)/2))
	c.Broker = c.Broker.WithDefaults()
	c.Events = c.Events.WithDefaults()
	c.MaxConnections = cmp.Or(c.MaxConnections, defaultMaxConnections())
	c.MaxChannels = cmp.Or(c.MaxChannels, defaultMaxChannels)
	c.RateLimit = cmp.Or(c.RateLimit, off)
	c.DrainPeriod = cmp.Or(c.DrainPeriod, off)
	c.MaxUpgradesPerSecond = cmp.Or(c.MaxUpgradesPerSecond, off)
	c.JoinRateLimit = cmp.Or(c.JoinRateLimit, defaultJoinRateLimit)
	c.PingInterval = cmp.Or(c.PingInterval, defaultPingInterval)
	c.PingTimeout = cmp.Or(c.PingTimeout, defaultPingTimeout)
	c.TCPKeepAlive = cmp.Or(c.TCPKeepAlive, defaultKeepAlive)
	c.HistorySize = cmp.Or(c.HistorySize, off)
	c.HistoryTTL = cmp.Or(c.HistoryTTL, defaultHistoryTTL)
	c.HistoryMaxBytes = cmp.Or(c.HistoryMaxBytes, defaultHistoryMaxBytes)
	c.IdempotencyTTL = cmp.Or(c.IdempotencyTTL, defaultIdempotencyTTL)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// defaultMaxConnections is 7/8 of the open-file limit: past it accept
// would fail with EMFILE and clients would hang in the backlog instead of
// hearing 503. The other eighth is for HTTP, the authorizer and files.
func defaultMaxConnections() int {
	n := netpoll.FileLimit()
	if n < 0 {
		return off
	}
	return n / 8 * 7
}

// Validate reports every setting that cannot work. It expects the
// defaults applied (WithDefaults), so a zero is an error where it is one.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Workers > 0, "workers must be positive, got %d", c.Workers)
	check(c.MaxMessageBytes > 0 && c.MaxMessageBytes <= MaxMessageBytesLimit,
		"max message bytes must be from 1 to %d, got %d", MaxMessageBytesLimit, c.MaxMessageBytes)
	check(c.MaxChannelBytes > 0, "max channel bytes must be positive, got %d", c.MaxChannelBytes)
	check(c.OutboxBytes > 0, "outbox bytes must be positive, got %d", c.OutboxBytes)
	check(c.ReadBufferBytes >= 512, "read buffer must be at least 512 bytes, got %d", c.ReadBufferBytes)
	check(c.MaxHeaderBytes >= 1024, "max header bytes must be at least 1024, got %d", c.MaxHeaderBytes)
	check(c.HandshakeTimeout > 0 && c.ReadTimeout > 0 && c.ShutdownTimeout > 0 && c.Auth.Timeout > 0 &&
		c.HTTPIdleTimeout > 0 && c.PingTimeout > 0, "timeouts must be positive")
	check(c.Auth.MaxConns > 0, "authorizer connections must be positive, got %d", c.Auth.MaxConns)
	check(c.MaxHTTPConns > 0, "max HTTP connections must be positive, got %d", c.MaxHTTPConns)
	check((c.TLSCertFile == "") == (c.TLSKeyFile == ""), "TLS needs both a certificate and a key file")
	check(c.Events.MaxBatch > 0 && c.Events.QueueSize > 0 && c.Events.MaxDelay > 0 && c.Events.Timeout > 0,
		"event webhook batch, queue, delay and timeout must be positive")
	check(c.TLSHandshakes > 0, "TLS handshakes must be positive, got %d", c.TLSHandshakes)
	check(c.DrainPeriod < c.ShutdownTimeout, "the drain period (%v) must be shorter than the shutdown timeout (%v)", c.DrainPeriod, c.ShutdownTimeout)
	check(c.HistoryTTL > 0, "history TTL must be positive, got %s", c.HistoryTTL)
	check(c.RateLimit <= 1e9 && c.JoinRateLimit <= 1e9 && c.MaxUpgradesPerSecond <= 1e9, "rate limits above 1e9 per second: %d, %d, %d", c.RateLimit, c.JoinRateLimit, c.MaxUpgradesPerSecond)
	for _, o := range c.AllowedOrigins {
		if _, err := httphead.NormalizeOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("allowed origin %q: %w", o, err))
		}
	}
	errs = append(errs, c.Broker.Validate())
	return errors.Join(errs...)
}
