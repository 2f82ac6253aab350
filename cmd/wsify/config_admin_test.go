package main

import (
	"io"
	"testing"
)

// TestAdminAddrFromEnvAndFlag: WSIFY_ADMIN_ADDR sets the admin address,
// --admin-addr wins over it, and neither set leaves it empty (one port).
func TestAdminAddrFromEnvAndFlag(t *testing.T) {
	for _, tc := range []struct {
		env  string
		args []string
		want string
	}{
		{"", nil, ""},
		{"127.0.0.1:9100", nil, "127.0.0.1:9100"},
		{"127.0.0.1:9100", []string{"--admin-addr", ":9200"}, ":9200"},
	} {
		o, err := parseOptions(tc.args, mapEnv("WSIFY_ADMIN_ADDR="+tc.env), io.Discard)
		if err != nil || o.server.AdminAddr != tc.want {
			t.Errorf("env %q args %q: admin %q (%v), want %q", tc.env, tc.args, o.server.AdminAddr, err, tc.want)
		}
	}
}
