package broker

import (
	"strings"
	"testing"
)

func TestRedactedURLHidesEveryCredential(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"redis://127.0.0.1:6379", "redis://127.0.0.1:6379"},
		{"redis://SECRETUSER:SECRETPW@h:1/0", "redis://xxxxx@h:1/0"},
		{"redis://:SECRETPW@h:1", "redis://xxxxx@h:1"},
		{"rediss://SECRETUSER:SECRET%40PW@h:1/2?dial_timeout=3", "rediss://xxxxx@h:1/2?dial_timeout=3"},
		{"unix://SECRETUSER:SECRETPW@/run/redis.sock", "unix://xxxxx@/run/redis.sock"},
		{"nats://SECRETTOKEN@h:4222", "nats://xxxxx@h:4222"},
		{"tls://SECRETUSER:SECRETPW@h:4222", "tls://xxxxx@h:4222"},
		{"nats://a:1,nats://SECRETUSER:SECRETPW@b:2, tls://SECRETTOKEN@c:3", "nats://a:1,nats://xxxxx@b:2,tls://xxxxx@c:3"},
		{"nats:SECRETTOKEN@h:4222", "nats:xxxxx"},
		{"redis://SECRETUSER:SECRETPW@h:port", "(unparsable URL)"},
		{"redis://u:SECRET/PW@h:1", "(unparsable URL)"},
		{"nats://a:1,%zzSECRET@b", "nats://a:1,(unparsable URL)"},
	} {
		if got := (Config{URL: tc.in}).RedactedURL(); got != tc.want {
			t.Errorf("RedactedURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestScrubTakesCredentialsOutOfMessages: drivers' errors may quote the
// URL, url.Parse's do, in any of the forms a credential can be written.
func TestScrubTakesCredentialsOutOfMessages(t *testing.T) {
	for _, tc := range []struct{ url, decoded string }{
		{"redis://SECRETUSER:SECRET%40PW@h:1,redis://x:2", "auth SECRETUSER SECRET@PW"},
		{"nats://h:1, nats://SECRETTOKEN@h:port", "token SECRETTOKEN"},
		{"unix://SECRETUSER:SECRET:PW@/p", "auth SECRETUSER SECRET:PW"},
		{"redis://u:SECRET/PW@h:1", "password SECRET/PW"},
		{"redis://u:SECRET@PW@h:1", "password SECRET@PW"},
	} {
		c := Config{URL: tc.url}
		for _, msg := range []string{tc.url, `parse "` + tc.url + `": invalid port`, tc.decoded} {
			if got := c.scrub(msg); strings.Contains(got, "SECRET") {
				t.Errorf("URL %q: scrub(%q) = %q", tc.url, msg, got)
			}
		}
	}
	if got := (Config{URL: "redis://h:1"}).scrub("dial tcp h:1: refused"); got != "dial tcp h:1: refused" {
		t.Errorf("no credentials, yet scrub changed the message: %q", got)
	}
}

func TestBadURLErrorHidesCredentials(t *testing.T) {
	for _, c := range []Config{
		{Driver: "redis", URL: "http://SECRETUSER:SECRETPW@h:1"},
		{Driver: "nats", URL: "nats://a:1,http://SECRETUSER:SECRETPW@h:2"},
		{Driver: "redis", URL: "redis://SECRETUSER:SECRETPW@h:port"},
		{Driver: "nats", URL: "ftp://SECRETTOKEN@h:1"},
	} {
		err := c.Validate()
		if err == nil || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: Validate() = %v, want an error without the credentials", c.URL, err)
		}
	}
}
