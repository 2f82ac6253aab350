package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wsify/wsify/server"
)

// options is everything the command line and environment set.
type options struct {
	server    server.Config
	logLevel  string
	logFormat string
}

// setting binds a flag and its WSIFY_* variable to one field.
type setting struct {
	name, env, usage string
	value            flag.Value
}

func settings(o *options) []setting {
	c := &o.server
	return []setting{
		{"listen-addr", "WSIFY_LISTEN_ADDR", "TCP address for WebSocket and HTTP", (*stringValue)(&c.Addr)},
		{"admin-addr", "WSIFY_ADMIN_ADDR", "address for /metrics, /stats, /broadcast and the console; empty: the listen address", (*stringValue)(&c.AdminAddr)},
		{"operator-public", "WSIFY_OPERATOR_PUBLIC", "serve /broadcast, /stats, /metrics and the console on the listen address to every client; false: to loopback only (protected mode), but /broadcast to anyone with the broadcast key", (*boolValue)(&c.OperatorPublic)},
		{"reuse-port", "WSIFY_REUSE_PORT", "share the port with other processes (SO_REUSEPORT)", (*boolValue)(&c.ReusePort)},
		{"workers", "WSIFY_WORKERS", "workers serving sockets", (*intValue)(&c.Workers)},
		{"max-message-bytes", "WSIFY_MAX_MESSAGE_BYTES", "largest client message or /broadcast body; at most 16777216 (16 MiB)", (*intValue)(&c.MaxMessageBytes)},
		{"max-channel-bytes", "WSIFY_MAX_CHANNEL_BYTES", "longest channel name", (*intValue)(&c.MaxChannelBytes)},
		{"outbox-bytes", "WSIFY_OUTBOX_BYTES", "unsent bytes per connection before it is closed as a slow consumer", (*intValue)(&c.OutboxBytes)},
		{"read-buffer-bytes", "WSIFY_READ_BUFFER_BYTES", "size of the pooled socket read buffers", (*intValue)(&c.ReadBufferBytes)},
		{"max-header-bytes", "WSIFY_MAX_HEADER_BYTES", "largest HTTP request head", (*intValue)(&c.MaxHeaderBytes)},
		{"handshake-timeout", "WSIFY_HANDSHAKE_TIMEOUT", "time allowed from accept to a complete request head", (*durationValue)(&c.HandshakeTimeout)},
		{"read-timeout", "WSIFY_READ_TIMEOUT", "time a started frame may stay incomplete", (*durationValue)(&c.ReadTimeout)},
		{"shutdown-timeout", "WSIFY_SHUTDOWN_TIMEOUT", "time allowed for a graceful shutdown", (*durationValue)(&c.ShutdownTimeout)},
		{"drain-period", "WSIFY_DRAIN_PERIOD", "spread a shutdown's closes over this long, each telling its client a random reconnect delay; shorter than the shutdown timeout; 0: off (all at once)", (*offDurationValue)(&c.DrainPeriod)},
		{"max-upgrades-per-second", "WSIFY_MAX_UPGRADES_PER_SECOND", "WebSocket upgrades accepted per second, burst as many; over it 503 with a jittered Retry-After; 0: off", (*offIntValue)(&c.MaxUpgradesPerSecond)},
		{"broadcast-key", "WSIFY_BROADCAST_KEY", "key POST /broadcast must carry (?key= or Bearer); empty: none", (*stringValue)(&c.BroadcastKey)},
		{"idempotency-ttl", "WSIFY_IDEMPOTENCY_TTL", "how long a POST /broadcast Idempotency-Key is kept: a retry with it within this long publishes nothing; 0: off (the header is ignored)", (*offDurationValue)(&c.IdempotencyTTL)},
		{"authorizer-url", "WSIFY_AUTHORIZER_URL", "authorizer webhook URL; empty: allow everything", (*urlValue)(&c.Auth.URL)},
		{"authorizer-timeout", "WSIFY_AUTHORIZER_TIMEOUT", "timeout of one authorizer call", (*durationValue)(&c.Auth.Timeout)},
		{"authorizer-concurrency", "WSIFY_AUTHORIZER_CONCURRENCY", "authorizer calls in flight at most", (*intValue)(&c.Auth.MaxConns)},
		{"events-url", "WSIFY_EVENTS_URL", "webhook that receives connect, disconnect, join and leave events in batches; empty: off", (*urlValue)(&c.Events.URL)},
		{"events-max-batch", "WSIFY_EVENTS_MAX_BATCH", "most events in one webhook request", (*intValue)(&c.Events.MaxBatch)},
		{"events-max-delay", "WSIFY_EVENTS_MAX_DELAY", "longest an event waits for its batch", (*durationValue)(&c.Events.MaxDelay)},
		{"events-queue", "WSIFY_EVENTS_QUEUE", "events waiting for the webhook at most; past it they are dropped and counted", (*intValue)(&c.Events.QueueSize)},
		{"events-grace", "WSIFY_EVENTS_GRACE", "a user's leave undone by a join within this long is not reported; 0: off", (*offDurationValue)(&c.Events.Grace)},
		{"max-http-conns", "WSIFY_MAX_HTTP_CONNS", "plain HTTP connections served at once", (*intValue)(&c.MaxHTTPConns)},
		{"max-http-conns-per-ip", "WSIFY_MAX_HTTP_CONNS_PER_IP", "plain HTTP connections one client address may hold (over it: 429); 0: off", (*offIntValue)(&c.MaxHTTPConnsPerIP)},
		{"http-idle-timeout", "WSIFY_HTTP_IDLE_TIMEOUT", "time a keep-alive HTTP connection may wait for its next request", (*durationValue)(&c.HTTPIdleTimeout)},
		{"broker", "WSIFY_BROKER", "how nodes share publications: memory (one node), redis, redis-cluster (sharded pub/sub) or nats", (*driverValue)(&c.Broker.Driver)},
		{"broker-url", "WSIFY_BROKER_URL", "broker URL (redis://host:6379/0, redis-cluster://host:7000,host:7001, nats://host:4222); empty: the driver's local default", (*stringValue)(&c.Broker.URL)},
		{"broker-partitions", "WSIFY_BROKER_PARTITIONS", "redis-cluster: subscription connections per master, and publishing connections per master; at most 64", (*intValue)(&c.Broker.Partitions)},
		{"max-connections", "WSIFY_MAX_CONNECTIONS", "WebSocket connections per process, handshakes included; over it an upgrade gets 503; 0: off", (*offIntValue)(&c.MaxConnections)},
		{"max-channels", "WSIFY_MAX_CHANNELS", "channels one connection may join (too_many_channels); 0: off", (*offIntValue)(&c.MaxChannels)},
		{"join-rate-limit", "WSIFY_JOIN_RATE_LIMIT", "joins and leaves per second per connection, burst of max-channels (rate_limited); 0: off", (*offIntValue)(&c.JoinRateLimit)},
		{"rate-limit", "WSIFY_RATE_LIMIT", "commands per second per connection, burst as many (rate_limited; flooders closed with 1008); 0: off", (*offIntValue)(&c.RateLimit)},
		{"ping-interval", "WSIFY_PING_INTERVAL", "silence after which a connection is pinged; 0: off", (*offDurationValue)(&c.PingInterval)},
		{"ping-timeout", "WSIFY_PING_TIMEOUT", "time a pinged connection has to send anything before it is dropped", (*durationValue)(&c.PingTimeout)},
		{"tcp-keepalive", "WSIFY_TCP_KEEPALIVE", "TCP keep-alive idle time and probe interval of accepted sockets; 0: off", (*offDurationValue)(&c.TCPKeepAlive)},
		{"allowed-origins", "WSIFY_ALLOWED_ORIGINS", "comma-separated scheme://host[:port] origins browsers may connect from (others: 403); empty: any", (*listValue)(&c.AllowedOrigins)},
		{"tls-cert", "WSIFY_TLS_CERT", "PEM certificate file; with a key the listener speaks TLS only (wss://, https://)", (*stringValue)(&c.TLSCertFile)},
		{"tls-key", "WSIFY_TLS_KEY", "PEM private key file of the TLS certificate", (*stringValue)(&c.TLSKeyFile)},
		{"tls-handshakes", "WSIFY_TLS_HANDSHAKES", "TLS handshakes doing CPU work at once", (*intValue)(&c.TLSHandshakes)},
		{"compression", "WSIFY_COMPRESSION", "offer permessage-deflate to clients that ask for it", (*boolValue)(&c.Compression)},
		{"history-size", "WSIFY_HISTORY_SIZE", "publications each channel keeps for recovery, in the default namespace and those the namespaces file does not set; 0: off", (*offIntValue)(&c.HistorySize)},
		{"history-ttl", "WSIFY_HISTORY_TTL", "how long a kept publication lives, and the history of a channel nobody has joined", (*durationValue)(&c.HistoryTTL)},
		{"history-max-bytes", "WSIFY_HISTORY_MAX_BYTES", "memory of every history of the node together; past it the oldest histories are dropped; 0: off", (*offIntValue)(&c.HistoryMaxBytes)},
		{"presence", "WSIFY_PRESENCE", "keep who is in each channel (presence, presence_stats), in the default namespace and those the namespaces file does not set", (*boolValue)(&c.Presence)},
		{"join-leave", "WSIFY_JOIN_LEAVE", "tell subscribers who joins and leaves, in the default namespace and those the namespaces file does not set", (*boolValue)(&c.JoinLeave)},
		{"presence-ttl", "WSIFY_PRESENCE_TTL", "redis, redis-cluster: how long a node's presence counts after its last refresh (every third of it); a dead node's members stop counting within it", (*durationValue)(&c.Broker.PresenceTTL)},
		{"namespaces", "WSIFY_NAMESPACES", "JSON or TOML file of per-namespace channel options (README: Channel history)", (*stringValue)(&c.NamespacesFile)},
		{"control-socket", "WSIFY_CONTROL_SOCKET", "Unix socket on which a new wsify process takes this one's sockets over (--takeover, or SIGUSR2, which starts it); empty: off", (*stringValue)(&c.ControlSocket)},
		{"log-level", "WSIFY_LOG_LEVEL", "debug, info, warn or error", (*choiceValue)(&o.logLevel)},
		{"log-format", "WSIFY_LOG_FORMAT", "text or json", (*choiceValue)(&o.logFormat)},
	}
}

// parseOptions reads the environment, then the flags, which override it.
func parseOptions(args []string, getenv func(string) string, out io.Writer) (options, error) {
	o := options{server: server.Config{}.WithDefaults(), logLevel: "info", logFormat: "text"}
	o.server.Logger = nil
	fs := flag.NewFlagSet("wsify", flag.ContinueOnError)
	fs.SetOutput(out)
	all := settings(&o)
	for _, s := range all {
		fs.Var(s.value, s.name, fmt.Sprintf("%s (env %s)", s.usage, s.env))
	}
	fs.StringVar(&o.server.TakeoverFrom, "takeover", "", "take the listening sockets and connections of the wsify process listening on this control socket, instead of listening (flag only; SIGUSR2 starts such a process)")
	fs.Usage = func() { usage(out, fs) }
	for _, s := range all {
		if v := getenv(s.env); v != "" {
			if err := s.value.Set(v); err != nil {
				return o, fmt.Errorf("%s=%q: %w", s.env, v, err)
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	return o, checkChoices(o)
}

func usage(out io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(out, "Usage: wsify [flags]\n\nEvery flag can also be set by the environment variable named beside it; a flag wins.\nEvery limit or feature that can be turned off is turned off by 0 (the flags that say \"0: off\").\n\n")
	fs.PrintDefaults()
}

func checkChoices(o options) error {
	switch {
	case !strings.Contains(" debug info warn error ", " "+o.logLevel+" "):
		return fmt.Errorf("log level %q: want debug, info, warn or error", o.logLevel)
	case o.logFormat != "text" && o.logFormat != "json":
		return fmt.Errorf("log format %q: want text or json", o.logFormat)
	case !urlValue(o.server.Auth.URL).ok():
		return errors.New("authorizer URL (--authorizer-url, WSIFY_AUTHORIZER_URL): want an http:// or https:// URL")
	case !urlValue(o.server.Events.URL).ok():
		return errors.New("events URL (--events-url, WSIFY_EVENTS_URL): want an http:// or https:// URL")
	}
	return nil
}

type stringValue string

func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }

type choiceValue string

func (v *choiceValue) String() string     { return string(*v) }
func (v *choiceValue) Set(s string) error { *v = choiceValue(strings.ToLower(s)); return nil }

type boolValue bool

func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }
func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	*v = boolValue(b)
	return nil
}

type intValue int

func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return errors.New("want a whole number above 0")
	}
	*v = intValue(n)
	return nil
}

type durationValue time.Duration

func (v *durationValue) String() string { return time.Duration(*v).String() }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return errors.New("want a Go duration above 0, such as 1s or 500ms")
	}
	*v = durationValue(d)
	return nil
}

// urlValue is a URL that may hold credentials. It is checked once parsed
// (checkChoices), not when set: the flag package quotes a refused value.
type urlValue string

func (v *urlValue) String() string     { return string(*v) }
func (v *urlValue) Set(s string) error { *v = urlValue(s); return nil }

func (v urlValue) ok() bool {
	u, err := url.Parse(string(v))
	return v == "" || err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
