package server

import (
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

// inflateBufs hold decompressed messages while they are handled.
var inflateBufs = sync.Pool{New: func() any { return new(cipherBuf) }}

// inflateMessage decompresses a complete compressed message and hands it
// to message. The message size limit applies to the decompressed size: a
// message that inflates past it is closed with 1009 as soon as it does.
func (c *conn) inflateMessage(op ws.OpCode, p []byte) {
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

// negotiateDeflate answers a permessage-deflate offer during the upgrade.
func (c *conn) negotiateDeflate(u *ws.Upgrader) *wsflate.Extension {
	ext := &wsflate.Extension{Parameters: deflateParams}
	u.Negotiate = func(offer httphead.Option) (httphead.Option, error) {
		accept, err := ext.Negotiate(offer)
		if err != nil {
			return httphead.Option{}, nil // decline a malformed offer (RFC 7692 section 5)
		}
		return accept, nil
	}
	return ext
}

// parseHeaderDeflate is the frame header parse of a connection that
// negotiated compression: RSV1 is allowed, and marks the message read next.
func (c *conn) parseHeaderDeflate(b []byte) (ws.Header, int, error) {
	h, n, err := protocol.ParseHeaderDeflate(b, c.payloadLimit(), c.msgOp != 0)
	if err == nil && (h.OpCode == ws.OpText || h.OpCode == ws.OpBinary) {
		c.inflate = protocol.Compressed(h)
	}
	return h, n, err
}

// deflateMessage is the message of a publication when compression is on:
// the compressed form is built on demand, once for all subscribers.
func deflateMessage(frame []byte) *hub.Message {
	return hub.NewMessage(frame, protocol.DeflateFrame)
}

// variant is the variant builder of the messages this server publishes:
// the compressed form when compression is on.
func (s *Server) variant() func([]byte) []byte {
	if s.cfg.Compression {
		return protocol.DeflateFrame
	}
	return nil
}
