package httphead

import (
	"errors"
	"net"
	"net/url"
	"strings"
)

// Origins are compared as scheme, host and port, case-insensitively, with
// the scheme's default port made explicit: "https://Example.com" and
// "https://example.com:443" are one origin, "http://example.com" another.
// A browser sends Origin on every WebSocket handshake; other clients send
// none, and they are let in: the check keeps other sites' pages from using
// a visitor's browser, it does not authenticate.

// defaultPorts are the ports an origin without one implies.
var defaultPorts = map[string]string{"http": "80", "https": "443", "ws": "80", "wss": "443"}

var (
	errOriginForm = errors.New("want scheme://host[:port]")
	errNoPort     = errors.New("no port, and the scheme implies none")
)

// NormalizeOrigin returns origin as "scheme://host:port" in lower case.
func NormalizeOrigin(origin string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(origin))
	if err != nil || u.Scheme == "" || u.Hostname() == "" || u.Opaque != "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", errOriginForm
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = defaultPorts[scheme]
	}
	if port == "" {
		return "", errNoPort
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port), nil
}

// Origins is a set of normalized origins; nil allows every origin.
type Origins map[string]struct{}

// NewOrigins normalizes origins, skipping malformed ones (the caller's
// config check refuses them first); none gives nil: every origin.
func NewOrigins(origins []string) Origins {
	if len(origins) == 0 {
		return nil
	}
	set := make(Origins, len(origins))
	for _, o := range origins {
		if n, err := NormalizeOrigin(o); err == nil {
			set[n] = struct{}{}
		}
	}
	return set
}

// Allowed reports whether every Origin header of the request head names an
// allowed origin; a head without one is allowed. An Origin that does not
// parse ("null" from a sandboxed page, say) is not allowed.
func (o Origins) Allowed(head []byte) bool {
	if o == nil {
		return true
	}
	ok := true
	EachHeader(head, "Origin", func(v []byte) {
		n, err := NormalizeOrigin(string(v))
		_, allowed := o[n]
		ok = ok && err == nil && allowed
	})
	return ok
}
