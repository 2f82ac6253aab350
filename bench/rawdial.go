package bench

import (
	"bytes"
	"fmt"
	"net/netip"
	"time"

	"github.com/gobwas/ws"
	"github.com/wsify/wsify/netpoll"
	"golang.org/x/sys/unix"
)

// rawConn is a blocking socket driven by plain syscalls: for connection
// churn it costs the client far less than a net.Conn (no poller
// registration, no EAGAIN round trips, no deadline timers), so more of the
// box is left to the server. Timeouts are SO_RCVTIMEO/SO_SNDTIMEO.
type rawConn struct {
	fd int
	frameReader
}

// rawHandshake is the upgrade request; its key is RFC 6455's sample, so
// the expected Sec-WebSocket-Accept is known in advance.
func rawHandshake(addr string) []byte {
	return []byte("GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
}

var rawAccept = []byte("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n")

// rawDial connects from src to dst and upgrades with req.
func rawDial(src netip.Addr, dst netip.AddrPort, req []byte, timeout time.Duration) (*rawConn, error) {
	fd, err := cloexecSocket()
	if err != nil {
		return nil, err
	}
	c := &rawConn{fd: fd}
	c.r = c // frames come through Read below
	tv := unix.NsecToTimeval(timeout.Nanoseconds())
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	setBindNoPort(fd)
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if err = unix.Bind(fd, &unix.SockaddrInet4{Addr: src.As4()}); err == nil {
		err = connect(fd, &unix.SockaddrInet4{Addr: dst.Addr().As4(), Port: int(dst.Port())}, timeout)
	}
	if err == nil {
		err = c.write(req)
	}
	if err == nil {
		err = c.upgraded()
	}
	if err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// upgraded reads the response head and checks the 101 and the accept key.
func (c *rawConn) upgraded() error {
	for {
		if end := bytes.Index(c.buf, []byte("\r\n\r\n")); end >= 0 {
			head := c.buf[:end+2]
			c.buf = c.buf[end+4:]
			if !bytes.HasPrefix(head, []byte("HTTP/1.1 101 ")) {
				status := 0
				fmt.Sscanf(string(head), "HTTP/1.1 %d", &status)
				return ws.StatusError(status)
			}
			if !bytes.Contains(head, rawAccept) {
				return ws.ErrHandshakeBadSecAccept
			}
			return nil
		}
		if err := c.fill(); err != nil {
			return err
		}
	}
}

// connect connects fd. A socket call with a timeout is not restarted
// after a signal (the Go runtime's preemption signal included): on EINTR
// the connect goes on in the background, so wait for it and read its
// outcome.
func connect(fd int, sa unix.Sockaddr, timeout time.Duration) error {
	if err := unix.Connect(fd, sa); err != unix.EINTR {
		return err
	}
	for {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(pfd, int(timeout.Milliseconds()))
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return err
		case n == 0:
			return unix.ETIMEDOUT
		}
		v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err == nil && v != 0 {
			err = unix.Errno(v)
		}
		return err
	}
}

// Read is one read from the socket, an end of stream being an error.
func (c *rawConn) Read(p []byte) (int, error) {
	n, err := netpoll.Read(c.fd, p)
	switch {
	case err == unix.EAGAIN:
		return 0, unix.ETIMEDOUT // SO_RCVTIMEO expired
	case err != nil:
		return 0, err
	case n == 0:
		return 0, unix.ECONNRESET
	}
	return n, nil
}

func (c *rawConn) write(b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(c.fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func (c *rawConn) close() { unix.Close(c.fd) }
