package main

import (
	"io"
	"testing"
)

func TestTLSAndCompressionSettings(t *testing.T) {
	o, err := parseOptions([]string{"--tls-handshakes", "3"}, mapEnv("WSIFY_TLS_CERT=/c.pem", "WSIFY_TLS_KEY=/k.pem", "WSIFY_COMPRESSION=true"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := o.server
	if c.TLSCertFile != "/c.pem" || c.TLSKeyFile != "/k.pem" || !c.Compression || c.TLSHandshakes != 3 {
		t.Fatalf("cert %q key %q compression %v handshakes %d", c.TLSCertFile, c.TLSKeyFile, c.Compression, c.TLSHandshakes)
	}
}

// A certificate without a key, or files that do not load, stop startup
// with a message that says so.
func TestBadTLSSettingsStopStartup(t *testing.T) {
	missing := t.TempDir() + "/none.pem"
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"WSIFY_TLS_CERT=" + missing}, "TLS needs both"},
		{[]string{"WSIFY_TLS_CERT=" + missing, "WSIFY_TLS_KEY=" + missing}, "load TLS certificate"},
	} {
		checkStartupFails(t, []string{"--listen-addr", "127.0.0.1:0"}, tc.env, tc.want)
	}
}
