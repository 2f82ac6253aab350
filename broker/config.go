package broker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Drivers are the values Config.Driver accepts.
var Drivers = []string{"memory", "redis", "redis-cluster", "nats"}

// Config configures a Broker. The zero value is a private in-memory broker:
// a single node, no network.
type Config struct {
	// Driver is "memory", "redis", "redis-cluster" or "nats". Default
	// "memory".
	Driver string
	// URL locates the broker. Default "redis://127.0.0.1:6379" for redis
	// (redis://, rediss:// and unix:// URLs as go-redis parses them) and
	// "nats://127.0.0.1:4222" for nats (nats:// or tls://, several
	// separated by commas). For memory, empty means a bus private to this
	// node and "memory://NAME" a bus shared by every node of the process
	// opened with the same NAME. For redis-cluster it is
	// "redis-cluster://[user:password@]host:port,host:port,..." (redis://
	// is taken too): the seed nodes the slot map is first asked from.
	// Default "redis-cluster://127.0.0.1:6379".
	URL string
	// Prefix namespaces wsify's traffic on a shared broker: a channel is
	// the Redis channel "<Prefix>:<name>" or under the NATS subject
	// "<Prefix>.". Default "wsify".
	Prefix string
	// Timeout bounds connecting, one publication and the round trip that
	// confirms the subscriptions after a (re)connect. Default 2s.
	Timeout time.Duration
	// PingInterval is how often an idle connection is checked; a broker
	// that misses two pings is taken as down. Default 5s.
	PingInterval time.Duration
	// MinBackoff is the wait before the first reconnect attempt; it
	// doubles on each failure up to MaxBackoff. Default 100ms.
	MinBackoff time.Duration
	// MaxBackoff caps the wait between reconnect attempts. Default 5s.
	MaxBackoff time.Duration
	// Partitions is, for redis-cluster, how many subscription connections
	// the node holds to each master, and the size of its publishing pool
	// there: a node holds at most 2 × Partitions connections per master
	// whatever the number of channels. Default 4, at most 64.
	Partitions int
	// PresenceTTL is, for redis and redis-cluster, how long the members a
	// node keeps in a channel's presence count after its last refresh: a
	// node refreshes every PresenceTTL/3, so the members of a node that
	// died stop counting within PresenceTTL. Default 30s, at least 1s.
	PresenceTTL time.Duration
	// Dial, when set, opens the connections of the redis and
	// redis-cluster drivers in place of a TCP dial to addr: a tunnel, or
	// a test's slow link. Default nil: dial directly.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// WithDefaults returns c with every unset field given its documented default.
func (c Config) WithDefaults() Config {
	if c.Driver == "" {
		c.Driver = "memory"
	}
	c.Driver = strings.ToLower(c.Driver)
	if c.URL == "" {
		c.URL = defaultURL[c.Driver]
	}
	c.Prefix = cmp.Or(c.Prefix, "wsify")
	c.Timeout = cmp.Or(c.Timeout, 2*time.Second)
	c.PingInterval = cmp.Or(c.PingInterval, 5*time.Second)
	c.MinBackoff = cmp.Or(c.MinBackoff, 100*time.Millisecond)
	c.MaxBackoff = cmp.Or(c.MaxBackoff, 5*time.Second)
	c.Partitions = cmp.Or(c.Partitions, 4)
	c.PresenceTTL = cmp.Or(c.PresenceTTL, DefaultPresenceTTL)
	return c
}

var defaultURL = map[string]string{"redis": "redis://127.0.0.1:6379", "redis-cluster": "redis-cluster://127.0.0.1:6379",
	"nats": "nats://127.0.0.1:4222"}

// maxPartitions bounds Config.Partitions: more would only cost connections.
const maxPartitions = 64

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(slices.Contains(Drivers, c.Driver), "broker driver %q: want memory, redis, redis-cluster or nats", c.Driver)
	check(c.Timeout >= 0 && c.PingInterval >= 0 && c.MinBackoff >= 0 && c.MaxBackoff >= 0,
		"broker timeouts must not be negative")
	check(c.PresenceTTL >= time.Second, "presence TTL %v: want at least 1s", c.PresenceTTL)
	check(c.Partitions > 0 && c.Partitions <= maxPartitions, "broker partitions %d: want 1 to %d", c.Partitions, maxPartitions)
	if err := c.checkURL(); err != nil {
		errs = append(errs, err)
	}
	check(c.Driver != "redis-cluster" || !strings.ContainsAny(c.Prefix, "{}"),
		"broker prefix %q: a redis-cluster prefix has no '{' or '}': the channel name is the key's hash tag", c.Prefix)
	check(c.Driver != "nats" || validSubjectPrefix(c.Prefix),
		"broker prefix %q: a NATS subject prefix is dot-separated tokens of letters, digits, '-' and '_'", c.Prefix)
	return errors.Join(errs...)
}

var schemes = map[string][]string{"memory": {"memory"}, "redis": {"redis", "rediss", "unix"}, "nats": {"nats", "tls"}}

func (c Config) checkURL() error {
	switch {
	case c.Driver == "memory" && c.URL == "":
		return nil
	case c.Driver == "redis-cluster":
		_, err := parseClusterURL(c.URL)
		return err
	}
	for raw := range strings.SplitSeq(c.URL, ",") {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || !slices.Contains(schemes[c.Driver], u.Scheme) {
			return fmt.Errorf("broker URL %s: want a %s URL (%s://...)", redactURL(strings.TrimSpace(raw)), c.Driver, strings.Join(schemes[c.Driver], "://, "))
		}
	}
	return nil
}
