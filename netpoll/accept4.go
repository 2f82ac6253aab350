//go:build linux || freebsd

package netpoll

import (
	"net/netip"

	"golang.org/x/sys/unix"
)

// socket opens a non-blocking, close-on-exec stream socket in one call.
func socket(family int) (int, error) {
	return unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

// Accept takes one pending connection from a listening socket as a
// non-blocking, close-on-exec fd with TCP_NODELAY set. It returns an error
// IsAgain reports when none is pending.
func Accept(lfd int) (int, netip.AddrPort, error) {
	fd, sa, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		return -1, netip.AddrPort{}, err
	}
	return fd, sockaddrToAddrPort(sa), nil
}
