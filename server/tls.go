package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/wsify/wsify/netpoll"
	"github.com/wsify/wsify/server/internal/tlsio"
)

// TLS on the event loop. With Config.TLSCertFile and TLSKeyFile set the
// listener speaks TLS only, and a connection goes through three stages:
//
//  1. ClientHello (handler, no goroutine): the bytes are collected from the
//     non-blocking socket until a whole ClientHello is in (tlsio.HelloDone).
//     A plain HTTP request gets a plain 400, other garbage is dropped.
//  2. Handshake (a goroutine of its own, gone when it ends): crypto/tls's
//     handshake is a blocking state machine whose errors are sticky, so it
//     cannot be fed by readiness. The connection is paused (no reads, as
//     while the authorizer is asked), the socket is dup'ed into the Go
//     runtime's poller with the connection's handshake deadline, and
//     tls.Conn.Handshake runs over it. CPU work needs one of
//     Config.TLSHandshakes slots; waiting for the client needs none, so a
//     client that stalls mid-handshake holds a parked goroutine and a
//     second fd until the deadline, but no slot, and others go on.
//  3. Open (handler and writer, no goroutine): reads are readiness-driven
//     through tls.Conn.Read over a non-blocking transport, and writes are
//     encrypted per connection on the writer (tls_write.go).
//
// A request that is not GET /ws goes to fasthttp as the tls.Conn itself,
// its transport switched back to a blocking dup (tlsio.Transport.Handover).
//
// Cost (tls_bench_test.go, 2 cores, clients in another process): an idle
// TLS connection holds about 9 KiB of heap against 0.7 KiB for plain TCP,
// and no goroutine. crypto/tls keeps, for the connection's life, its input
// buffer (rawInput, sized by the largest record read plus 512 bytes: a
// connection whose client once sent 64 KiB holds 15.7 KiB in all) and its
// handshake buffer (sized by the ClientHello); neither can be released
// from outside. Its output buffers are pooled per record, and so are the
// ciphertext buffers here, so an idle connection holds none. The two
// AES-GCM states take about 1.3 KiB. A handshake stalled after its
// ClientHello costs 27 to 37 KiB, a goroutine and a second fd until the
// handshake timeout. A delivery costs the server 0.7 to 1.2 µs more CPU
// for 128-byte messages and 1.7 to 2.7 µs more for 2 KiB ones (plain TCP:
// 2 to 3 and 2.7 to 3.7 µs a delivery, mostly the writev; runs vary with
// the machine's load), since every subscriber's copy is encrypted on its
// own.

// tlsServer is the TLS side of a Server; nil on a plain listener.
type tlsServer struct {
	config *tls.Config
	slots  chan struct{} // handshake slots: a send takes one
}

// setupTLS loads the certificate when the config names one.
func (s *Server) setupTLS() error {
	if s.cfg.TLSCertFile == "" {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
	if err != nil {
		return fmt.Errorf("server: load TLS certificate: %w", err)
	}
	s.tls = &tlsServer{
		config: &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"http/1.1"},
			// Full-size records from the first byte: the ramp-up of
			// dynamic sizing helps web pages, not a stream of messages.
			DynamicRecordSizingDisabled: true,
		},
		slots: make(chan struct{}, s.cfg.TLSHandshakes),
	}
	return nil
}

// tlsState is the TLS layer of one connection.
type tlsState struct {
	tr       *tlsio.Transport
	conn     *tls.Conn   // built when the ClientHello is complete
	hello    []byte      // the ClientHello as it arrives; handler only
	deadline time.Time   // when the handshake timeout ends (accept + HandshakeTimeout)
	ready    atomic.Bool // the handshake succeeded: tls.Conn reads and writes

	// more is set by the handler when its last Read returned data, so that
	// crypto/tls may hold more (a record larger than the buffer, or records
	// read ahead) that no epoll event will announce. settleLocked reads it
	// under c.mu once the handler is idle.
	more bool

	buf *cipherBuf // buffer of the latest ciphertext; writer only
}

// newTLSConn gives a connection accepted on a TLS listener its TLS layer.
func (s *Server) newTLSConn(c *conn) {
	c.tls = &tlsState{
		tr:       tlsio.New(c.fd, s.tls.slots, net.TCPAddrFromAddrPort(s.addr), net.TCPAddrFromAddrPort(c.remote)),
		deadline: time.Now().Add(s.cfg.HandshakeTimeout),
	}
}

// readTLSSocket reads decrypted bytes once the handshake is done, and
// collects the ClientHello before. It returns netpoll.ErrAgain when there is
// nothing (more) for now.
func (c *conn) readTLSSocket(p []byte) (int, error) {
	if c.tls.ready.Load() {
		return c.readTLS(p)
	}
	return 0, c.readHello()
}

// readTLS reads plaintext. crypto/tls may write on its own while reading
// (the answer to a KeyUpdate); an empty frame then gets the writer to send
// that ciphertext.
func (c *conn) readTLS(p []byte) (int, error) {
	t := c.tls
	n, err := t.conn.Read(p)
	t.more = n > 0
	if t.tr.Buffered() {
		c.send(nil)
	}
	switch {
	case n > 0:
		return n, nil
	case errors.Is(err, tlsio.ErrWouldBlock):
		return 0, netpoll.ErrAgain
	case err == nil:
		return 0, io.ErrNoProgress
	}
	return 0, err
}

// readHello collects the ClientHello and starts the handshake once it is
// complete. Any error ends the connection.
func (c *conn) readHello() error {
	t := c.tls
	for {
		if len(t.hello) == cap(t.hello) {
			t.hello = append(make([]byte, 0, max(tlsio.HelloBufferStart, 2*cap(t.hello))), t.hello...)
		}
		n, err := tlsio.ReadResult(netpoll.Read(c.fd, t.hello[len(t.hello):cap(t.hello)]))
		if err != nil {
			return err // netpoll.ErrAgain until the rest comes
		}
		t.hello = t.hello[:len(t.hello)+n]
		if done, err := c.helloDone(); done || err != nil {
			return err
		}
	}
}

// helloDone checks what was collected and starts the handshake once the
// ClientHello is whole, returning netpoll.ErrAgain then: the connection is
// paused until the handshake ends.
func (c *conn) helloDone() (bool, error) {
	done, err := tlsio.HelloDone(c.tls.hello)
	switch {
	case err == tlsio.ErrPlainHTTP:
		c.refusePlainHTTP()
		return true, err
	case err != nil:
		return true, err
	case !done && len(c.tls.hello) > tlsio.MaxClientHello+tlsio.MaxHelloRecord:
		return true, tlsio.ErrHelloTooLarge
	case !done:
		return false, nil
	}
	if err := c.startHandshake(); err != nil {
		return true, err
	}
	return true, netpoll.ErrAgain
}

// startHandshake pauses the connection and runs the handshake on a
// goroutine over a dup of the socket.
func (c *conn) startHandshake() error {
	t := c.tls
	f, err := netpoll.DupFile(c.fd)
	if err != nil {
		return err
	}
	f.SetDeadline(t.deadline)
	if err := t.tr.Begin(f, t.hello); err != nil {
		f.Close()
		return fmt.Errorf("server: TLS handshake: %w", err)
	}
	t.hello = nil
	t.conn = tls.Server(t.tr, c.srv.tls.config)
	c.mu.Lock()
	c.paused = true
	c.mu.Unlock()
	go c.tlsHandshake()
	return nil
}

// tlsHandshake runs on the handshake's goroutine and resumes the
// connection on a worker when it is done.
func (c *conn) tlsHandshake() {
	t := c.tls
	t.tr.Hold()
	var err error
	if t.tr.Handshaking() {
		err = t.conn.Handshake()
	}
	alive := t.tr.Finish()
	if err != nil || !alive {
		if alive {
			c.srv.stats.rejected(reasonBadHandshake)
			c.srv.log.Debug("TLS handshake failed", "remote", c.remote.String(), "err", err)
		}
		c.requestClose(discTLSFailed)
		return
	}
	t.ready.Store(true)
	c.mu.Lock()
	c.paused = false
	c.unlockSubmit(c.scheduleLocked(evRead))
}

// tlsClosed ends a handshake under way when the connection closes (the
// handshake timeout, a shutdown).
func (c *conn) tlsClosed() { c.tls.tr.Kill() }

// tlsBufferedLocked runs the handler again, instead of waiting for epoll,
// when crypto/tls may still hold bytes of the client's: the socket would
// not announce them. It reports whether it did.
func (c *conn) tlsBufferedLocked() bool {
	if !c.tls.more || c.paused {
		return false
	}
	c.events |= evRead
	c.running = true
	c.srv.workers.Submit(c) // the pool's lock is a leaf (locksordering.txt)
	return true
}

type tlsHeadWriter struct{ c *conn }

func (w tlsHeadWriter) Write(p []byte) (int, error) {
	w.c.send(append([]byte(nil), p...))
	return len(p), nil
}

// tlsHandoverConn is the net.Conn fasthttp gets for an HTTP request on a
// TLS listener: the tls.Conn over a runtime-polled dup of the socket, with
// whatever crypto/tls has read ahead still in it.
func (c *conn) tlsHandoverConn() (net.Conn, error) {
	f, err := netpoll.DupFile(c.fd)
	if err != nil {
		return nil, err
	}
	if err := c.tls.tr.Handover(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("server: hand TLS connection over: %w", err)
	}
	return c.tls.conn, nil
}

// refusePlainHTTP answers a plain HTTP request on the TLS port in plain
// text, as net/http does, before the connection is dropped.
func (c *conn) refusePlainHTTP() {
	const body = "this port speaks TLS only: use wss:// or https://\n"
	fdWriter(c.fd).Write(httpRefusal(http.StatusBadRequest, body)) // plain: the client speaks no TLS
	c.srv.stats.rejected(reasonOther)
}
