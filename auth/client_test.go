package auth_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wsify/wsify/auth"
)

// TestUnreachableAuthorizerErrorHidesCredentials: the error names the
// authorizer, and it is logged, but its URL's credentials stay out.
func TestUnreachableAuthorizerErrorHidesCredentials(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := auth.New(auth.Config{URL: "http://SECRETUSER:SECRETPW@" + addr + "/auth", Timeout: 200 * time.Millisecond})
	err = c.Authorize([]byte(`{}`))
	if err == nil || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("Authorize: %v; want an error naming %s without the credentials", err, addr)
	}
}
