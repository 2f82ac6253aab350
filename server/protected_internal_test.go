package server

import (
	"net"
	"testing"
)

// TestLoopbackIsDecidedByTheAddressOnly: protected mode trusts
// 127.0.0.0/8 and ::1, IPv4-mapped or not, and nothing else.
func TestLoopbackIsDecidedByTheAddressOnly(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "127.1.2.3": true, "::1": true, "::ffff:127.0.0.1": true,
		"192.0.2.2": false, "10.0.0.1": false, "0.0.0.0": false, "::": false,
		"::ffff:10.0.0.1": false, "fd00::2": false, "fe80::1": false, "128.0.0.1": false,
	} {
		if got := isLoopback(&net.TCPAddr{IP: net.ParseIP(addr), Port: 1}); got != want {
			t.Errorf("%s: loopback %v, want %v", addr, got, want)
		}
	}
	if isLoopback(&net.UnixAddr{Name: "/tmp/x", Net: "unix"}) || isLoopback(nil) {
		t.Error("an address without an IP counted as loopback")
	}
}
