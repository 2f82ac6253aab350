package protocol

import (
	"bytes"
	"compress/flate"
	"io"
	"sync"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// permessage-deflate (RFC 7692) as wsify uses it: both directions without
// context takeover, so every compressed message stands alone. A
// publication is then compressed once for every subscriber that negotiated
// it, and no connection keeps an LZ77 window between messages.

// MinDeflateBytes is the smallest payload DeflateFrame compresses; below it
// deflate's own overhead eats the gain, so the plain frame goes instead.
const MinDeflateBytes = 256

// deflateLevel is flate.BestSpeed: on JSON it compresses within a few
// percent of the default level at about a third of the CPU.
const deflateLevel = flate.BestSpeed

const rsv1 = 0x40 // the Per-Message Compressed bit of a frame's first byte

// Close errors of compressed client messages.
var (
	ErrBadDeflate    = &CloseError{ws.StatusInvalidFramePayloadData, "invalid compressed message"}
	ErrMisplacedRsv1 = &CloseError{ws.StatusProtocolError, "compression bit on a control frame or a continuation"}
)

// ParseHeaderDeflate is ParseHeader for a connection that negotiated
// permessage-deflate: RSV1 may mark the first frame of a text or binary
// message as compressed (RFC 7692 section 6) and is kept in h.Rsv; on any
// other frame it is a protocol error, as RSV2 and RSV3 always are.
func ParseHeaderDeflate(b []byte, maxPayload int64, fragmented bool) (h ws.Header, n int, err error) {
	if len(b) == 0 || b[0]&rsv1 == 0 {
		return ParseHeader(b, maxPayload, fragmented)
	}
	var head [MaxHeaderLen]byte
	k := copy(head[:], b)
	head[0] &^= rsv1
	h, n, err = ParseHeader(head[:k], maxPayload, fragmented)
	if err != nil {
		return h, n, err
	}
	if h.OpCode != ws.OpText && h.OpCode != ws.OpBinary {
		return h, 0, ErrMisplacedRsv1
	}
	h.Rsv |= ws.Rsv(true, false, false)
	return h, n, nil
}

// Compressed reports whether h has the Per-Message Compressed bit.
func Compressed(h ws.Header) bool {
	r1, _, _ := ws.RsvBits(h.Rsv)
	return r1
}

// deflater is a pooled compressor: a flate.Writer is hundreds of KiB, far
// too much to build per message or to keep per connection.
type deflater struct {
	w   *wsflate.Writer
	out bytes.Buffer
}

var deflaters = sync.Pool{New: func() any {
	d := new(deflater)
	d.w = wsflate.NewWriter(&d.out, newFlateWriter)
	return d
}}

func newFlateWriter(w io.Writer) wsflate.Compressor {
	f, _ := flate.NewWriter(w, deflateLevel) // fails only for a bad level
	return f
}

// DeflateFrame returns the permessage-deflate form of a final, unmasked
// server frame: the same opcode with RSV1 set and the payload compressed
// on its own, its trailing 0x00 0x00 0xff 0xff removed (RFC 7692 section
// 7.2.1). It returns nil when the payload is under MinDeflateBytes or would
// not shrink: a peer that negotiated compression accepts plain frames too.
func DeflateFrame(frame []byte) []byte {
	op, payload := ws.OpCode(frame[0]&0x0f), frame[serverHeaderLen(frame):]
	if len(payload) < MinDeflateBytes {
		return nil
	}
	d := deflaters.Get().(*deflater)
	defer deflaters.Put(d)
	d.out.Reset()
	d.w.Reset(&d.out)
	if _, err := d.w.Write(payload); err != nil {
		return nil
	}
	if err := d.w.Flush(); err != nil || d.out.Len() >= len(payload) {
		return nil
	}
	out := AppendHeader(make([]byte, 0, HeaderLen(d.out.Len())+d.out.Len()), op, d.out.Len())
	out[0] |= rsv1
	return append(out, d.out.Bytes()...)
}

// serverHeaderLen is the header size of an unmasked frame built by
// AppendHeader.
func serverHeaderLen(frame []byte) int {
	switch frame[1] & 0x7f {
	case 126:
		return 4
	case 127:
		return 10
	}
	return 2
}

// inflater is a pooled decompressor (about 40 KiB with its window).
type inflater struct {
	r   *wsflate.Reader
	src bytes.Reader
}

var inflaters = sync.Pool{New: func() any {
	f := new(inflater)
	f.r = wsflate.NewReader(&f.src, newFlateReader)
	return f
}}

func newFlateReader(r io.Reader) wsflate.Decompressor {
	return flateReader{flate.NewReader(r)}
}

// flateReader lets wsflate.Reader reset the pooled flate reader instead of
// building a new one per message.
type flateReader struct{ io.ReadCloser }

func (f flateReader) Reset(r io.Reader) { f.ReadCloser.(flate.Resetter).Reset(r, nil) }

// Inflate appends to dst the decompressed form of a compressed message
// payload. It stops as soon as the output passes limit bytes and returns
// ErrTooBig, so a small payload that inflates enormously (a zip bomb)
// costs at most limit bytes and the CPU to produce them. Corrupt data is
// ErrBadDeflate.
func Inflate(dst, payload []byte, limit int) ([]byte, error) {
	f := inflaters.Get().(*inflater)
	defer inflaters.Put(f)
	f.src.Reset(payload)
	f.r.Reset(&f.src)
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)] // let append pick the growth
		}
		room := min(cap(dst), start+limit+1) // one byte past the limit tells
		n, err := f.r.Read(dst[len(dst):room])
		dst = dst[:len(dst)+n]
		switch {
		case len(dst)-start > limit:
			return dst, ErrTooBig
		case err == io.EOF:
			return dst, nil
		case err != nil:
			return dst, ErrBadDeflate
		}
	}
}
