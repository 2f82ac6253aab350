package httphead_test

import (
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/wsify/wsify/server/internal/httphead"
)

// normalForm is every origin NormalizeOrigin may return: a lower-case
// scheme as RFC 3986 spells one, a host and an explicit port.
var normalForm = regexp.MustCompile(`(?s)^[a-z][a-z0-9+.-]*://.+:[0-9]+$`)

// FuzzNormalizeOrigin holds NormalizeOrigin to the properties the origin
// check rests on: what it returns is in normal form and normalizes to
// itself (a configured origin and a browser's are compared as returned),
// and neither ASCII case nor surrounding space changes the answer.
func FuzzNormalizeOrigin(f *testing.F) {
	for _, s := range []string{"https://example.com", "HTTPS://EXAMPLE.COM:443", "http://[::1]:8080", "http://example.com:",
		"https://example.com/", "null", "https://user@example.com", "chrome-extension://abc:1", "http://%C3%A9.example",
		"http://[fe80::1%25en0]", "https://example.com:08080", "ws://a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, origin string) {
		got, err := httphead.NormalizeOrigin(origin)
		if err != nil {
			if got != "" {
				t.Fatalf("%q: %q with error %v", origin, got, err)
			}
		} else {
			if !normalForm.MatchString(got) {
				t.Fatalf("%q: %q is not scheme://host:port", origin, got)
			}
			again, err := httphead.NormalizeOrigin(got)
			if (again != got || err != nil) && browserHost(got) {
				t.Fatalf("%q: %q normalizes to %q, %v", origin, got, again, err)
			}
		}
		for _, variant := range []string{asciiUpper(origin), asciiLower(origin), " \t" + origin + "\t "} {
			v, verr := httphead.NormalizeOrigin(variant)
			if v != got || (verr == nil) != (err == nil) {
				t.Fatalf("%q: %q, %v; but %q gives %q, %v", origin, got, err, variant, v, verr)
			}
		}
	})
}

// browserHost reports whether the host of a normalized origin is one a
// browser sends: an ASCII name or an IP address. NormalizeOrigin takes
// more (a '%' in a name or an IPv6 zone, colons in a name, as in
// "a://::00"), and some of it comes back in a form that does not parse
// again; only browsers' hosts are held to idempotence.
func browserHost(origin string) bool {
	_, hostport, _ := strings.Cut(origin, "://")
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Zone() == ""
	}
	return asciiName.MatchString(host)
}

var asciiName = regexp.MustCompile(`^[a-z0-9_.-]+$`)

// asciiUpper and asciiLower change the case of ASCII letters only:
// Unicode case mapping is not a round trip ("ß" has no single upper-case
// letter), strings.ToLower rewrites invalid UTF-8 as U+FFFD (another
// input altogether), and a browser sends hosts in ASCII (punycode) anyway.
func asciiUpper(s string) string { return asciiCase(s, 'a', 'z', 'A'-'a') }
func asciiLower(s string) string { return asciiCase(s, 'A', 'Z', 'a'-'A') }

func asciiCase(s string, lo, hi byte, shift int) string {
	b := []byte(s)
	for i, c := range b {
		if lo <= c && c <= hi {
			b[i] = byte(int(c) + shift)
		}
	}
	return string(b)
}
