package netpoll

import (
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// darwin has neither SOCK_NONBLOCK/SOCK_CLOEXEC nor accept4, so the flags
// are set after the fact, holding syscall.ForkLock for reading as the
// standard library does: a fork+exec elsewhere in the process between the
// two calls would otherwise leak the fd into the child.

// socket opens a non-blocking, close-on-exec stream socket.
func socket(family int) (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(family, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// Accept takes one pending connection from a listening socket as a
// non-blocking, close-on-exec fd with TCP_NODELAY set. It returns an error
// IsAgain reports when none is pending.
func Accept(lfd int) (int, netip.AddrPort, error) {
	syscall.ForkLock.RLock()
	fd, sa, err := unix.Accept(lfd)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, netip.AddrPort{}, err
	}
	// accept(2) on darwin does not promise that O_NONBLOCK is inherited;
	// the standard library sets it too.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, netip.AddrPort{}, err
	}
	inheritKeepIdle(lfd, fd)
	return fd, sockaddrToAddrPort(sa), nil
}

// inheritKeepIdle copies the listener's keep-alive idle time: xnu's
// tcp_input copies TCP_NODELAY and the keep-alive interval and count to an
// accepted socket, but not the idle time, which starts at the system's
// default (two hours).
func inheritKeepIdle(lfd, fd int) {
	if idle, err := unix.GetsockoptInt(lfd, unix.IPPROTO_TCP, tcpKeepIdle); err == nil && idle > 0 {
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, tcpKeepIdle, idle)
	}
}
