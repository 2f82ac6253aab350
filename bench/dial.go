package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// dialer opens WebSocket connections from a rotation of source addresses.
type dialer struct {
	url string
	ws  []ws.Dialer // one per source address
}

func newDialer(addr string, sources []string, timeout time.Duration) *dialer {
	d := &dialer{url: "ws://" + addr + "/ws"}
	for _, s := range sources {
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(s)}, Control: bindNoPort}
		d.ws = append(d.ws, ws.Dialer{Timeout: timeout, NetDial: nd.DialContext})
	}
	return d
}

// bindNoPort lets connect, not bind, pick the source port, so a port is
// only taken per (source, destination) pair.
func bindNoPort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = setBindNoPort(int(fd))
	})
	return errors.Join(err, serr)
}

// dial opens connection number i (its source address is i modulo the
// sources) and returns it with any bytes the server sent behind the 101.
func (d *dialer) dial(i int) (net.Conn, []byte, error) {
	c, br, _, err := d.ws[i%len(d.ws)].Dial(context.Background(), d.url)
	if err != nil {
		return nil, nil, err
	}
	var pending []byte
	if br != nil {
		pending, _ = br.Peek(br.Buffered())
		pending = append([]byte(nil), pending...)
		ws.PutReader(br)
	}
	return c, pending, nil
}

// detach takes the socket away from the Go runtime: it returns a duplicate
// fd (non-blocking, as the file description is) and closes the original,
// which unregisters it from the runtime's poller, so the worker's own epoll
// loop owns it alone.
func detach(c net.Conn) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		c.Close()
		return -1, fmt.Errorf("bench: %T has no fd", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		c.Close()
		return -1, fmt.Errorf("bench: detach: %w", err)
	}
	fd, derr := -1, error(nil)
	err = raw.Control(func(f uintptr) { fd, derr = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0) })
	c.Close()
	if err = errors.Join(err, derr); err != nil {
		return -1, fmt.Errorf("bench: detach: %w", err)
	}
	return fd, nil
}

// failReason names a dial error for the report.
func failReason(err error) string {
	var se ws.StatusError
	var errno syscall.Errno
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("http_%d", int(se))
	case errors.As(err, &errno):
		return errno.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT), isTimeout(err):
		return "timeout"
	}
	return "other"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
