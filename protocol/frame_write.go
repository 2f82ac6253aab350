package protocol

import (
	"encoding/binary"

	"github.com/gobwas/ws"
)

// HeaderLen is the size of an unmasked server frame header for a payload of
// n bytes.
func HeaderLen(n int) int {
	switch {
	case n < 126:
		return 2
	case n <= 0xffff:
		return 4
	default:
		return 10
	}
}

// AppendHeader appends a final, unmasked server frame header.
func AppendHeader(dst []byte, op ws.OpCode, n int) []byte {
	b0 := 0x80 | byte(op)
	switch {
	case n < 126:
		return append(dst, b0, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, b0, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, b0, 127), uint64(n))
	}
}

// AppendFrame appends a whole final server frame carrying payload.
func AppendFrame(dst []byte, op ws.OpCode, payload []byte) []byte {
	return append(AppendHeader(dst, op, len(payload)), payload...)
}

// CloseFrame returns a close frame with code and a short reason.
func CloseFrame(code ws.StatusCode, reason string) []byte {
	body := ws.NewCloseFrameBody(code, reason)
	return AppendFrame(make([]byte, 0, 2+len(body)), ws.OpClose, body)
}

// ParseClose validates the body of a client close frame and returns the code
// to echo back (RFC 6455 section 5.5.1): 1000 for an empty body, the
// client's own code otherwise, and a CloseError for a malformed body.
func ParseClose(body []byte) (ws.StatusCode, error) {
	switch {
	case len(body) == 0:
		return ws.StatusNormalClosure, nil
	case len(body) == 1:
		return 0, &CloseError{ws.StatusProtocolError, "close frame body of one byte"}
	}
	code := ws.StatusCode(binary.BigEndian.Uint16(body))
	if code > ws.StatusRangePrivate.Max { // gobwas lets 5000 and up through
		return 0, &CloseError{ws.StatusProtocolError, "close code above 4999"}
	}
	if err := ws.CheckCloseFrameData(code, string(body[2:])); err != nil {
		return 0, &CloseError{ws.StatusProtocolError, err.Error()}
	}
	return code, nil
}
