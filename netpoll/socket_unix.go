//go:build linux || darwin || freebsd

package netpoll

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// ListenConfig sets up the listening socket.
type ListenConfig struct {
	ReusePort bool // SO_REUSEPORT, so several processes share one port
	Backlog   int  // listen backlog; 0 means 4096
	// KeepAlive is the TCP keep-alive idle time, in seconds, of every
	// accepted socket (they inherit it from the listener, so Accept makes
	// no setsockopt for it); 0 leaves keep-alive off.
	KeepAlive int
}

// Listen opens a non-blocking TCP listening socket on addr ("host:port").
func Listen(addr string, cfg ListenConfig) (fd int, bound netip.AddrPort, err error) {
	ap, err := resolve(addr)
	if err != nil {
		return -1, bound, fmt.Errorf("netpoll: listen %s: %w", addr, err)
	}
	fd, err = listenFD(ap, cfg)
	if err != nil {
		return -1, bound, fmt.Errorf("netpoll: listen %s: %w", addr, err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return -1, bound, fmt.Errorf("netpoll: listen %s: %w", addr, err)
	}
	return fd, sockaddrToAddrPort(sa), nil
}

func resolve(addr string) (netip.AddrPort, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ap := ta.AddrPort()
	if !ap.Addr().IsValid() {
		ap = netip.AddrPortFrom(netip.IPv6Unspecified(), ap.Port())
	}
	return ap, nil
}

func listenFD(ap netip.AddrPort, cfg ListenConfig) (int, error) {
	family := unix.AF_INET6
	if ap.Addr().Is4() {
		family = unix.AF_INET
	}
	fd, err := socket(family)
	if err != nil {
		return -1, err
	}
	if err := setupListener(fd, ap, cfg); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func setupListener(fd int, ap netip.AddrPort, cfg ListenConfig) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return err
	}
	if cfg.ReusePort {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, soReusePort, 1); err != nil {
			return err
		}
	}
	if ap.Addr().Is6() {
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
	}
	// Accepted sockets inherit TCP_NODELAY from the listener (Linux, and the
	// BSDs' syncache), which saves Accept a setsockopt per connection;
	// TestAcceptNoDelay pins it.
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return err
	}
	if cfg.KeepAlive > 0 {
		if err := SetKeepAlive(fd, cfg.KeepAlive); err != nil {
			return err
		}
	}
	if err := unix.Bind(fd, addrPortToSockaddr(ap)); err != nil {
		return err
	}
	backlog := cfg.Backlog
	if backlog <= 0 {
		backlog = 4096
	}
	return unix.Listen(fd, backlog)
}

// SetKeepAlive turns on TCP keep-alive with the given idle time in seconds.
func SetKeepAlive(fd, idleSeconds int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1); err != nil {
		return err
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, idleSeconds)
	return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, tcpKeepIdle, idleSeconds)
}

// Read reads what fd has, retrying on EINTR.
func Read(fd int, p []byte) (int, error) {
	for {
		n, err := unix.Read(fd, p)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// maxIovecs bounds one writev; the rest goes in the next call.
const maxIovecs = 64

// Writev writes bufs, less the first skip bytes of bufs[0], with one writev
// call and returns how many bytes went out. It does not allocate: the
// iovecs live on the stack.
func Writev(fd int, bufs [][]byte, skip int) (int, error) {
	var iov [maxIovecs]unix.Iovec
	n := 0
	for i, b := range bufs {
		if n == maxIovecs {
			break
		}
		if i == 0 {
			b = b[skip:]
		}
		if len(b) == 0 {
			continue
		}
		iov[n].Base = &b[0]
		iov[n].SetLen(len(b))
		n++
	}
	if n == 0 {
		return 0, nil
	}
	return writev(fd, iov[:n])
}

// Shutdown half-closes the sending side so the peer reads end of stream.
func Shutdown(fd int) { unix.Shutdown(fd, unix.SHUT_WR) }

// ErrAgain is the error of a call that would block, for callers that
// need to report one themselves; IsAgain reports it.
var ErrAgain error = unix.EAGAIN

// IsAgain reports whether err means the call would block.
func IsAgain(err error) bool { return errors.Is(err, unix.EAGAIN) }

// IsAborted reports whether Accept failed because the connection was reset
// while it waited in the backlog, which says nothing about the next one.
func IsAborted(err error) bool { return errors.Is(err, unix.ECONNABORTED) }

func sockaddrToAddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port))
	}
	return netip.AddrPort{}
}

func addrPortToSockaddr(ap netip.AddrPort) unix.Sockaddr {
	if ap.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
}

// CloseListener closes a listening socket; it is never reused while
// registered, so it needs no deferred close.
func CloseListener(fd int) { unix.Close(fd) }
