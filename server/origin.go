package server

import (
	"bytes"
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

var errOriginForm = errors.New("want scheme://host[:port]")

// normalizeOrigin returns origin as "scheme://host:port" in lower case.
func normalizeOrigin(origin string) (string, error) {
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
		return "", errors.New("no port, and the scheme implies none")
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port), nil
}

// originSet normalizes the configured origins; nil allows every origin.
// Config.Validate has already refused malformed ones.
func originSet(origins []string) map[string]struct{} {
	if len(origins) == 0 {
		return nil
	}
	set := make(map[string]struct{}, len(origins))
	for _, o := range origins {
		if n, err := normalizeOrigin(o); err == nil {
			set[n] = struct{}{}
		}
	}
	return set
}

// originAllowed reports whether every Origin header of the request head
// names an allowed origin; a head without one is allowed. An Origin that
// does not parse ("null" from a sandboxed page, say) is not allowed.
func (s *Server) originAllowed(head []byte) bool {
	if s.lim.origins == nil {
		return true
	}
	ok := true
	eachHeader(head, "Origin", func(v []byte) {
		n, err := normalizeOrigin(string(v))
		_, allowed := s.lim.origins[n]
		ok = ok && err == nil && allowed
	})
	return ok
}

// eachHeader calls fn with the trimmed value of every header of the request
// head named name (case-insensitively). A folded continuation of such a
// header (obsolete, sent by no browser) is passed as an empty value, so a
// check that refuses what does not parse refuses it.
func eachHeader(head []byte, name string, fn func([]byte)) {
	_, rest, _ := bytes.Cut(head, []byte("\r\n")) // skip the request line
	named := false
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if named {
				fn(nil)
			}
			continue
		}
		key, value, found := bytes.Cut(line, []byte(":"))
		if named = found && bytes.EqualFold(key, []byte(name)); named {
			fn(bytes.TrimSpace(value))
		}
	}
}
