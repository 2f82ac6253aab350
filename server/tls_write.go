package server

import (
	"sync"
)

// Writes on a TLS connection. Frames are queued in the outbox as on any
// connection, shared by every subscriber of a publication. The writer
// encrypts the frames not yet sealed, outside c.mu, into one ciphertext
// buffer that takes their place in the outbox (c.ob.out[:ob.sealed] is
// ciphertext), and writev sends ciphertext only. Enqueue, the outbox limit
// (ciphertext counts), EPOLLOUT and the slow-consumer close work as on a
// plain connection. Encryption is per connection: a publication is encoded
// once but sealed once per TLS subscriber, on the workers that flush them.

// maxSealChunk is the plaintext of a full TLS record: smaller frames are
// gathered up to it, so a burst costs one record rather than one per frame.
const maxSealChunk = 16 << 10

// maxSealBatch bounds the plaintext sealed into one buffer (unless a single
// frame is larger), so buffers stay a size worth pooling however far a
// writer falls behind.
const maxSealBatch = 32 << 10

// recordOverhead is what TLS adds to a record: a 5-byte header, the
// content type and a 16-byte AEAD tag (TLS 1.3; TLS 1.2 GCM adds as much).
const recordOverhead = 5 + 1 + 16 + 8

// cipherBuf is a pooled ciphertext buffer; a connection holds one only
// while it has something to send.
type cipherBuf struct{ b []byte }

// cipherSizes are the capacities of pooled ciphertext buffers. A batch
// takes the smallest that fits, so a buffer never grows while it is
// filled, and a connection waiting on a small message holds a small one.
var cipherSizes = [...]int{1 << 10, 4 << 10, 16 << 10, maxSealBatch + 4<<10}

var cipherPools [len(cipherSizes)]sync.Pool

// getCipherBuf returns an empty buffer of at least need bytes.
func getCipherBuf(need int) *cipherBuf {
	for i, size := range cipherSizes {
		if need <= size {
			if b, ok := cipherPools[i].Get().(*cipherBuf); ok {
				return b
			}
			return &cipherBuf{b: make([]byte, 0, size)}
		}
	}
	return &cipherBuf{b: make([]byte, 0, need)} // a frame over a batch: not pooled
}

// putCipherBuf pools b if it has one of the pooled sizes.
func putCipherBuf(b *cipherBuf) {
	for i, size := range cipherSizes {
		if cap(b.b) == size {
			b.b = b.b[:0]
			cipherPools[i].Put(b)
			return
		}
	}
}

// gather is scratch for coalescing small frames before encryption.
var gathers = sync.Pool{New: func() any { return &cipherBuf{b: make([]byte, 0, maxSealChunk)} }}

// sealLocked encrypts the frames after c.ob.out[:sealed], up to maxSealBatch
// bytes, into one ciphertext buffer that replaces them. It drops c.mu while
// encrypting, so publishers go on queueing; what they add stays behind.
func (c *conn) sealLocked() {
	t := c.tls
	ob := &c.ob
	from, to, size := ob.sealed, ob.sealed+1, len(ob.out[ob.sealed])
	for ; to < len(ob.out) && size+len(ob.out[to]) <= maxSealBatch; to++ {
		size += len(ob.out[to])
	}
	buf := t.bufferLocked(size+recordOverhead*(to-from+size/maxSealChunk+1), ob.first == from)
	frames := ob.out[from:to]
	c.mu.Unlock()
	cipher, plain, err := t.seal(frames, buf.b)
	buf.b = cipher
	c.mu.Lock()
	if err != nil {
		cipher = nil // the connection is broken: nothing more can go out
		if c.requestCloseLocked(discWriteFailed) {
			c.srv.workers.Submit(c) // the pool's lock is a leaf (locksordering.txt)
		}
	}
	c.replaceSealedLocked(from, to, cipher, plain)
}

// bufferLocked returns a buffer for need bytes of ciphertext: the last one
// again when it is free (everything sealed was sent) and large enough.
func (t *tlsState) bufferLocked(need int, free bool) *cipherBuf {
	if free && t.buf != nil && cap(t.buf.b) >= need {
		return t.buf
	}
	if free && t.buf != nil {
		putCipherBuf(t.buf)
	}
	t.buf = getCipherBuf(need) // when not free, the last one is still being sent
	return t.buf
}

// replaceSealedLocked puts cipher in place of c.ob.out[from:to].
func (c *conn) replaceSealedLocked(from, to int, cipher []byte, plain int) {
	ob := &c.ob
	at := from
	if len(cipher) > 0 {
		ob.out[from] = cipher
		at++
	}
	n := at + copy(ob.out[at:], ob.out[to:])
	clear(ob.out[n:])
	ob.out = ob.out[:n]
	ob.sealed = at
	ob.bytes += len(cipher) - plain
}

// idleLocked lets the ciphertext buffer go once everything is sent, so an
// idle connection holds none.
func (t *tlsState) idleLocked() {
	if t.buf != nil {
		putCipherBuf(t.buf)
		t.buf = nil
	}
}

// seal encrypts frames, appending the records to buf (which may be nil),
// and returns them with the plaintext size.
func (t *tlsState) seal(frames [][]byte, buf []byte) ([]byte, int, error) {
	if buf != nil {
		t.tr.Lend(buf)
	}
	plain, err := t.write(frames)
	return t.tr.Take(), plain, err
}

// write hands frames to crypto/tls, gathering small ones into full records.
func (t *tlsState) write(frames [][]byte) (int, error) {
	if len(frames) == 1 { // the usual case: nothing to gather
		_, err := t.conn.Write(frames[0])
		return len(frames[0]), err
	}
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

// sealClose encrypts the close frame followed by a close_notify alert, or
// returns nil when no handshake completed.
func (t *tlsState) sealClose(frame []byte) []byte {
	if !t.ready.Load() {
		return nil
	}
	t.write([][]byte{frame})
	t.conn.CloseWrite()
	return t.tr.Take()
}
