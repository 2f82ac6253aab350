package protocol

import (
	"encoding/binary"
	"errors"

	"github.com/gobwas/ws"
)

// MaxHeaderLen is the longest frame header a client can send: 2 bytes of
// opcode and length, 8 bytes of extended length and a 4-byte mask.
const MaxHeaderLen = 14

// ErrShortHeader means the buffer ends before the frame header does; the
// caller keeps the bytes and waits for more.
var ErrShortHeader = errors.New("protocol: short frame header")

// CloseError is a protocol violation that ends the connection. Code is the
// WebSocket close code sent to the peer.
type CloseError struct {
	Code   ws.StatusCode
	Reason string
}

func (e *CloseError) Error() string { return "protocol: " + e.Reason }

// Close errors a client frame can provoke (RFC 6455 section 7.4.1).
var (
	ErrTooBig      = &CloseError{ws.StatusMessageTooBig, "message too big"}
	ErrInvalidUTF8 = &CloseError{ws.StatusInvalidFramePayloadData, "invalid UTF-8 in text message"}
	ErrBadLength   = &CloseError{ws.StatusProtocolError, "invalid payload length"}
)

// CloseErrors are the fixed close errors of client frames; the others are
// 1002 with the reason of the rule broken. The server's table of
// disconnects includes them, so it names every code a client can meet.
var CloseErrors = []*CloseError{ErrTooBig, ErrInvalidUTF8, ErrBadLength, ErrBadDeflate, ErrMisplacedRsv1}

// ParseHeader parses the client frame header at the start of b. It refuses a
// data frame whose declared payload exceeds maxPayload before any payload is
// read, and enforces the rules of ws.CheckHeader for a server without
// extensions. fragmented tells whether a fragmented message is in progress.
func ParseHeader(b []byte, maxPayload int64, fragmented bool) (h ws.Header, n int, err error) {
	if len(b) < 2 {
		return h, 0, ErrShortHeader
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = (b[0] & 0x70) >> 4
	h.OpCode = ws.OpCode(b[0] & 0x0f)
	h.Masked = b[1]&0x80 != 0
	n, h.Length, err = parseLength(b)
	if err != nil {
		return h, 0, err
	}
	if h.Masked {
		if len(b) < n+4 {
			return h, 0, ErrShortHeader
		}
		copy(h.Mask[:], b[n:n+4])
		n += 4
	}
	return h, n, checkHeader(h, maxPayload, fragmented)
}

func parseLength(b []byte) (n int, length int64, err error) {
	switch l := b[1] & 0x7f; l {
	case 126:
		if len(b) < 4 {
			return 0, 0, ErrShortHeader
		}
		return 4, int64(binary.BigEndian.Uint16(b[2:4])), nil
	case 127:
		if len(b) < 10 {
			return 0, 0, ErrShortHeader
		}
		v := binary.BigEndian.Uint64(b[2:10])
		if v>>63 != 0 {
			return 0, 0, ErrBadLength
		}
		return 10, int64(v), nil
	default:
		return 2, int64(l), nil
	}
}

func checkHeader(h ws.Header, maxPayload int64, fragmented bool) error {
	state := ws.StateServerSide
	if fragmented {
		state |= ws.StateFragmented
	}
	if err := ws.CheckHeader(h, state); err != nil {
		return &CloseError{ws.StatusProtocolError, err.Error()}
	}
	if h.OpCode.IsData() || h.OpCode == ws.OpContinuation {
		if h.Length > maxPayload {
			return ErrTooBig
		}
	}
	return nil
}

// StatusTryAgainLater (1013) tells a client the server is overloaded or a
// service it depends on is down; gobwas/ws has no name for it.
const StatusTryAgainLater ws.StatusCode = 1013
