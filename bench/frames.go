package bench

import (
	"bytes"
	"encoding/binary"
	"strconv"

	"github.com/gobwas/ws"
	"github.com/wsify/wsify/protocol"
)

// maskKey masks every client frame. RFC 6455 wants it unpredictable to
// protect proxies from cache poisoning; on loopback a fixed key keeps the
// client lean, and the server only checks that frames are masked.
var maskKey = [4]byte{0x3a, 0x91, 0x5c, 0xe7}

// appendClientFrame appends a masked, final frame with payload p: the
// server's header with the mask bit set, the key, the masked payload.
func appendClientFrame(dst []byte, op ws.OpCode, p []byte) []byte {
	h := len(dst)
	dst = protocol.AppendHeader(dst, op, len(p))
	dst[h+1] |= 0x80
	dst = append(dst, maskKey[:]...)
	start := len(dst)
	dst = append(dst, p...)
	ws.Cipher(dst[start:], maskKey, 0)
	return dst
}

// joinFrame is the masked join command for channel with id.
func joinFrame(channel string, id int) []byte {
	p := `{"command":"join","args":{"channel":"` + channel + `"},"id":` + strconv.Itoa(id) + `}`
	return appendClientFrame(nil, ws.OpText, []byte(p))
}

// closeFrame1000 is a masked normal-closure frame.
var closeFrame1000 = appendClientFrame(nil, ws.OpClose, []byte{0x03, 0xe8})

// serverFrame is one unmasked frame from the server.
type serverFrame struct {
	op      ws.OpCode
	fin     bool
	payload []byte
}

// parseServerFrame reads the frame at the start of b and returns it with
// the bytes it took; n is 0 while the frame is incomplete.
func parseServerFrame(b []byte) (f serverFrame, n int) {
	if len(b) < 2 {
		return f, 0
	}
	f.fin, f.op = b[0]&0x80 != 0, ws.OpCode(b[0]&0x0f)
	size, hl := uint64(b[1]&0x7f), 2
	switch size {
	case 126:
		if len(b) < 4 {
			return f, 0
		}
		size, hl = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return f, 0
		}
		size, hl = binary.BigEndian.Uint64(b[2:]), 10
	}
	if b[1]&0x80 != 0 {
		hl += 4 // a masked server frame is a protocol error; skip the key anyway
	}
	if uint64(len(b)-hl) < size {
		return f, 0
	}
	f.payload = b[hl : hl+int(size)]
	return f, hl + int(size)
}

// closeCode returns the status code of a close frame's payload (1005 when
// it carries none, as RFC 6455 says).
func closeCode(p []byte) int {
	if len(p) < 2 {
		return 1005
	}
	return int(binary.BigEndian.Uint16(p))
}

var (
	okReply     = []byte(`"ok":true`)
	errorReply  = []byte(`"error":`)
	channelMark = []byte(`{"channel":"`)
	stampMark   = []byte(`","content":{"s":`)
	offsetMark  = []byte(`","offset":`)
	timeMark    = []byte(`,"t":`)
)

// content is the JSON the publisher sends: a sequence number, the send
// time in unix nanoseconds and padding so that the frame subscribers get
// is size bytes of payload: {"channel":"<ch>","content":<content>}.
func appendContent(dst []byte, channel string, seq int, sentNanos int64, size int) []byte {
	start := len(dst)
	dst = append(dst, `{"s":`...)
	dst = strconv.AppendInt(dst, int64(seq), 10)
	dst = append(dst, `,"t":`...)
	dst = strconv.AppendInt(dst, sentNanos, 10)
	dst = append(dst, `,"p":"`...)
	frame := len(`{"channel":"`) + len(channel) + len(`","content":`) + len(dst) - start + len(`"}}`)
	for range size - frame {
		dst = append(dst, 'x')
	}
	return append(dst, `"}`...)
}

// parseStamp reads the sequence number and send time of a broadcast,
// {"channel":"bench-<n>","content":{"s":<seq>,"t":<nanos>,...}. The server
// writes that prefix as is and channel names need no escaping, so the stamp
// follows the name's closing quote: no search through the payload, which
// took as long as the rest of a delivery's handling together.
func parseStamp(p []byte) (seq, sent int64, ok bool) {
	p, ok = bytes.CutPrefix(p, channelMark)
	i := bytes.IndexByte(p, '"')
	if !ok || i < 0 {
		return 0, 0, false
	}
	p = p[i:]
	if rest, hist := bytes.CutPrefix(p, offsetMark); hist { // a channel with history: skip the offset
		_, rest = leadingInt(rest)
		p = rest
		ok = bytes.HasPrefix(p, stampMark[1:])
		p = p[min(len(p), len(stampMark)-1):]
	} else {
		ok = bytes.HasPrefix(p, stampMark)
		p = p[min(len(p), len(stampMark)):]
	}
	if !ok {
		return 0, 0, false
	}
	seq, p = leadingInt(p)
	if !bytes.HasPrefix(p, timeMark) {
		return 0, 0, false
	}
	sent, _ = leadingInt(p[len(timeMark):])
	return seq, sent, true
}

func leadingInt(p []byte) (int64, []byte) {
	var v int64
	i := 0
	for ; i < len(p) && p[i] >= '0' && p[i] <= '9'; i++ {
		v = v*10 + int64(p[i]-'0')
	}
	return v, p[i:]
}
