package main

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLimitSettings maps the limit variables onto the server config, 0
// meaning off, and the flags over them.
func TestLimitSettings(t *testing.T) {
	env := mapEnv("WSIFY_MAX_CONNECTIONS=0", "WSIFY_MAX_CHANNELS=5", "WSIFY_RATE_LIMIT=50",
		"WSIFY_PING_INTERVAL=0", "WSIFY_PING_TIMEOUT=3s", "WSIFY_TCP_KEEPALIVE=0",
		"WSIFY_ALLOWED_ORIGINS= https://a.example, http://b.example:8080 ,")
	o, err := parseOptions([]string{"--max-channels", "0", "--rate-limit", "7"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := o.server
	if c.MaxConnections >= 0 || c.MaxChannels >= 0 || c.RateLimit != 7 {
		t.Errorf("max connections %d, max channels %d, rate %d; want off, off, 7", c.MaxConnections, c.MaxChannels, c.RateLimit)
	}
	if c.PingInterval >= 0 || c.PingTimeout != 3*time.Second || c.TCPKeepAlive >= 0 {
		t.Errorf("ping interval %v, timeout %v, keep-alive %v; want off, 3s, off", c.PingInterval, c.PingTimeout, c.TCPKeepAlive)
	}
	if want := []string{"https://a.example", "http://b.example:8080"}; !slices.Equal(c.AllowedOrigins, want) {
		t.Errorf("allowed origins %q, want %q", c.AllowedOrigins, want)
	}
}

// TestLimitDefaults: with nothing set, the documented defaults apply.
func TestLimitDefaults(t *testing.T) {
	o, err := parseOptions(nil, mapEnv(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := o.server
	if c.MaxConnections <= 0 || c.MaxChannels != 128 || c.JoinRateLimit != 20 || c.RateLimit >= 0 || c.PingInterval != 30*time.Second ||
		c.PingTimeout != 10*time.Second || c.TCPKeepAlive != time.Minute || len(c.AllowedOrigins) != 0 {
		t.Errorf("defaults %+v", c)
	}
}

func TestBadLimitSettingsStopStartup(t *testing.T) {
	for _, env := range []string{"WSIFY_MAX_CONNECTIONS=-1", "WSIFY_RATE_LIMIT=fast",
		"WSIFY_PING_INTERVAL=often", "WSIFY_ALLOWED_ORIGINS=example.com"} {
		want, _, _ := strings.Cut(env, "=")
		if want == "WSIFY_ALLOWED_ORIGINS" {
			want = "allowed origin"
		}
		checkStartupFails(t, nil, []string{env, "WSIFY_LISTEN_ADDR=127.0.0.1:0"}, want)
	}
}
