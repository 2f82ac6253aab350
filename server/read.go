package server

import (
	"time"

	"github.com/gobwas/ws"

	"github.com/wsify/wsify/netpoll"
	"github.com/wsify/wsify/protocol"
)

// readBudget bounds the bytes one handler run reads from a socket, so a
// fast sender cannot keep a worker from the others.
const readBudget = 256 << 10

// read drains what the socket has, within the budget, and processes every
// complete unit (request head or frame) as it arrives. It reads until
// EAGAIN even after a short read: a publisher's next command often arrives
// while its last one is handled, and taking it now rather than behind the
// fan-out chunks that command queued lets publications coalesce (without
// it the client-broadcast fan-out cost 2.7x the CPU per delivery).
func (c *conn) read() {
	for budget := readBudget; budget > 0 && c.state != stateClosed; {
		c.fillBuffer()
		n, err := c.readSocket(c.rbuf[len(c.rbuf):cap(c.rbuf)])
		if netpoll.IsAgain(err) {
			break
		}
		if n <= 0 {
			c.abort()
			return
		}
		c.rbuf = c.rbuf[:len(c.rbuf)+n]
		budget -= n
		c.heard()
		if !c.process() {
			break
		}
	}
	c.sendPong()
	c.settleBuffer()
}

// sendPong answers the last of the pings read in a row: RFC 6455 (5.5.3)
// lets an endpoint answer only the most recent, so a ping flood costs one
// frame and one write a turn, not one each. It runs before the next other
// frame is handled and at the end of the turn.
func (c *conn) sendPong() {
	if !c.pongDue || c.state != stateOpen {
		return
	}
	c.pongDue = false
	c.send(protocol.AppendFrame(make([]byte, 0, 2+len(c.pong)), ws.OpPong, c.pong))
}

// readSocket reads what the client sent: raw bytes on a plain listener,
// decrypted ones on a TLS listener. It returns an error that
// netpoll.IsAgain recognizes when there is nothing (more) for now.
func (c *conn) readSocket(p []byte) (int, error) {
	if c.tls != nil {
		return c.readTLSSocket(p)
	}
	return netpoll.Read(c.fd, p)
}

// fillBuffer makes sure rbuf has room to read into: the pooled buffer for
// what fits in one, else twice the room it had. A frame larger than the
// pooled buffer grows its buffer with the bytes that actually arrive, never
// with the length its header declares, so a header alone costs a few bytes
// however much it announces.
func (c *conn) fillBuffer() {
	switch {
	case cap(c.rbuf) > len(c.rbuf):
	case c.pooled == nil && len(c.rbuf) < c.srv.cfg.ReadBufferBytes:
		c.pooled = c.srv.bufs.Get().(*[]byte)
		c.rbuf = append((*c.pooled)[:0], c.rbuf...)
	default:
		grown := append(make([]byte, 0, 2*cap(c.rbuf)), c.rbuf...)
		c.unpool()
		c.rbuf = grown
	}
}

// unpool gives the pooled read buffer back; rbuf must not be read after.
// The pool holds the buffer's own box, so giving it back allocates nothing.
func (c *conn) unpool() {
	if c.pooled != nil {
		c.srv.bufs.Put(c.pooled)
		c.pooled = nil
	}
}

// settleBuffer lets go of the read buffer when it holds nothing, shrinks it
// to its contents when a remainder waits in a buffer much larger, and
// starts or stops the deadline of an incomplete frame.
func (c *conn) settleBuffer() {
	if c.state == stateClosed {
		return
	}
	switch {
	case len(c.rbuf) == 0:
		c.unpool()
		c.rbuf = nil
	case c.pooled != nil || cap(c.rbuf) > 2*len(c.rbuf):
		rest := append(make([]byte, 0, len(c.rbuf)), c.rbuf...) // an idle remainder holds no spare room
		c.unpool()
		c.rbuf = rest
	}
	c.armReadDeadline()
}

// armReadDeadline starts the partial-frame deadline when bytes wait, keeps
// a running one (trickling bytes do not extend it) and clears it when done.
func (c *conn) armReadDeadline() {
	if c.state != stateOpen {
		return
	}
	waiting := (len(c.rbuf) > 0 || c.msgOp != 0) && !c.paused
	switch {
	case waiting && !c.readWait: // the wheel's lock only when the deadline changes
		c.srv.wheel.Set(c, time.Now().Add(c.srv.cfg.ReadTimeout))
	case !waiting && c.readWait:
		c.srv.wheel.Clear(c)
	}
	c.readWait = waiting
}

// process handles what rbuf holds and reports whether reading goes on.
func (c *conn) process() bool {
	if c.state == stateHandshake {
		return c.handshake()
	}
	return c.frames()
}

// frames handles every complete frame in rbuf, keeping a partial one.
func (c *conn) frames() bool {
	b, off := c.rbuf, 0
	for off < len(b) && c.state == stateOpen && !c.paused {
		h, hn, err := c.parseHeader(b[off:])
		if err == protocol.ErrShortHeader {
			break
		}
		if err != nil {
			c.fail(err)
			return false
		}
		total := hn + int(h.Length)
		if len(b)-off < total {
			break // the rest of the frame is yet to come; fillBuffer grows as it does
		}
		payload := b[off+hn : off+total]
		ws.Cipher(payload, h.Mask, 0)
		off += total
		c.frame(h, payload)
	}
	if c.state != stateClosed {
		c.rbuf = b[:copy(b, b[off:])]
	}
	return c.state == stateOpen && !c.paused
}

// parseHeader parses the next client frame header.
func (c *conn) parseHeader(b []byte) (ws.Header, int, error) {
	if c.deflate {
		return c.parseHeaderDeflate(b)
	}
	return protocol.ParseHeader(b, c.payloadLimit(), c.msgOp != 0)
}

// payloadLimit is what the next data frame may carry: the message limit
// less what fragments already hold, so a message exactly at the limit fits.
func (c *conn) payloadLimit() int64 {
	return int64(c.srv.cfg.MaxMessageBytes - len(c.msg))
}

// fail closes the connection for a protocol violation.
func (c *conn) fail(err error) {
	ce, ok := err.(*protocol.CloseError)
	if !ok {
		ce = &protocol.CloseError{Code: ws.StatusProtocolError, Reason: err.Error()}
	}
	c.srv.stats.protocolErrors.Add(1)
	c.close(protocolViolation(ce))
}

func (c *conn) frame(h ws.Header, payload []byte) {
	if h.OpCode == ws.OpPing {
		if ok, _ := c.takeToken(); ok {
			c.pong, c.pongDue = append(c.pong[:0], payload...), true
		}
		return
	}
	c.sendPong() // before what the peer sent after the ping: answers keep its order
	switch h.OpCode {
	case ws.OpPong:
	case ws.OpClose:
		c.peerClose(payload)
	case ws.OpContinuation:
		c.msg = append(c.msg, payload...)
		if h.Fin {
			op, msg := c.msgOp, c.msg
			c.msgOp, c.msg = 0, nil
			c.dispatch(op, msg)
		}
	default:
		if h.Fin {
			c.dispatch(h.OpCode, payload)
			return
		}
		c.msgOp, c.msg = h.OpCode, append([]byte(nil), payload...)
	}
}

// dispatch hands a complete message to message, through the decompressor
// when it came compressed.
func (c *conn) dispatch(op ws.OpCode, p []byte) {
	if c.inflate {
		c.inflateMessage(op, p)
		return
	}
	c.message(op, p)
}

// peerClose answers a close frame with the same code and closes.
func (c *conn) peerClose(body []byte) {
	c.peerSaid = true
	code, err := protocol.ParseClose(body)
	if err != nil {
		c.fail(err)
		return
	}
	c.close(peerClosed(code))
}
