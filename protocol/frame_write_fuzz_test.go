package protocol_test

import (
	"bytes"
	"testing"

	"github.com/gobwas/ws"

	"github.com/wsify/wsify/protocol"
)

// FuzzIsServerTextFrame holds IsServerTextFrame, which stands between a
// broker and every client stream, to gobwas/ws's reading of a frame: on
// any bytes it says true exactly when ws.ReadHeader reads one final,
// unmasked text frame with no reserved bits, in the shortest length
// encoding (the only one AppendHeader writes), whose payload is the rest of
// the bytes. And every text frame AppendFrame builds, of any length (pad
// reaches past the 16-bit lengths), passes, while the same payload framed
// otherwise, or cut or lengthened by a byte, does not.
func FuzzIsServerTextFrame(f *testing.F) {
	for _, c := range []struct {
		b   []byte
		pad uint16
	}{
		{protocol.AppendFrame(nil, ws.OpText, []byte(`{"channel":"news"}`)), 0},
		{protocol.AppendFrame(nil, ws.OpText, nil), 0},
		{protocol.AppendFrame(nil, ws.OpText, make([]byte, 125)), 0},
		{protocol.AppendFrame(nil, ws.OpText, make([]byte, 126)), 0},
		{protocol.AppendFrame(nil, ws.OpBinary, []byte("x")), 0},
		{[]byte{0x81, 126, 0, 5, 'h', 'e', 'l', 'l', 'o'}, 0}, // a long form for a short length
		{[]byte{0x81, 0x85, 1, 2, 3, 4, 'h', 'e', 'l', 'l', 'o'}, 0},
		{[]byte{0x01, 5, 'h', 'e', 'l', 'l', 'o'}, 0},
		{[]byte{0xc1, 5, 'h', 'e', 'l', 'l', 'o'}, 0},
		{[]byte{0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 'x'}, 0},
		{[]byte("x"), 65535},
	} {
		f.Add(c.b, c.pad)
	}
	f.Fuzz(func(t *testing.T, b []byte, pad uint16) {
		if got, want := protocol.IsServerTextFrame(b), gobwasSaysServerText(b); got != want {
			t.Fatalf("% x: IsServerTextFrame %v, gobwas/ws says %v", frameStart(b), got, want)
		}
		p := append(bytes.Clone(b), make([]byte, pad)...)
		frame := protocol.AppendFrame(nil, ws.OpText, p)
		if !protocol.IsServerTextFrame(frame) {
			t.Fatalf("a text frame of %d bytes of payload is refused", len(p))
		}
		others := [][]byte{
			append(bytes.Clone(frame), 0),
			protocol.AppendFrame(nil, ws.OpBinary, p),
			protocol.AppendFrame(nil, ws.OpContinuation, p),
		}
		if len(p) > 0 {
			others = append(others, frame[:len(frame)-1])
		}
		for _, o := range others {
			if protocol.IsServerTextFrame(o) {
				t.Fatalf("% x: taken for a text frame of %d bytes of payload", frameStart(o), len(p))
			}
		}
	})
}

// gobwasSaysServerText is IsServerTextFrame written with ws.ReadHeader.
func gobwasSaysServerText(b []byte) bool {
	r := bytes.NewReader(b)
	h, err := ws.ReadHeader(r)
	hl := len(b) - r.Len()
	return err == nil && h.Fin && h.Rsv == 0 && h.OpCode == ws.OpText && !h.Masked &&
		h.Length == int64(r.Len()) && hl == protocol.HeaderLen(int(h.Length))
}

// frameStart is what is worth printing of a frame that may be 64 KiB long.
func frameStart(b []byte) []byte { return b[:min(len(b), 32)] }
