package main

import (
	"io"
	"testing"
	"time"
)

// TestHTTPAndProtectedModeSettings: the HTTP limits and protected mode
// have their documented defaults, the environment sets them, 0 turns the
// per-address cap off, and a flag wins.
func TestHTTPAndProtectedModeSettings(t *testing.T) {
	o, err := parseOptions(nil, mapEnv(), io.Discard)
	if c := o.server; err != nil || c.HTTPIdleTimeout != 10*time.Second || c.MaxHTTPConnsPerIP != 64 || c.OperatorPublic {
		t.Errorf("defaults: idle %v, per address %d, operator public %v (%v); want 10s, 64, false",
			c.HTTPIdleTimeout, c.MaxHTTPConnsPerIP, c.OperatorPublic, err)
	}
	env := mapEnv("WSIFY_HTTP_IDLE_TIMEOUT=2s", "WSIFY_MAX_HTTP_CONNS_PER_IP=0", "WSIFY_OPERATOR_PUBLIC=true")
	o, err = parseOptions(nil, env, io.Discard)
	if c := o.server; err != nil || c.HTTPIdleTimeout != 2*time.Second || c.MaxHTTPConnsPerIP >= 0 || !c.OperatorPublic {
		t.Errorf("env: idle %v, per address %d, operator public %v (%v); want 2s, off, true",
			c.HTTPIdleTimeout, c.MaxHTTPConnsPerIP, c.OperatorPublic, err)
	}
	o, err = parseOptions([]string{"--max-http-conns-per-ip", "8", "--operator-public=false"}, env, io.Discard)
	if c := o.server; err != nil || c.MaxHTTPConnsPerIP != 8 || c.OperatorPublic {
		t.Errorf("flags: per address %d, operator public %v (%v); want 8, false", c.MaxHTTPConnsPerIP, c.OperatorPublic, err)
	}
}
