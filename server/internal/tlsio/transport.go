package tlsio

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/wsify/wsify/netpoll"
)

// Modes of a Transport.
const (
	modeHandshake uint8 = iota // blocking on a dup, handshake slots taken while working
	modeEvent                  // non-blocking reads, writes buffered for the writer
	modeHandover               // blocking on a dup, owned by fasthttp
	modeDead                   // the connection closed during the handshake
)

// Transport is the net.Conn crypto/tls runs over, in one of two ways.
//
// Blocking (modeHandshake, modeHandover): the TLS handshake, on a goroutine
// of its own, and a connection handed to fasthttp read and write a dup of
// the socket polled by the Go runtime, with deadlines, like any net.Conn.
//
// Event (modeEvent), after the handshake, on the connection's handler and
// writer: Read is non-blocking on the socket and, with nothing to read,
// returns ErrWouldBlock, a temporary net.Error, which crypto/tls hands back
// without recording it (readRecordOrCCS makes only non-temporary read
// errors sticky), so the next Read resumes where this one stopped. Write
// never fails, because crypto/tls records every write error for good
// (Conn.Write ends in c.out.setErrorLocked): the ciphertext is appended to
// out, which the connection's writer moves into its outbox and sends with
// writev under the outbox limit.
type Transport struct {
	fd     int // the connection's socket; read in modeEvent only, by its handler
	local  net.Addr
	remote net.Addr
	slots  chan struct{} // the server's handshake slots; a send takes one

	replay  []byte          // read before the handshake began; returned first. Handshake goroutine, then handler
	raw     syscall.RawConn // of file, in modeHandshake; handshake goroutine only
	holding bool            // the handshake goroutine holds a slot; it alone touches this

	mu   sync.Mutex
	mode uint8    // guarded by mu
	file *os.File // the dup in the blocking modes; guarded by mu
	out  []byte   // ciphertext for the writer, in modeEvent; guarded by mu
}

// New returns the transport of the connection on socket fd; slots are the
// server's handshake slots, shared by every connection.
func New(fd int, slots chan struct{}, local, remote net.Addr) *Transport {
	return &Transport{fd: fd, slots: slots, local: local, remote: remote}
}

// Handshaking reports whether the handshake may run: the connection has
// not closed while its goroutine started.
func (t *Transport) Handshaking() bool {
	mode, _ := t.state()
	return mode == modeHandshake
}

// ErrWouldBlock tells crypto/tls that the socket has nothing more for now.
var ErrWouldBlock net.Error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "tlsio: TLS read would block" }
func (wouldBlock) Timeout() bool   { return false }
func (wouldBlock) Temporary() bool { return true }

// Begin enters modeHandshake on f, replaying hello first.
func (t *Transport) Begin(f *os.File, hello []byte) error {
	raw, err := f.SyscallConn()
	if err != nil {
		return err
	}
	t.replay, t.raw = hello, raw
	t.mu.Lock()
	t.mode, t.file = modeHandshake, f
	t.mu.Unlock()
	return nil
}

// Finish leaves modeHandshake for modeEvent and reports whether the
// connection is still alive.
func (t *Transport) Finish() bool {
	t.release()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mode != modeHandshake {
		return false
	}
	t.file.Close()
	t.mode, t.file, t.raw = modeEvent, nil, nil
	return true
}

// Kill ends a handshake under way when its connection closes: the file's
// close wakes the goroutine blocked on it. Other modes are left alone.
func (t *Transport) Kill() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mode == modeHandshake {
		t.file.Close()
		t.mode, t.file = modeDead, nil
	}
}

// Handover enters modeHandover on f for fasthttp, first sending any
// ciphertext still buffered.
func (t *Transport) Handover(f *os.File) error {
	t.mu.Lock()
	out := t.out
	t.mode, t.file, t.out = modeHandover, f, nil
	t.mu.Unlock()
	f.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := f.Write(out)
	f.SetWriteDeadline(time.Time{})
	return err
}

func (t *Transport) state() (uint8, *os.File) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mode, t.file
}

func (t *Transport) Read(p []byte) (int, error) {
	if len(t.replay) > 0 {
		n := copy(p, t.replay)
		t.replay = t.replay[n:]
		if len(t.replay) == 0 {
			t.replay = nil // let the ClientHello buffer go
		}
		return n, nil
	}
	switch mode, f := t.state(); mode {
	case modeEvent:
		return t.readEvent(p)
	case modeHandshake:
		return t.readHandshake(p)
	case modeHandover:
		return f.Read(p)
	}
	return 0, net.ErrClosed
}

func (t *Transport) readEvent(p []byte) (int, error) {
	n, err := netpoll.Read(t.fd, p)
	if netpoll.IsAgain(err) {
		return 0, ErrWouldBlock
	}
	return ReadResult(n, err)
}

// readHandshake reads the dup, giving the handshake slot back while it
// waits for the client, so a client that stalls mid-handshake holds a
// parked goroutine but no slot, and taking one again before crypto/tls
// works on what arrived.
func (t *Transport) readHandshake(p []byte) (n int, err error) {
	werr := t.raw.Read(func(fd uintptr) bool {
		n, err = netpoll.Read(int(fd), p)
		if netpoll.IsAgain(err) {
			t.release()
			return false
		}
		return true
	})
	if werr != nil {
		return 0, werr
	}
	if err == nil && n > 0 {
		t.Hold()
	}
	return ReadResult(n, err)
}

// ReadResult gives a read of the socket io.Reader's terms: a read of
// nothing without an error is the end of the stream.
func ReadResult(n int, err error) (int, error) {
	switch {
	case err != nil:
		return 0, err
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Hold takes a handshake slot unless the goroutine has one.
func (t *Transport) Hold() {
	if !t.holding {
		t.slots <- struct{}{}
		t.holding = true
	}
}

// release gives the slot back, if held.
func (t *Transport) release() {
	if t.holding {
		<-t.slots
		t.holding = false
	}
}

func (t *Transport) Write(p []byte) (int, error) {
	t.mu.Lock()
	switch mode, f := t.mode, t.file; mode {
	case modeEvent:
		t.out = append(t.out, p...)
		t.mu.Unlock()
		return len(p), nil
	case modeHandshake, modeHandover:
		t.mu.Unlock()
		return f.Write(p)
	}
	t.mu.Unlock()
	return 0, net.ErrClosed
}

// Take returns the buffered ciphertext; the transport keeps no buffer.
func (t *Transport) Take() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.out
	t.out = nil
	return out
}

// Lend gives the transport buf (emptied) to append ciphertext to, unless it
// already holds some.
func (t *Transport) Lend(buf []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.out) == 0 {
		t.out = buf[:0]
	}
}

// Buffered reports whether ciphertext waits for the writer.
func (t *Transport) Buffered() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.out) > 0
}

// Close closes the dup in the blocking modes; in modeEvent the socket
// belongs to the connection, which closes it.
func (t *Transport) Close() error {
	if _, f := t.state(); f != nil {
		return f.Close()
	}
	return nil
}

func (t *Transport) LocalAddr() net.Addr  { return t.local }
func (t *Transport) RemoteAddr() net.Addr { return t.remote }

func (t *Transport) SetDeadline(d time.Time) error {
	if _, f := t.state(); f != nil {
		return f.SetDeadline(d)
	}
	return nil
}

func (t *Transport) SetReadDeadline(d time.Time) error {
	if _, f := t.state(); f != nil {
		return f.SetReadDeadline(d)
	}
	return nil
}

func (t *Transport) SetWriteDeadline(d time.Time) error {
	if _, f := t.state(); f != nil {
		return f.SetWriteDeadline(d)
	}
	return nil
}
