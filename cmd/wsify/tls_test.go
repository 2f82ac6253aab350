package main

import (
	"io"
	"os"
	"os/exec"
	"strings"
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
	for _, tc := range []struct{ env, want string }{
		{"WSIFY_TLS_CERT=" + missing, "TLS needs both"},
		{"WSIFY_TLS_CERT=" + missing + "\x00WSIFY_TLS_KEY=" + missing, "load TLS certificate"},
	} {
		cmd := exec.Command(binary, "--listen-addr", "127.0.0.1:0")
		cmd.Env = append(os.Environ(), strings.Split(tc.env, "\x00")...)
		out, err := cmd.CombinedOutput()
		if code := exitCode(err); code == 0 || !strings.Contains(string(out), tc.want) {
			t.Errorf("%q: exit %d, output %q; want a failure saying %q", tc.env, code, out, tc.want)
		}
	}
}
