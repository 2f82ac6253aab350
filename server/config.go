package server

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/broker"
)

// Config configures a Server. The zero value serves on :3000 with the
// defaults documented on each field.
type Config struct {
	// Addr is the TCP address for WebSocket and HTTP. Default ":3000".
	Addr string
	// AdminAddr, when set, is a second TCP address serving the operator
	// endpoints (/metrics, /stats, /broadcast and the console at /), which
	// the public Addr then no longer serves: it keeps /ws and /healthz.
	// Default "": everything on Addr.
	AdminAddr string
	// ReusePort sets SO_REUSEPORT so several processes share Addr.
	ReusePort bool
	// Workers is the size of the pool that serves sockets.
	// Default max(2, GOMAXPROCS).
	Workers int
	// MaxMessageBytes bounds a client message, fragments reassembled, and a
	// POST /broadcast body. Default 65536.
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
	// BroadcastKey, when set, must accompany POST /broadcast as ?key= or
	// "Authorization: Bearer <key>".
	BroadcastKey string
	// Auth configures the authorizer; an empty URL allows everything.
	Auth auth.Config
	// Broker connects this node to the others; the zero value is the
	// in-memory broker of a single node.
	Broker broker.Config
	// MaxHTTPConns bounds concurrent plain HTTP connections. Default 4096.
	MaxHTTPConns int
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
	// left to HTTP, the authorizer and files. Negative: no limit.
	MaxConnections int
	// MaxChannels bounds the channels one connection may join; a join over
	// it gets the too_many_channels error. Default 1024; negative: no limit.
	MaxChannels int
	// RateLimit is the commands per second one connection may send, with a
	// burst of as many; a command over it gets the rate_limited error and
	// is not run, and a connection that keeps sending is closed with 1008
	// (ratelimit.go). Default 0: no limit.
	RateLimit int
	// PingInterval is how long a connection may stay silent before the
	// server pings it (ping.go). Default 30s; negative: no pings.
	PingInterval time.Duration
	// PingTimeout is how long a pinged connection has to send anything
	// (a pong or any other frame) before it is dropped. Default 10s.
	PingTimeout time.Duration
	// TCPKeepAlive is the idle time before the kernel's first TCP
	// keep-alive probe on an accepted socket, and the time between probes.
	// Default 60s; negative: keep-alive off.
	TCPKeepAlive time.Duration
	// AllowedOrigins lists the origins, as scheme://host[:port], whose
	// pages may connect; an upgrade request whose Origin header names any
	// other gets 403, one without an Origin header is let in (origin.go).
	// Default empty: every origin.
	AllowedOrigins []string
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
}

// WithDefaults returns c with every unset field given its documented default.
func (c Config) WithDefaults() Config {
	c.Addr = orDefault(c.Addr, ":3000")
	c.Workers = orDefault(c.Workers, max(2, runtime.GOMAXPROCS(0)))
	c.MaxMessageBytes = orDefault(c.MaxMessageBytes, 65536)
	c.MaxChannelBytes = orDefault(c.MaxChannelBytes, 256)
	c.OutboxBytes = orDefault(c.OutboxBytes, 1<<20)
	c.ReadBufferBytes = orDefault(c.ReadBufferBytes, 4096)
	c.MaxHeaderBytes = orDefault(c.MaxHeaderBytes, 8192)
	c.HandshakeTimeout = orDefault(c.HandshakeTimeout, 10*time.Second)
	c.ReadTimeout = orDefault(c.ReadTimeout, 30*time.Second)
	c.ShutdownTimeout = orDefault(c.ShutdownTimeout, 5*time.Second)
	c.Auth = c.Auth.WithDefaults()
	c.MaxHTTPConns = orDefault(c.MaxHTTPConns, 4096)
	c.TLSHandshakes = orDefault(c.TLSHandshakes, max(1, runtime.GOMAXPROCS(0)/2))
	c.Broker = c.Broker.WithDefaults()
	c = c.limitDefaults()
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func orDefault[T int | time.Duration | string](v, d T) T {
	var zero T
	if v == zero {
		return d
	}
	return v
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Workers >= 0, "workers must be positive, got %d", c.Workers)
	check(c.MaxMessageBytes >= 0, "max message bytes must be positive, got %d", c.MaxMessageBytes)
	check(c.MaxChannelBytes >= 0, "max channel bytes must be positive, got %d", c.MaxChannelBytes)
	check(c.OutboxBytes >= 0, "outbox bytes must be positive, got %d", c.OutboxBytes)
	check(c.ReadBufferBytes == 0 || c.ReadBufferBytes >= 512, "read buffer must be at least 512 bytes, got %d", c.ReadBufferBytes)
	check(c.MaxHeaderBytes == 0 || c.MaxHeaderBytes >= 1024, "max header bytes must be at least 1024, got %d", c.MaxHeaderBytes)
	check(c.HandshakeTimeout >= 0 && c.ReadTimeout >= 0 && c.ShutdownTimeout >= 0 && c.Auth.Timeout >= 0,
		"timeouts must not be negative")
	check(c.Auth.MaxConns >= 0, "authorizer connections must be positive, got %d", c.Auth.MaxConns)
	check((c.TLSCertFile == "") == (c.TLSKeyFile == ""), "TLS needs both a certificate and a key file")
	check(c.TLSHandshakes >= 0, "TLS handshakes must be positive, got %d", c.TLSHandshakes)
	errs = append(errs, c.Broker.Validate())
	errs = append(errs, c.validateLimits()...)
	return errors.Join(errs...)
}
