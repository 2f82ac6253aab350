package httphead_test

import (
	"testing"

	"github.com/wsify/wsify/server/internal/httphead"
)

func TestNormalizeOrigin(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://example.com", "https://example.com:443"},
		{"HTTPS://EXAMPLE.COM:443", "https://example.com:443"},
		{"https://example.com/", "https://example.com:443"},
		{"  http://example.com  ", "http://example.com:80"},
		{"http://example.com:8080", "http://example.com:8080"},
		{"ws://example.com", "ws://example.com:80"},
		{"wss://example.com", "wss://example.com:443"},
		{"http://example.com:", "http://example.com:80"},
		{"http://[::1]", "http://[::1]:80"},
		{"http://[::1]:8080", "http://[::1]:8080"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"chrome-extension://abc:1", "chrome-extension://abc:1"},
		// Refused: not scheme://host[:port], or no port to make explicit.
		{"null", ""},
		{"example.com", ""},
		{"//example.com", ""},
		{"https://", ""},
		{"https://:443", ""},
		{"https://example.com/path", ""},
		{"https://example.com?q", ""},
		{"https://example.com#f", ""},
		{"https://user@example.com", ""},
		{"https://example.com:port", ""},
		{"mailto:someone@example.com", ""},
		{"chrome-extension://abc", ""},
		{"", ""},
	} {
		got, err := httphead.NormalizeOrigin(c.in)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestNewOrigins(t *testing.T) {
	if o := httphead.NewOrigins(nil); o != nil {
		t.Errorf("no origins: %v, want nil (every origin)", o)
	}
	o := httphead.NewOrigins([]string{"https://Example.com", "bogus", "http://localhost:8080"})
	if len(o) != 2 {
		t.Errorf("%v: want the two that parse", o)
	}
}

func TestOriginsAllowed(t *testing.T) {
	allowed := httphead.NewOrigins([]string{"https://Example.com", "http://localhost:8080"})
	head := func(lines string) []byte { return []byte("GET /ws HTTP/1.1\r\nHost: x\r\n" + lines + "\r\n") }
	for _, c := range []struct {
		o     httphead.Origins
		lines string
		want  bool
	}{
		{allowed, "", true}, // no Origin: not a browser
		{allowed, "Origin: https://example.com\r\n", true},
		{allowed, "Origin: HTTPS://EXAMPLE.COM:443\r\n", true},
		{allowed, "origin: https://example.com/\r\n", true},
		{allowed, "Origin: http://localhost:8080\r\n", true},
		{allowed, "Origin: https://example.com\r\nOrigin: http://localhost:8080\r\n", true},
		{allowed, "Origin: https://evil.com\r\n", false},
		{allowed, "Origin: http://example.com\r\n", false},
		{allowed, "Origin: https://example.com:8443\r\n", false},
		{allowed, "Origin: https://example.com.evil.com\r\n", false},
		{allowed, "Origin: http://localhost\r\n", false},
		{allowed, "Origin: null\r\n", false},
		{allowed, "Origin: example.com\r\n", false},
		{allowed, "Origin:\r\n", false},
		{allowed, "Origin: https://example.com\r\nOrigin: https://evil.com\r\n", false},
		{allowed, "Origin: https://evil.com\r\nOrigin: https://example.com\r\n", false},
		{allowed, "Origin: https://example.com\r\n .evil.com\r\n", false}, // folded: refused, not half-read
		{nil, "Origin: https://evil.com\r\n", true},
		{nil, "Origin: null\r\n", true},
	} {
		if got := c.o.Allowed(head(c.lines)); got != c.want {
			t.Errorf("%v.Allowed(%q) = %v, want %v", c.o, c.lines, got, c.want)
		}
	}
}
