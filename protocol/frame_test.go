package protocol_test

import (
	"bytes"
	"io"
	"math"
	"testing"

	"github.com/gobwas/ws"

	"github.com/wsify/wsify/protocol"
)

// mask is the masking key of every masked header in headerCases.
const mask = "\x01\x02\x03\x04"

var maskKey = [4]byte{1, 2, 3, 4}

// protocolErr is the CloseError ParseHeader returns for a header that
// ws.CheckHeader refuses.
func protocolErr(err error) *protocol.CloseError {
	return &protocol.CloseError{Code: ws.StatusProtocolError, Reason: err.Error()}
}

type headerCase struct {
	name       string
	b          string
	max        int64 // payload limit; 0 means 1 MiB
	fragmented bool
	want       ws.Header
	n          int
	err        error
}

func (c headerCase) limit() int64 {
	if c.max == 0 {
		return 1 << 20
	}
	return c.max
}

func masked(op ws.OpCode, fin bool, length int64) ws.Header {
	return ws.Header{Fin: fin, OpCode: op, Masked: true, Length: length, Mask: maskKey}
}

// headerCases drives TestParseHeader, TestParseHeaderShort,
// TestParseHeaderMatchesGobwas and BenchmarkParseHeader.
var headerCases = []headerCase{
	{name: "text/7bit", b: "\x81\x85" + mask, want: masked(ws.OpText, true, 5), n: 6},
	{name: "text/empty", b: "\x81\x80" + mask, want: masked(ws.OpText, true, 0), n: 6},
	{name: "text/125", b: "\x81\xfd" + mask, want: masked(ws.OpText, true, 125), n: 6},
	{name: "text/payload-follows", b: "\x81\x83" + mask + "abc", want: masked(ws.OpText, true, 3), n: 6},
	{name: "binary/16bit/126", b: "\x82\xfe\x00\x7e" + mask, want: masked(ws.OpBinary, true, 126), n: 8},
	{name: "binary/16bit/65535", b: "\x82\xfe\xff\xff" + mask, want: masked(ws.OpBinary, true, 65535), n: 8},
	{name: "binary/16bit/non-minimal", b: "\x82\xfe\x00\x05" + mask, want: masked(ws.OpBinary, true, 5), n: 8},
	{name: "binary/64bit/65536", b: "\x82\xff\x00\x00\x00\x00\x00\x01\x00\x00" + mask, want: masked(ws.OpBinary, true, 65536), n: 14},
	{name: "binary/64bit/max-int64", b: "\x82\xff\x7f\xff\xff\xff\xff\xff\xff\xff" + mask, max: math.MaxInt64,
		want: masked(ws.OpBinary, true, math.MaxInt64), n: 14},
	{name: "binary/64bit/top-bit", b: "\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00" + mask, max: math.MaxInt64,
		err: protocol.ErrBadLength},
	{name: "binary/64bit/top-bit-no-mask-yet", b: "\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00", err: protocol.ErrBadLength},
	{name: "text/start-fragment", b: "\x01\x82" + mask, want: masked(ws.OpText, false, 2), n: 6},
	{name: "continuation/fragmented", b: "\x00\x82" + mask, fragmented: true, want: masked(ws.OpContinuation, false, 2), n: 6},
	{name: "continuation/final", b: "\x80\x82" + mask, fragmented: true, want: masked(ws.OpContinuation, true, 2), n: 6},
	{name: "continuation/unexpected", b: "\x80\x82" + mask, want: masked(ws.OpContinuation, true, 2), n: 6,
		err: protocolErr(ws.ErrProtocolContinuationUnexpected)},
	{name: "text/while-fragmented", b: "\x81\x82" + mask, fragmented: true, want: masked(ws.OpText, true, 2), n: 6,
		err: protocolErr(ws.ErrProtocolContinuationExpected)},
	{name: "binary/while-fragmented", b: "\x02\x82" + mask, fragmented: true, want: masked(ws.OpBinary, false, 2), n: 6,
		err: protocolErr(ws.ErrProtocolContinuationExpected)},
	{name: "ping/while-fragmented", b: "\x89\x80" + mask, fragmented: true, want: masked(ws.OpPing, true, 0), n: 6},
	{name: "close/while-fragmented", b: "\x88\x82" + mask, fragmented: true, want: masked(ws.OpClose, true, 2), n: 6},
	{name: "ping/125", b: "\x89\xfd" + mask, want: masked(ws.OpPing, true, 125), n: 6},
	{name: "pong/0", b: "\x8a\x80" + mask, want: masked(ws.OpPong, true, 0), n: 6},
	{name: "ping/over-data-limit", b: "\x89\xfd" + mask, max: 10, want: masked(ws.OpPing, true, 125), n: 6},
	{name: "ping/126", b: "\x89\xfe\x00\x7e" + mask, want: masked(ws.OpPing, true, 126), n: 8,
		err: protocolErr(ws.ErrProtocolControlPayloadOverflow)},
	{name: "close/64bit", b: "\x88\xff\x00\x00\x00\x00\x00\x01\x00\x00" + mask, want: masked(ws.OpClose, true, 65536), n: 14,
		err: protocolErr(ws.ErrProtocolControlPayloadOverflow)},
	{name: "ping/not-fin", b: "\x09\x80" + mask, want: masked(ws.OpPing, false, 0), n: 6,
		err: protocolErr(ws.ErrProtocolControlNotFinal)},
	{name: "close/not-fin", b: "\x08\x80" + mask, want: masked(ws.OpClose, false, 0), n: 6,
		err: protocolErr(ws.ErrProtocolControlNotFinal)},
	{name: "unmasked", b: "\x81\x05hello", want: ws.Header{Fin: true, OpCode: ws.OpText, Length: 5}, n: 2,
		err: protocolErr(ws.ErrProtocolMaskRequired)},
	{name: "rsv1", b: "\xc1\x80" + mask, want: withRsv(masked(ws.OpText, true, 0), 4), n: 6, err: protocolErr(ws.ErrProtocolNonZeroRsv)},
	{name: "rsv2", b: "\xa1\x80" + mask, want: withRsv(masked(ws.OpText, true, 0), 2), n: 6, err: protocolErr(ws.ErrProtocolNonZeroRsv)},
	{name: "rsv3", b: "\x91\x80" + mask, want: withRsv(masked(ws.OpText, true, 0), 1), n: 6, err: protocolErr(ws.ErrProtocolNonZeroRsv)},
	{name: "limit/equal", b: "\x82\xfe\x01\x00" + mask, max: 256, want: masked(ws.OpBinary, true, 256), n: 8},
	{name: "limit/over", b: "\x82\xfe\x01\x01" + mask, max: 256, want: masked(ws.OpBinary, true, 257), n: 8, err: protocol.ErrTooBig},
	{name: "limit/over-7bit", b: "\x81\x8b" + mask, max: 10, want: masked(ws.OpText, true, 11), n: 6, err: protocol.ErrTooBig},
	{name: "limit/over-64bit", b: "\x82\xff\x00\x00\x00\x01\x00\x00\x00\x00" + mask, want: masked(ws.OpBinary, true, 1<<32), n: 14,
		err: protocol.ErrTooBig},
	{name: "limit/continuation", b: "\x80\xfe\x01\x01" + mask, max: 256, fragmented: true,
		want: masked(ws.OpContinuation, true, 257), n: 8, err: protocol.ErrTooBig},
	{name: "short/empty", b: "", err: protocol.ErrShortHeader},
	{name: "short/1", b: "\x81", err: protocol.ErrShortHeader},
	{name: "short/16bit-len", b: "\x81\xfe\x00", err: protocol.ErrShortHeader},
	{name: "short/64bit-len", b: "\x82\xff\x00\x00\x00\x00\x00\x01\x00", err: protocol.ErrShortHeader},
	{name: "short/mask", b: "\x81\x85\x01\x02\x03", err: protocol.ErrShortHeader},
	{name: "short/16bit-mask", b: "\x81\xfe\x00\x7e\x01", err: protocol.ErrShortHeader},
}

func withRsv(h ws.Header, rsv byte) ws.Header {
	h.Rsv = rsv
	return h
}

func init() {
	for op := ws.OpCode(3); op <= 0xf; op++ {
		if op.IsReserved() {
			headerCases = append(headerCases, headerCase{
				name: "reserved-opcode/" + string("0123456789abcdef"[op]),
				b:    string([]byte{0x80 | byte(op), 0x80}) + mask,
				want: masked(op, true, 0), n: 6, err: protocolErr(ws.ErrProtocolOpCodeReserved),
			})
		}
	}
}

func TestParseHeader(t *testing.T) {
	for _, c := range headerCases {
		t.Run(c.name, func(t *testing.T) {
			h, n, err := protocol.ParseHeader([]byte(c.b), c.limit(), c.fragmented)
			checkHeaderErr(t, err, c.err)
			if c.err != nil && c.n == 0 {
				return // nothing of the header is promised on a parse error
			}
			if h != c.want || n != c.n {
				t.Errorf("got %+v n=%d, want %+v n=%d", h, n, c.want, c.n)
			}
		})
	}
}

func checkHeaderErr(t *testing.T, got, want error) {
	t.Helper()
	if msg := expectErr(got, want, nil); msg != "" {
		t.Fatal(msg)
	}
}

// TestParseHeaderShort cuts every complete header of the table short: each
// prefix must ask for more bytes rather than fail or succeed.
func TestParseHeaderShort(t *testing.T) {
	for _, c := range headerCases {
		if c.n == 0 {
			continue
		}
		for k := 0; k < c.n; k++ {
			_, n, err := protocol.ParseHeader([]byte(c.b[:k]), c.limit(), c.fragmented)
			if err != protocol.ErrShortHeader || n != 0 {
				t.Errorf("%s[:%d]: n=%d err=%v, want ErrShortHeader", c.name, k, n, err)
			}
		}
	}
}

// TestParseHeaderMatchesGobwas reads every header of the table with
// ws.ReadHeader too: both must see the same header in the same bytes, and
// ParseHeader must refuse exactly what ws.CheckHeader and the limit refuse.
func TestParseHeaderMatchesGobwas(t *testing.T) {
	for _, c := range headerCases {
		t.Run(c.name, func(t *testing.T) {
			if msg := compareGobwas([]byte(c.b), c.limit(), c.fragmented); msg != "" {
				t.Error(msg)
			}
		})
	}
}

// compareGobwas returns what differs between ParseHeader and gobwas/ws on
// b, or "" when they agree.
func compareGobwas(b []byte, limit int64, fragmented bool) string {
	h, n, err := protocol.ParseHeader(b, limit, fragmented)
	r := bytes.NewReader(b)
	gh, gerr := ws.ReadHeader(r)
	switch {
	case (gerr == io.EOF || gerr == io.ErrUnexpectedEOF) && topBitLength(b):
		// gobwas reads length and mask in one go; ParseHeader refuses
		// the length as soon as its first byte is there.
		return expectErr(err, protocol.ErrBadLength, gerr)
	case gerr == io.EOF || gerr == io.ErrUnexpectedEOF:
		return expectErr(err, protocol.ErrShortHeader, gerr)
	case gerr == ws.ErrHeaderLengthMSB:
		return expectErr(err, protocol.ErrBadLength, gerr)
	case gerr != nil:
		return "gobwas: " + gerr.Error()
	}
	consumed := len(b) - r.Len()
	if h != gh || n != consumed {
		return "header differs from gobwas"
	}
	return expectErr(err, wantCheck(gh, limit, fragmented), nil)
}

// topBitLength reports whether b holds the first 8-byte length byte of a
// 64-bit length with its most significant bit set.
func topBitLength(b []byte) bool {
	return len(b) >= 10 && b[1]&0x7f == 127 && b[2]&0x80 != 0
}

func wantCheck(h ws.Header, limit int64, fragmented bool) error {
	state := ws.StateServerSide
	if fragmented {
		state |= ws.StateFragmented
	}
	if err := ws.CheckHeader(h, state); err != nil {
		return protocolErr(err)
	}
	if !h.OpCode.IsControl() && h.Length > limit {
		return protocol.ErrTooBig
	}
	return nil
}

func expectErr(got, want, gobwas error) string {
	if got == want {
		return ""
	}
	g, ok1 := got.(*protocol.CloseError)
	w, ok2 := want.(*protocol.CloseError)
	if ok1 && ok2 && *g == *w {
		return ""
	}
	return "ParseHeader: " + errString(got) + ", want " + errString(want) + " (gobwas: " + errString(gobwas) + ")"
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestParseHeaderAllocs(t *testing.T) {
	b := []byte("\x82\xff\x00\x00\x00\x00\x00\x01\x00\x00" + mask)
	allocs := testing.AllocsPerRun(1000, func() {
		protocol.ParseHeader(b, 1<<20, false)
	})
	if allocs != 0 {
		t.Fatalf("ParseHeader allocates %v times per call", allocs)
	}
}

func BenchmarkParseHeader(b *testing.B) {
	for _, c := range headerCases {
		if c.err != nil {
			continue
		}
		buf := []byte(c.b)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				protocol.ParseHeader(buf, c.limit(), c.fragmented)
			}
		})
	}
}
