package broker

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// clusterURL is a redis-cluster URL taken apart:
// redis-cluster://[user:password@]host:port,host:port,...
type clusterURL struct {
	seeds          []string // host:port
	user, password string
}

// parseClusterURL reads the URL by hand: url.Parse refuses a host list
// holding an IPv6 literal, and would take "h1:1,h2:2" as one host.
func parseClusterURL(raw string) (clusterURL, error) {
	var out clusterURL
	bad := func(why string) (clusterURL, error) {
		return clusterURL{}, fmt.Errorf("broker URL %s: %s: want redis-cluster://[user:password@]host:port,host:port,...",
			redactClusterURL(raw), why)
	}
	scheme, rest, ok := strings.Cut(strings.TrimSpace(raw), "://")
	if !ok || (scheme != "redis-cluster" && scheme != "redis") {
		return bad("not a redis-cluster URL")
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		u, err := url.Parse("x://" + rest[:i] + "@h")
		if err != nil || u.User == nil {
			return bad("bad user info")
		}
		out.user = u.User.Username()
		out.password, _ = u.User.Password()
		rest = rest[i+1:]
	}
	hosts, tail, _ := strings.Cut(rest, "/")
	if strings.ContainsAny(hosts, "?#") || strings.Trim(tail, "/") != "" {
		return bad("no database, path or options: a cluster has database 0 only")
	}
	for h := range strings.SplitSeq(hosts, ",") {
		h = strings.TrimSpace(h)
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), "6379")
		}
		if host, _, err := net.SplitHostPort(h); err != nil || host == "" {
			return bad("bad seed address " + h)
		}
		out.seeds = append(out.seeds, h)
	}
	return out, nil
}

// redactClusterURL keeps the scheme and the hosts, not the user info.
func redactClusterURL(raw string) string {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(raw), "://")
	if !ok {
		return "(unparsable URL)"
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = redacted + "@" + rest[i+1:]
	}
	return scheme + "://" + rest
}
