package protocol_test

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"io"
	"strings"
	"testing"

	"github.com/gobwas/ws"

	"github.com/wsify/wsify/protocol"
)

// inflateRef decompresses a permessage-deflate payload with compress/flate
// alone, as a client would (RFC 7692 section 7.2.2: append 00 00 ff ff).
func inflateRef(t *testing.T, p []byte) []byte {
	t.Helper()
	r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff})))
	out, err := io.ReadAll(r)
	if err != nil && err != io.ErrUnexpectedEOF {
		t.Fatalf("inflate: %v", err)
	}
	return out
}

func compress(t *testing.T, p []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	w.Write(p)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

var bigContent = []byte(`[` + strings.Repeat(`{"symbol":"ABC","bid":101.25,"ask":101.27},`, 200) + `0]`)

func TestDeflateFrameIsAValidCompressedFrame(t *testing.T) {
	plain := protocol.BroadcastFrame([]byte("prices"), bigContent)
	payload := plain[headerLen(plain):]
	z := protocol.DeflateFrame(plain)
	if z == nil {
		t.Fatal("a compressible frame was not compressed")
	}
	if z[0] != 0xC1 { // FIN, RSV1, text
		t.Fatalf("first byte %#x, want FIN|RSV1|text", z[0])
	}
	h, _, err := protocol.ParseHeaderDeflate(asClientFrame(z), 1<<20, false)
	body := z[headerLen(z):]
	if err != nil || !protocol.Compressed(h) || int(h.Length) != len(body) {
		t.Fatalf("header %+v for a %d-byte body: %v", h, len(body), err)
	}
	if got := inflateRef(t, body); !bytes.Equal(got, payload) {
		t.Fatalf("inflates to %d bytes that differ from the %d of the payload", len(got), len(payload))
	}
	if len(body) > len(payload)/4 {
		t.Errorf("compressed %d bytes to %d", len(payload), len(body))
	}
}

// headerLen is the header size of an unmasked server frame.
func headerLen(frame []byte) int {
	switch frame[1] & 0x7f {
	case 126:
		return 4
	case 127:
		return 10
	}
	return 2
}

// asClientFrame turns a server frame into a client frame with a zero mask, so
// ParseHeaderDeflate (client side) can read its header.
func asClientFrame(frame []byte) []byte {
	n := headerLen(frame)
	out := append([]byte(nil), frame[:n]...)
	out[1] |= 0x80
	return append(append(out, 0, 0, 0, 0), frame[n:]...)
}

// Each compressed frame stands alone (no context takeover): compressing the
// same frame twice gives the same bytes, each decodable by a fresh reader.
func TestDeflateFrameCarriesNoContext(t *testing.T) {
	plain := protocol.BroadcastFrame([]byte("c"), bigContent)
	a, b := protocol.DeflateFrame(plain), protocol.DeflateFrame(plain)
	if !bytes.Equal(a, b) {
		t.Fatal("the second compression of a frame differs: context was carried over")
	}
}

func TestDeflateFrameLeavesSmallOrIncompressibleFramesPlain(t *testing.T) {
	small := protocol.BroadcastFrame([]byte("c"), []byte(`"`+strings.Repeat("a", protocol.MinDeflateBytes-30)+`"`))
	if protocol.DeflateFrame(small) != nil {
		t.Error("a frame under MinDeflateBytes was compressed")
	}
	noise := make([]byte, 3000)
	rand.Read(noise)
	frame := protocol.AppendFrame(nil, ws.OpBinary, noise)
	if protocol.DeflateFrame(frame) != nil {
		t.Error("random bytes were 'compressed' into something no smaller")
	}
}

func TestInflateRoundTripAndLimit(t *testing.T) {
	z := compress(t, bigContent)
	out, err := protocol.Inflate(nil, z, len(bigContent))
	if err != nil || !bytes.Equal(out, bigContent) {
		t.Fatalf("inflate at exactly the limit: %v", err)
	}
	if _, err := protocol.Inflate(nil, z, len(bigContent)-1); err != protocol.ErrTooBig {
		t.Fatalf("one byte over the limit: %v, want ErrTooBig", err)
	}
}

// A zip bomb stops at the limit: a few KiB that would inflate to 8 MiB
// cost the limit and no more.
func TestInflateStopsAZipBombAtTheLimit(t *testing.T) {
	bomb := compress(t, make([]byte, 8<<20))
	if len(bomb) > 16<<10 {
		t.Fatalf("bomb of %d bytes", len(bomb))
	}
	out, err := protocol.Inflate(nil, bomb, 64<<10)
	if err != protocol.ErrTooBig || len(out) > 64<<10+1 {
		t.Fatalf("got %d bytes, %v; want ErrTooBig within limit+1 bytes", len(out), err)
	}
}

func TestInflateRefusesCorruptData(t *testing.T) {
	for _, p := range [][]byte{{0xff, 0xff, 0xff, 0xff}, compress(t, bigContent)[:40]} {
		if _, err := protocol.Inflate(nil, p, 1<<20); err != protocol.ErrBadDeflate {
			t.Errorf("% x...: %v, want ErrBadDeflate", p[:4], err)
		}
	}
}

func TestInflateReusesItsBuffer(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	z := compress(t, bigContent)
	dst := make([]byte, 0, 2*len(bigContent))
	protocol.Inflate(dst, z, 1<<20)
	if a := testing.AllocsPerRun(50, func() { protocol.Inflate(dst, z, 1<<20) }); a != 0 {
		t.Errorf("Inflate into a large enough buffer: %v allocations, want 0", a)
	}
}

func TestParseHeaderDeflate(t *testing.T) {
	cases := []struct {
		name       string
		frame      []byte
		fragmented bool
		compressed bool
		err        error
	}{
		{"plain text", []byte{0x81, 0x80, 0, 0, 0, 0}, false, false, nil},
		{"compressed text", []byte{0xC1, 0x80, 0, 0, 0, 0}, false, true, nil},
		{"compressed binary start", []byte{0x42, 0x80, 0, 0, 0, 0}, false, true, nil},
		{"rsv1 on a continuation", []byte{0xC0, 0x80, 0, 0, 0, 0}, true, false, protocol.ErrMisplacedRsv1},
		{"rsv1 on a ping", []byte{0xC9, 0x80, 0, 0, 0, 0}, false, false, protocol.ErrMisplacedRsv1},
		{"rsv2", []byte{0xA1, 0x80, 0, 0, 0, 0}, false, false, errAny},
		{"short", []byte{0xC1}, false, false, protocol.ErrShortHeader},
		{"short mask", []byte{0xC1, 0x80, 0}, false, false, protocol.ErrShortHeader},
	}
	for _, c := range cases {
		h, _, err := protocol.ParseHeaderDeflate(c.frame, 100, c.fragmented)
		switch {
		case c.err == errAny && err == nil, c.err != errAny && err != c.err:
			t.Errorf("%s: error %v, want %v", c.name, err, c.err)
		case err == nil && protocol.Compressed(h) != c.compressed:
			t.Errorf("%s: compressed %v, want %v", c.name, protocol.Compressed(h), c.compressed)
		}
	}
	if _, _, err := protocol.ParseHeader([]byte{0xC1, 0x80, 0, 0, 0, 0}, 100, false); err == nil {
		t.Error("ParseHeader accepted RSV1 without permessage-deflate")
	}
}

// errAny stands for any error in the table above.
var errAny = io.ErrNoProgress
