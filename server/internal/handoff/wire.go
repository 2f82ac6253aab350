package handoff

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Kind says what a message carries.
type Kind byte

// The kinds of message, in the order a handoff sends them. The giving
// process sends Hello, Listener, History, Conns, Pub, Done and End; the
// taking one sends Hello, Switched, Ack and Ready; either may send Refuse
// instead of its Hello.
const (
	KindHello    Kind = 'H' // the protocol version, first each way
	KindRefuse   Kind = 'R' // why the other side is refused; the link closes
	KindListener Kind = 'L' // a listening socket (one descriptor)
	KindHistory  Kind = 'Y' // channel histories the giving process keeps
	KindConns    Kind = 'C' // connections, one descriptor each
	KindPub      Kind = 'P' // a publication the giving process queued
	KindDone     Kind = 'D' // every connection that could go has gone
	KindAck      Kind = 'A' // a publication that asked for it was delivered
	KindReady    Kind = 'K' // the taking process serves; the giving one may go
	// With a networked broker, after Done: the taking process takes its
	// broker's messages now (Switched); the giving one passes on nothing
	// more (End).
	KindSwitched Kind = 'S'
	KindEnd      Kind = 'E'
)

// HeaderLen is the size of a message header.
const HeaderLen = 7

// MaxFDs bounds the descriptors of one message: Linux takes at most 253
// in one sendmsg (SCM_MAX_FD).
const MaxFDs = 250

// MaxPayload bounds a payload: a batch of connections with full outboxes
// and partly read messages stays far below it.
const MaxPayload = 1 << 28

var errShort = errors.New("handoff: message cut short")

// Header is a parsed message header.
type Header struct {
	Kind Kind
	FDs  int
	Len  int
}

// AppendHeader appends the header of a message.
func AppendHeader(dst []byte, k Kind, fds, payload int) []byte {
	dst = append(dst, byte(k))
	dst = binary.BigEndian.AppendUint16(dst, uint16(fds))
	return binary.BigEndian.AppendUint32(dst, uint32(payload))
}

// ParseHeader parses the header at the start of b.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, errShort
	}
	h := Header{Kind: Kind(b[0]), FDs: int(binary.BigEndian.Uint16(b[1:])), Len: int(binary.BigEndian.Uint32(b[3:]))}
	switch {
	case h.FDs > MaxFDs:
		return h, fmt.Errorf("handoff: %d descriptors in one message, at most %d", h.FDs, MaxFDs)
	case h.Len > MaxPayload:
		return h, fmt.Errorf("handoff: a payload of %d bytes, at most %d", h.Len, MaxPayload)
	}
	return h, nil
}

// enc appends the fields of a payload.
type enc struct{ b []byte }

func (e *enc) uint(v uint64)   { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) int(v int64)     { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) bytes(p []byte)  { e.uint(uint64(len(p))); e.b = append(e.b, p...) }
func (e *enc) string(s string) { e.uint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *enc) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

// dec reads the fields of a payload; the first error sticks and every
// later read returns a zero value.
type dec struct {
	b   []byte
	err error
}

func (d *dec) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *dec) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) int() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes returns a copy: the payload's buffer is reused for the next message.
func (d *dec) bytes() []byte {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail(errShort)
		return nil
	}
	if n == 0 {
		return nil
	}
	p := append([]byte(nil), d.b[:n]...)
	d.b = d.b[n:]
	return p
}

func (d *dec) string() string {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail(errShort)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *dec) bool() bool {
	if len(d.b) == 0 {
		d.fail(errShort)
		return false
	}
	v := d.b[0]
	d.b = d.b[1:]
	if v > 1 {
		d.fail(errors.New("handoff: a boolean that is neither 0 nor 1"))
	}
	return v == 1
}

// count reads a number of items, each at least min bytes long, so that a
// declared count never makes the decoder allocate more than the payload
// could hold.
func (d *dec) count(min int) int {
	n := d.uint()
	if n > uint64(len(d.b)/max(1, min)) {
		d.fail(errShort)
		return 0
	}
	return int(n)
}

// end reports the sticky error, or trailing bytes as one.
func (d *dec) end() error {
	if d.err == nil && len(d.b) > 0 {
		return fmt.Errorf("handoff: %d bytes after the last field", len(d.b))
	}
	return d.err
}
