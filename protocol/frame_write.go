package protocol

import (
	"bytes"
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
	if err := checkClose(code, string(body[2:])); err != nil {
		return 0, &CloseError{ws.StatusProtocolError, err.Error()}
	}
	return code, nil
}

// checkClose is ws.CheckCloseFrameData with the codes IANA registered after
// RFC 6455: gobwas/ws refuses 1012-1014, yet wsify itself closes with 1013
// and a client may echo it. Codes above 4999 are in no range of section
// 7.4.2, so they are refused, as gorilla/websocket and Autobahn expect.
func checkClose(code ws.StatusCode, reason string) error {
	switch {
	case code > 4999:
		return ws.ErrProtocolStatusCodeUnknown
	case code >= 1012 && code <= 1014:
		code = ws.StatusNormalClosure // registered: only the reason is left to check
	}
	return ws.CheckCloseFrameData(code, reason)
}

// IsServerTextFrame reports whether frame is one whole unmasked text frame
// as AppendHeader builds them, so that a stray publication on a broker
// cannot break the streams of the clients it is forwarded to.
func IsServerTextFrame(frame []byte) bool {
	var head [10]byte
	for _, hl := range [...]int{2, 4, 10} {
		n := len(frame) - hl
		if n >= 0 && HeaderLen(n) == hl && bytes.Equal(AppendHeader(head[:0], ws.OpText, n), frame[:hl]) {
			return true
		}
	}
	return false
}
