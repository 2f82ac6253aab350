package server

import (
	"io"
	"sync"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"

	"github.com/wsify/wsify/hub"
	"github.com/wsify/wsify/protocol"
)

// permessage-deflate (RFC 7692), offered when Config.Compression is set.
//
// The server answers an offer with server_no_context_takeover and
// client_no_context_takeover, whether the client offered them or not
// (sections 7.1.1.1 and 7.1.1.2 let a server include both in its
// response). Every compressed message then stands alone, which buys two
// things: a publication is compressed once, by the first compressing
// subscriber that needs it (hub.Message.Variant), and the same bytes go to
// every compressing subscriber; and no connection keeps a compressor or a
// 32 KiB inflate window between messages: pooled ones serve a message at a
// time. An offer the server cannot honour (server_max_window_bits, since
// compress/flate always uses a 32 KiB window) or cannot parse is declined,
// and that client gets plain frames.
//
// Only publications are compressed, and only from protocol.MinDeflateBytes
// and when it shrinks them; replies, pongs and closes stay plain, which a
// compressing peer accepts.

var deflateParams = wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}

// wsUpgrade answers the WebSocket handshake on rw, negotiating
// permessage-deflate when the server offers compression.
func (c *conn) wsUpgrade(rw io.ReadWriter) error {
	if !c.srv.cfg.Compression {
		_, err := c.srv.upgrader.Upgrade(rw)
		return err
	}
	ext := wsflate.Extension{Parameters: deflateParams}
	u := c.srv.upgrader
	u.Negotiate = func(offer httphead.Option) (httphead.Option, error) {
		accept, err := ext.Negotiate(offer)
		if err != nil {
			return httphead.Option{}, nil // decline a malformed offer (RFC 7692 section 5)
		}
		return accept, nil
	}
	if _, err := u.Upgrade(rw); err != nil {
		return err
	}
	_, c.deflate = ext.Accepted()
	return nil
}

// parseHeader parses the next client frame header; RSV1 is allowed on a
// connection that negotiated compression, and marks the message read next.
func (c *conn) parseHeader(b []byte) (ws.Header, int, error) {
	if !c.deflate {
		return protocol.ParseHeader(b, c.payloadLimit(), c.msgOp != 0)
	}
	h, n, err := protocol.ParseHeaderDeflate(b, c.payloadLimit(), c.msgOp != 0)
	if err == nil && (h.OpCode == ws.OpText || h.OpCode == ws.OpBinary) {
		c.inflate = protocol.Compressed(h)
	}
	return h, n, err
}

// inflateBufs hold decompressed messages while they are handled.
var inflateBufs = sync.Pool{New: func() any { return new(cipherBuf) }}

// inflated hands a complete message to message, decompressed first when it
// came compressed. The message size limit applies to the decompressed size:
// a message that inflates past it is closed with 1009 as soon as it does.
func (c *conn) inflated(op ws.OpCode, p []byte) {
	if !c.inflate {
		c.message(op, p)
		return
	}
	c.inflate = false
	buf := inflateBufs.Get().(*cipherBuf)
	out, err := protocol.Inflate(buf.b[:0], p, c.srv.cfg.MaxMessageBytes)
	if err == nil {
		c.message(op, out)
	}
	buf.b = out[:0]
	inflateBufs.Put(buf)
	if err != nil {
		c.fail(err)
	}
}

// Enqueue queues a publication for c (hub.Subscriber): the compressed form
// when c negotiated permessage-deflate, the plain frame otherwise.
func (c *conn) Enqueue(m *hub.Message) bool {
	if c.deflate {
		return c.enqueue(m.Variant())
	}
	return c.enqueue(m.Frame)
}

// publishFrame publishes a broadcast frame, with its compressed form built
// on demand when compression is on.
func (s *Server) publishFrame(channel, frame []byte) int {
	if !s.cfg.Compression {
		return s.hub.Publish(channel, frame)
	}
	return s.hub.PublishMessage(channel, hub.NewMessage(frame, protocol.DeflateFrame))
}
