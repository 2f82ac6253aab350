//go:build linux || darwin || freebsd

package handoff

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"golang.org/x/sys/unix"
)

// Link is one end of a control connection: messages with descriptors
// attached. Send may be called from any goroutine; Recv from one at a
// time.
type Link struct {
	c      *net.UnixConn
	sendMu sync.Mutex // one message at a time on the socket

	// Recv's state: bytes read and not yet returned, and descriptors
	// received and not yet claimed by a message, in order.
	in  []byte // l.in[l.off:] is unread
	off int
	fds []int
	oob []byte
}

// NewLink wraps a connected Unix stream socket.
func NewLink(c *net.UnixConn) *Link {
	return &Link{c: c, oob: make([]byte, unix.CmsgSpace(4*(MaxFDs+3)))}
}

// Dial connects to the control socket at path.
func Dial(path string) (*Link, error) {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("handoff: connect to %s: %w", path, err)
	}
	return NewLink(c), nil
}

// Conn is the socket under the link.
func (l *Link) Conn() *net.UnixConn { return l.c }

// Close closes the link and every descriptor received and not claimed.
func (l *Link) Close() error {
	for _, fd := range l.fds {
		unix.Close(fd)
	}
	l.fds = nil
	return l.c.Close()
}

// Send writes one message, fds attached to its first byte. It returns once
// the kernel holds the descriptors: the caller may close its copies.
func (l *Link) Send(k Kind, payload []byte, fds []int) error {
	if len(fds) > MaxFDs || len(payload) > MaxPayload {
		return fmt.Errorf("handoff: message of %d descriptors and %d bytes is too large", len(fds), len(payload))
	}
	msg := append(AppendHeader(make([]byte, 0, HeaderLen+len(payload)), k, len(fds), len(payload)), payload...)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	n, _, err := l.c.WriteMsgUnix(msg, oob, nil)
	if err == nil && n < len(msg) { // a stream socket may take part; the descriptors went with it
		_, err = l.c.Write(msg[n:])
	}
	if err != nil {
		return fmt.Errorf("handoff: send: %w", err)
	}
	return nil
}

// Message is a message received: its payload is valid until the next
// Recv; its descriptors are the caller's.
type Message struct {
	Kind    Kind
	Payload []byte
	FDs     []int
}

// Recv reads the next message.
func (l *Link) Recv() (Message, error) {
	if l.off > 0 {
		l.in = l.in[:copy(l.in, l.in[l.off:])]
		l.off = 0
	}
	for {
		h, err := ParseHeader(l.in)
		if err != nil && !errors.Is(err, errShort) {
			return Message{}, err
		}
		if err == nil && len(l.in) >= HeaderLen+h.Len {
			return l.take(h)
		}
		if err := l.read(); err != nil {
			return Message{}, err
		}
	}
}

// take returns the complete message at the start of l.in with its
// descriptors, which arrived with its first byte or before.
func (l *Link) take(h Header) (Message, error) {
	if len(l.fds) < h.FDs {
		return Message{}, fmt.Errorf("handoff: a message of %d descriptors came with %d", h.FDs, len(l.fds))
	}
	m := Message{Kind: h.Kind, Payload: l.in[HeaderLen : HeaderLen+h.Len]}
	if h.FDs > 0 {
		m.FDs = append([]int(nil), l.fds[:h.FDs]...)
		l.fds = l.fds[:copy(l.fds, l.fds[h.FDs:])]
	}
	l.off = HeaderLen + h.Len
	return m, nil
}

// readChunk is the room one read gets at least.
const readChunk = 256 << 10

// read appends what the socket has to l.in and the descriptors that came
// with it to l.fds.
func (l *Link) read() error {
	if cap(l.in)-len(l.in) < readChunk {
		l.in = append(make([]byte, 0, 2*cap(l.in)+readChunk), l.in...)
	}
	n, oobn, flags, _, err := l.c.ReadMsgUnix(l.in[len(l.in):cap(l.in)], l.oob)
	if oobn > 0 {
		if perr := l.keepFDs(l.oob[:oobn]); perr != nil && err == nil {
			err = perr
		}
	}
	l.in = l.in[:len(l.in)+max(n, 0)]
	switch {
	case err != nil:
		return fmt.Errorf("handoff: receive: %w", err)
	case flags&unix.MSG_CTRUNC != 0:
		return errors.New("handoff: receive: descriptors cut off (control buffer too small)")
	case n == 0 && oobn == 0:
		return fmt.Errorf("handoff: receive: %w", io.EOF)
	}
	return nil
}

func (l *Link) keepFDs(oob []byte) error {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return fmt.Errorf("handoff: control message: %w", err)
	}
	for i := range msgs {
		fds, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			continue // not descriptors
		}
		l.fds = append(l.fds, fds...)
	}
	return nil
}
