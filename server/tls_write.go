package server

import (
	"sync"

	"github.com/wsify/wsify/netpoll"
)

// Writes on a TLS connection. Frames are queued in c.out as on any
// connection, shared by every subscriber of a publication. The writer
// encrypts the frames not yet sealed, outside c.mu, into one ciphertext
// buffer that takes their place in the outbox (c.out[:tls.sealed] is
// ciphertext), and writev sends ciphertext only. Enqueue, the outbox limit
// (ciphertext counts), EPOLLOUT and the slow-consumer close work as on a
// plain connection. Encryption is per connection: a publication is encoded
// once but sealed once per TLS subscriber, on the workers that flush them.

// maxSealChunk is the plaintext of a full TLS record: smaller frames are
// gathered up to it, so a burst costs one record rather than one per frame.
const maxSealChunk = 16 << 10

// maxIdleCipher bounds a ciphertext buffer worth pooling.
const maxIdleCipher = 64 << 10

// cipherBuf is a pooled ciphertext buffer; a connection holds one only
// while it has something to send.
type cipherBuf struct{ b []byte }

var cipherBufs = sync.Pool{New: func() any { return new(cipherBuf) }}

// gather is scratch for coalescing small frames before encryption.
var gathers = sync.Pool{New: func() any { return &cipherBuf{b: make([]byte, 0, maxSealChunk)} }}

// tlsWriteLoop is writeLoop for a TLS connection. The caller has set
// c.writing.
func (c *conn) tlsWriteLoop() {
	for {
		c.mu.Lock()
		t := c.tls
		switch {
		case c.closed:
			c.tlsFinishClosedLocked()
			return
		case c.outFirst == len(c.out):
			c.resetOutLocked()
			t.idleLocked()
			c.writing = false
			c.mu.Unlock()
			return
		case t.sealed < len(c.out):
			c.sealLocked()
			c.mu.Unlock()
			continue
		}
		bufs, head := c.out[c.outFirst:t.sealed], c.outHead
		c.mu.Unlock()
		n, err := netpoll.Writev(c.fd, bufs, head)
		if !c.wrote(n, err) {
			return
		}
	}
}

// sealLocked encrypts c.out[sealed:] into one ciphertext buffer that
// replaces those frames. It drops c.mu while encrypting, so publishers go on
// queueing; what they add stays behind the new buffer.
func (c *conn) sealLocked() {
	t := c.tls
	from, to := t.sealed, len(c.out)
	frames := c.out[from:to]
	if c.outFirst != from || t.buf == nil {
		t.buf = cipherBufs.Get().(*cipherBuf) // the last buffer is still being sent
	}
	buf := t.buf
	c.mu.Unlock()
	cipher, plain, err := t.seal(frames, buf.b)
	buf.b = cipher
	c.mu.Lock()
	if err != nil {
		cipher = nil // the connection is broken: nothing more can go out
		if c.requestCloseLocked(0, "") {
			c.srv.workers.Submit(c)
		}
	}
	c.replaceSealedLocked(from, to, cipher, plain)
}

// replaceSealedLocked puts cipher in place of c.out[from:to].
func (c *conn) replaceSealedLocked(from, to int, cipher []byte, plain int) {
	at := from
	if len(cipher) > 0 {
		c.out[from] = cipher
		at++
	}
	n := at + copy(c.out[at:], c.out[to:])
	clear(c.out[n:])
	c.out = c.out[:n]
	c.tls.sealed = at
	c.outBytes += len(cipher) - plain
}

// idleLocked lets the ciphertext buffer go once everything is sent, so an
// idle connection holds none.
func (t *tlsState) idleLocked() {
	t.sealed = 0
	if b := t.buf; b != nil {
		t.buf = nil
		if cap(b.b) <= maxIdleCipher {
			b.b = b.b[:0]
			cipherBufs.Put(b)
		}
	}
}

// seal encrypts frames, appending the records to buf (which may be nil),
// and returns them with the plaintext size.
func (t *tlsState) seal(frames [][]byte, buf []byte) ([]byte, int, error) {
	if buf != nil {
		t.tr.lend(buf)
	}
	plain, err := t.write(frames)
	return t.tr.take(), plain, err
}

// write hands frames to crypto/tls, gathering small ones into full records.
func (t *tlsState) write(frames [][]byte) (int, error) {
	g := gathers.Get().(*cipherBuf)
	defer gathers.Put(g)
	chunk, plain := g.b[:0], 0
	for _, f := range frames {
		plain += len(f)
		if len(chunk) > 0 && len(chunk)+len(f) > maxSealChunk {
			if _, err := t.conn.Write(chunk); err != nil {
				return plain, err
			}
			chunk = chunk[:0]
		}
		if len(f) < maxSealChunk {
			chunk = append(chunk, f...)
		} else if _, err := t.conn.Write(f); err != nil {
			return plain, err
		}
	}
	if len(chunk) > 0 {
		if _, err := t.conn.Write(chunk); err != nil {
			return plain, err
		}
	}
	return plain, nil
}

// tlsFinishClosedLocked is finishClosedLocked for a TLS connection: the
// ciphertext already sealed goes first, whole records, so the close frame
// sealed behind it reaches the client intact. Frames not yet sealed are
// dropped. It unlocks c.mu.
func (c *conn) tlsFinishClosedLocked() {
	t := c.tls
	pending, head := c.out[c.outFirst:t.sealed], c.outHead
	frame := c.closeFrame
	c.closeFrame = nil
	c.out = nil
	c.outFirst, c.outHead, c.outBytes, t.sealed = 0, 0, 0, 0
	c.mu.Unlock()
	if frame != nil && t.ready.Load() {
		if cipher, _, err := t.seal([][]byte{frame}, nil); err == nil && len(cipher) > 0 {
			pending = append(pending[:len(pending):len(pending)], cipher)
		}
	}
	if len(pending) > 0 {
		netpoll.Writev(c.fd, pending, head)
	}
	c.mu.Lock()
	c.writing = false
	c.releaseLocked()
	c.mu.Unlock()
}
