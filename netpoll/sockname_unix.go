//go:build linux || darwin || freebsd

package netpoll

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// SockName is the address a socket is bound to, such as a listening
// socket received from another process.
func SockName(fd int) (netip.AddrPort, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("netpoll: getsockname: %w", err)
	}
	ap := sockaddrToAddrPort(sa)
	if !ap.IsValid() {
		return ap, fmt.Errorf("netpoll: socket %d is not a TCP socket", fd)
	}
	return ap, nil
}
