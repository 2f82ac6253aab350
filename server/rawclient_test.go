package server_test

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/wsify/wsify/server"
)

// The raw client speaks WebSocket by hand so tests can send what no
// well-behaved library would: unmasked frames, reserved bits and opcodes,
// lying lengths, frames cut at any byte.

// Opcodes, spelled out so the frames in tests read like the RFC.
const (
	opCont   byte = 0x0
	opText   byte = 0x1
	opBinary byte = 0x2
	opClose  byte = 0x8
	opPing   byte = 0x9
	opPong   byte = 0xA
)

// rawTimeout bounds every raw read, so a missing reply fails the test
// instead of hanging it.
const rawTimeout = 5 * time.Second

// handshakeRequest is a valid upgrade request for the server at addr,
// with the extra header lines given.
func handshakeRequest(addr string, extra ...string) []byte {
	req := "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for _, line := range extra {
		req += line + "\r\n"
	}
	return []byte(req + "\r\n")
}

// rawConn is a hand-driven client connection.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

// plainDial opens a plain TCP connection to s, closed with the test.
func plainDial(t testing.TB, s *server.Server) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

func newRawConn(t testing.TB, nc net.Conn) *rawConn {
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// rawDialTCP connects without a handshake.
func rawDialTCP(t testing.TB, s *server.Server) *rawConn {
	t.Helper()
	return newRawConn(t, plainDial(t, s))
}

// rawDial connects and completes the handshake.
func rawDial(t testing.TB, s *server.Server) *rawConn {
	t.Helper()
	r := rawDialTCP(t, s)
	r.handshake()
	return r
}

// handshake sends an upgrade request with the extra header lines given and
// checks the answer is a 101, which it returns.
func (r *rawConn) handshake(extra ...string) *http.Response {
	r.t.Helper()
	r.write(handshakeRequest(r.nc.RemoteAddr().String(), extra...))
	return r.expectUpgrade()
}

// expectUpgrade reads the response head and checks it is a 101.
func (r *rawConn) expectUpgrade() *http.Response {
	r.t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(rawTimeout))
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil {
		r.t.Fatalf("read handshake response: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		r.t.Fatalf("handshake: got status %d, want 101", resp.StatusCode)
	}
	return resp
}

// write writes each of bs with a write call of its own.
func (r *rawConn) write(bs ...[]byte) {
	r.t.Helper()
	for _, b := range bs {
		r.nc.SetWriteDeadline(time.Now().Add(rawTimeout))
		if _, err := r.nc.Write(b); err != nil {
			r.t.Fatalf("write: %v", err)
		}
	}
}

// trickle writes b one byte at a time with a pause between bytes, as a
// slow network would deliver it.
func (r *rawConn) trickle(b []byte, pause time.Duration) {
	r.t.Helper()
	for i := range b {
		r.write(b[i : i+1])
		time.Sleep(pause)
	}
}

// frameSpec describes a client frame. The zero value of its options gives
// a well-formed masked final frame.
type frameSpec struct {
	op       byte
	payload  []byte
	more     bool   // clear FIN: more fragments follow
	rsv      byte   // RSV1..3 bits, 0..7
	unmasked bool   // omit the mask a client must send
	length   uint64 // declared length when nonzero, instead of len(payload)
	len64    bool   // use the 8-byte length form whatever the length
}

var testMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// encode builds the frame's bytes, masking the payload unless told not to.
func (f frameSpec) encode() []byte {
	b0 := f.op | f.rsv<<4
	if !f.more {
		b0 |= 0x80
	}
	n := f.length
	if n == 0 {
		n = uint64(len(f.payload))
	}
	b := appendLength([]byte{b0}, n, f.len64)
	if f.unmasked {
		return append(b, f.payload...)
	}
	b[1] |= 0x80
	b = append(b, testMask[:]...)
	for i, c := range f.payload {
		b = append(b, c^testMask[i%4])
	}
	return b
}

func appendLength(b []byte, n uint64, len64 bool) []byte {
	switch {
	case n < 126 && !len64:
		return append(b, byte(n))
	case n <= 0xffff && !len64:
		return binary.BigEndian.AppendUint16(append(b, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 127), n)
	}
}

// frame is shorthand for a final masked frame.
func frame(op byte, payload string) []byte {
	return frameSpec{op: op, payload: []byte(payload)}.encode()
}

// fragment is shorthand for a masked frame with FIN cleared.
func fragment(op byte, payload string) []byte {
	return frameSpec{op: op, payload: []byte(payload), more: true}.encode()
}

// fragments cuts msg at the given offsets into the frames of one
// fragmented message: the first carries op, the others are continuations,
// the last is final. Equal offsets make an empty fragment.
func fragments(op byte, msg string, cuts ...int) [][]byte {
	var frames [][]byte
	prev := 0
	for _, cut := range cuts {
		frames = append(frames, fragment(op, msg[prev:cut]))
		op, prev = opCont, cut
	}
	return append(frames, frame(op, msg[prev:]))
}

// closeBody is a close frame payload: a code and a reason.
func closeBody(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// serverFrame is a frame read from the server.
type serverFrame struct {
	fin     bool
	op      byte
	payload []byte
}

// closeCode is the code a close frame carries, 1005 when it has none.
func (f serverFrame) closeCode() int {
	if len(f.payload) < 2 {
		return 1005
	}
	return int(binary.BigEndian.Uint16(f.payload))
}

// readFrame reads one server frame without RSV bits.
func (r *rawConn) readFrame() (serverFrame, error) {
	b0, payload, err := r.readWireFrame()
	f := serverFrame{fin: b0&0x80 != 0, op: b0 & 0x0f, payload: payload}
	if err == nil && b0&0x70 != 0 {
		err = fmt.Errorf("server frame with RSV bits: %#x", b0)
	}
	return f, err
}

// readWireFrame reads one server frame whatever its RSV bits, returning
// its first byte and payload; server frames are never masked.
func (r *rawConn) readWireFrame() (byte, []byte, error) {
	r.nc.SetReadDeadline(time.Now().Add(rawTimeout))
	var h [2]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 != 0 {
		return h[0], nil, fmt.Errorf("masked server frame: % x", h)
	}
	n, err := r.readLength(h[1] & 0x7f)
	if err != nil {
		return h[0], nil, err
	}
	p := make([]byte, n)
	_, err = io.ReadFull(r.br, p)
	return h[0], p, err
}

func (r *rawConn) readLength(l byte) (uint64, error) {
	var ext []byte
	switch l {
	case 126:
		ext = make([]byte, 2)
	case 127:
		ext = make([]byte, 8)
	default:
		return uint64(l), nil
	}
	if _, err := io.ReadFull(r.br, ext); err != nil {
		return 0, err
	}
	if len(ext) == 2 {
		return uint64(binary.BigEndian.Uint16(ext)), nil
	}
	return binary.BigEndian.Uint64(ext), nil
}

// expectFrame reads one frame and checks its opcode and payload.
func (r *rawConn) expectFrame(op byte, payload string) {
	r.t.Helper()
	f, err := r.readFrame()
	if err != nil {
		r.t.Fatalf("read frame: %v", err)
	}
	if !f.fin || f.op != op || string(f.payload) != payload {
		r.t.Fatalf("got frame fin=%v op=%#x %q, want op=%#x %q", f.fin, f.op, f.payload, op, payload)
	}
}

// expectText reads one text message.
func (r *rawConn) expectText(want string) {
	r.t.Helper()
	r.expectFrame(opText, want)
}

// expectClose reads until a close frame, checks its code, then checks the
// server closes the TCP connection.
func (r *rawConn) expectClose(code int) {
	r.t.Helper()
	for {
		f, err := r.readFrame()
		if err != nil {
			r.t.Fatalf("want close %d, got %v", code, err)
		}
		if f.op != opClose {
			continue
		}
		if got := f.closeCode(); got != code {
			r.t.Fatalf("want close %d, got %d (%q)", code, got, f.payload[min(2, len(f.payload)):])
		}
		r.expectEOF()
		return
	}
}

// expectEOF checks that the server closed the TCP connection and sends
// nothing more.
func (r *rawConn) expectEOF() {
	r.t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(rawTimeout))
	n, err := r.br.Read(make([]byte, 1))
	if n == 0 && isClosed(err) {
		return
	}
	r.t.Fatalf("want the connection closed, got %d bytes, %v", n, err)
}

// isClosed reports whether err means the peer closed the connection.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// dialSmallWindow connects with a tiny receive buffer set before connect,
// so the kernel cannot hide a client that does not read behind megabytes
// of window.
func dialSmallWindow(t testing.TB, s *server.Server) *rawConn {
	t.Helper()
	r := newRawConn(t, dialSmallWindowTCP(t, s))
	r.handshake()
	return r
}
