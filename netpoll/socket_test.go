package netpoll

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wsify/wsify/internal/testutil"
)

// TestAcceptNoDelay: Accept reports IsAgain with nothing pending, and the
// socket it returns has TCP_NODELAY and the keep-alive settings, which it
// inherits from the listener.
func TestAcceptNoDelay(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		lfd, bound, err := Listen(addr, ListenConfig{KeepAlive: 37})
		if err != nil {
			t.Fatal(err)
		}
		defer CloseListener(lfd)
		if _, _, err := Accept(lfd); !IsAgain(err) {
			t.Fatalf("%s: Accept with nothing pending: %v, want EAGAIN", addr, err)
		}
		c, err := net.Dial("tcp", bound.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fd := acceptOne(t, lfd)
		defer unix.Close(fd)
		if v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY); err != nil || v == 0 {
			t.Fatalf("%s: accepted socket TCP_NODELAY %d (%v), want on", addr, v, err)
		}
		on, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE)
		idle, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, tcpKeepIdle)
		intvl, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL)
		if on == 0 || idle != 37 || intvl != 37 {
			t.Fatalf("%s: accepted socket keep-alive %d, idle %d, interval %d; want on, 37, 37", addr, on, idle, intvl)
		}
	}
}

func acceptOne(t *testing.T, lfd int) int {
	t.Helper()
	fd := -1
	testutil.Eventually(t, "a connection to accept", func() bool {
		var err error
		fd, _, err = Accept(lfd)
		if err != nil && !IsAgain(err) {
			t.Fatal(err)
		}
		return err == nil
	})
	return fd
}
