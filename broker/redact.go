package broker

import (
	"cmp"
	"net/url"
	"slices"
	"strings"
)

// redacted stands for a credential taken out.
const redacted = "xxxxx"

// RedactedURL is c.URL fit for logs and /stats: every URL of the list
// keeps its scheme, host and path, but not its user name, password or NATS
// token, and one that does not parse shows nothing of itself.
func (c Config) RedactedURL() string {
	if strings.EqualFold(c.Driver, "redis-cluster") { // one URL whose host is a list
		return redactClusterURL(c.URL)
	}
	parts := strings.Split(c.URL, ",")
	for i, raw := range parts {
		parts[i] = redactURL(strings.TrimSpace(raw))
	}
	return strings.Join(parts, ",")
}

// redactURL redacts one URL. url.URL.Redacted keeps user names, and a
// NATS token is a user name, so the whole user info goes.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "(unparsable URL)"
	case u.Opaque != "": // "nats:TOKEN@host" would print as written
		return u.Scheme + ":" + redacted
	case u.User != nil:
		u.User = url.User(redacted)
	}
	return u.String()
}

// scrub takes every credential of c.URL out of s, a driver's message: one
// may quote the URL it was given, as url.Parse's errors do.
func (c Config) scrub(s string) string {
	for _, secret := range c.secrets() {
		s = strings.ReplaceAll(s, secret, redacted)
	}
	return s
}

// secrets lists the user info of every URL of c.URL, whole and split at
// its colon, as written and unescaped, longest first so a part never
// breaks up a longer secret before it is replaced. It reads the user info
// as what comes before the last '@', so that it also finds it in a URL
// url.Parse refuses.
func (c Config) secrets() []string {
	var out []string
	for raw := range strings.SplitSeq(c.URL, ",") {
		if _, rest, ok := strings.Cut(raw, "://"); ok {
			raw = rest
		}
		i := strings.LastIndexByte(raw, '@')
		if i < 0 {
			continue
		}
		for _, s := range append(strings.Split(raw[:i], ":"), raw[:i]) {
			out = append(out, s)
			if u, err := url.PathUnescape(s); err == nil {
				out = append(out, u)
			}
		}
	}
	out = slices.DeleteFunc(out, func(s string) bool { return s == "" })
	slices.SortFunc(out, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	return slices.Compact(out)
}
