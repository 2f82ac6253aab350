package server_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/server"
)

func compressing(d *websocket.Dialer) { d.EnableCompression = true }

// dialCompressing opens a gorilla client that offers permessage-deflate and
// returns the extensions the server accepted.
func dialCompressing(t testing.TB, s *server.Server) (*websocket.Conn, string) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, EnableCompression: true}
	c, resp, err := d.Dial(wsURL(s, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	t.Cleanup(func() { c.Close() })
	return c, resp.Header.Get("Sec-WebSocket-Extensions")
}

// compressible is JSON content of about n bytes that deflates well.
func compressible(n int) string {
	item := `{"symbol":"ABC","bid":101.25,"ask":101.27},`
	return `[` + strings.Repeat(item, n/len(item)) + `0]`
}

func TestCompressionIsNegotiatedAndRoundTrips(t *testing.T) {
	s := start(t, server.Config{Compression: true})
	c, ext := dialCompressing(t, s)
	for _, want := range []string{"permessage-deflate", "server_no_context_takeover", "client_no_context_takeover"} {
		if !strings.Contains(ext, want) {
			t.Fatalf("Sec-WebSocket-Extensions %q lacks %s", ext, want)
		}
	}
	ch := freshChannel("z")
	joinSync(t, c, ch)
	for _, content := range []string{`"small"`, compressible(20 << 10), compressible(60 << 10)} {
		send(t, c, broadcastCmd(ch, content))
		expect(t, c, delivery(ch, content))
	}
}

func TestCompressionIsNotOfferedWhenOff(t *testing.T) {
	s := start(t, server.Config{})
	c, ext := dialCompressing(t, s)
	if ext != "" {
		t.Fatalf("extensions %q accepted with compression off", ext)
	}
	ch := freshChannel("z")
	joinSync(t, c, ch)
	send(t, c, broadcastCmd(ch, compressible(4096)))
	expect(t, c, delivery(ch, compressible(4096)))
}

// A large publication reaches a compressing client as a compressed frame
// (RSV1 on the wire) and a plain client as the same message uncompressed;
// a small one goes plain to both.
func TestCompressedAndPlainSubscribersGetTheSameMessage(t *testing.T) {
	s := start(t, server.Config{Compression: true})
	z := rawDialExt(t, s, "permessage-deflate; client_max_window_bits")
	if !strings.Contains(z.ext, "permessage-deflate") {
		t.Fatalf("raw client's offer declined: %q", z.ext)
	}
	plain := dial(t, s)
	ch := freshChannel("mix")
	rawJoin(z.rawConn, ch)
	joinSync(t, plain, ch)

	big := compressible(8 << 10)
	postToChannel(t, s, ch, big)
	b0, payload := z.readFrame()
	if b0 != 0xC1 {
		t.Fatalf("first byte %#x, want FIN|RSV1|text", b0)
	}
	if len(payload) > len(big)/4 {
		t.Errorf("%d bytes compressed to %d", len(big), len(payload))
	}
	if got := inflateMessage(t, payload); got != delivery(ch, big) {
		t.Fatalf("inflated frame differs from the delivery (%d bytes)", len(got))
	}
	expect(t, plain, delivery(ch, big))

	postToChannel(t, s, ch, `"tiny"`)
	if b0, payload := z.readFrame(); b0 != 0x81 || string(payload) != delivery(ch, `"tiny"`) {
		t.Fatalf("small message: %#x %q, want a plain text frame", b0, payload)
	}
	expect(t, plain, delivery(ch, `"tiny"`))
}

// A compressed message is limited by its decompressed size: a small frame
// that inflates past the limit (a zip bomb) is closed with 1009, and the
// server goes on serving.
func TestCompressedZipBombCloses1009(t *testing.T) {
	s := start(t, server.Config{Compression: true, MaxMessageBytes: 64 << 10})
	c, _ := dialCompressing(t, s)
	bomb := broadcastCmd(freshChannel("bomb"), `"`+strings.Repeat("a", 4<<20)+`"`)
	send(t, c, bomb)
	expectClose(t, c, websocket.CloseMessageTooBig)
	stillServes(t, s)
}

// A compressed message may be fragmented: RSV1 on its first frame only.
func TestCompressedFragmentedMessage(t *testing.T) {
	s := start(t, server.Config{Compression: true})
	z := rawDialExt(t, s, "permessage-deflate")
	ch := freshChannel("zfrag")
	rawJoin(z.rawConn, ch)
	msg := deflateRaw(t, []byte(broadcastCmd(ch, `"pieces"`)))
	half := len(msg) / 2
	z.write(frameSpec{op: opText, rsv: 4, payload: msg[:half], more: true}.encode())
	z.write(frameSpec{op: opCont, payload: msg[half:]}.encode())
	if _, payload := z.readFrame(); string(payload) != delivery(ch, `"pieces"`) {
		t.Fatalf("got %q", payload)
	}
	z.write(frameSpec{op: opCont, rsv: 4, payload: []byte("x")}.encode()) // RSV1 off the first frame
	z.expectClose(1002)
}

func TestCompressionBadDataAndMisplacedBitClose(t *testing.T) {
	s := start(t, server.Config{Compression: true})
	z := rawDialExt(t, s, "permessage-deflate")
	z.write(frameSpec{op: opText, rsv: 4, payload: []byte{0xff, 0xff, 0xff, 0xff}}.encode())
	z.expectClose(1007)
	p := rawDialExt(t, s, "permessage-deflate")
	p.write(frameSpec{op: opPing, rsv: 4, payload: []byte("x")}.encode())
	p.expectClose(1002)
}

// An offer the server cannot honour is declined, not failed: that client
// gets plain frames.
func TestCompressionDeclinesServerMaxWindowBits(t *testing.T) {
	s := start(t, server.Config{Compression: true})
	z := rawDialExt(t, s, "permessage-deflate; server_max_window_bits=10")
	if z.ext != "" {
		t.Fatalf("accepted %q", z.ext)
	}
	ch := freshChannel("win")
	rawJoin(z.rawConn, ch)
	s.Publish([]byte(ch), []byte(compressible(4096)))
	z.expectText(delivery(ch, compressible(4096)))
}

func TestCompressionOverTLS(t *testing.T) {
	s := startTLS(t, server.Config{Compression: true, MaxMessageBytes: 256 << 10})
	c := dialWSS(t, s, compressing)
	ch := freshChannel("ztls")
	joinSync(t, c, ch)
	big := compressible(100 << 10)
	send(t, c, broadcastCmd(ch, big))
	expect(t, c, delivery(ch, big))
}

// extConn is a raw client that offered extensions.
type extConn struct {
	*rawConn
	ext string // the server's Sec-WebSocket-Extensions
}

func rawDialExt(t testing.TB, s *server.Server, offer string) extConn {
	t.Helper()
	r := rawDialTCP(t, s)
	resp := r.handshake("Sec-WebSocket-Extensions: " + offer)
	return extConn{r, resp.Header.Get("Sec-WebSocket-Extensions")}
}

// readFrame reads a server frame whatever its RSV bits, returning its
// first byte and payload.
func (z extConn) readFrame() (byte, []byte) {
	z.t.Helper()
	b0, p, err := z.readWireFrame()
	if err != nil {
		z.t.Fatal(err)
	}
	return b0, p
}

// deflateRaw compresses p as a permessage-deflate client would.
func deflateRaw(t testing.TB, p []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	w.Write(p)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// inflateMessage decompresses a permessage-deflate payload with
// compress/flate alone.
func inflateMessage(t testing.TB, p []byte) string {
	t.Helper()
	r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff})))
	out, err := io.ReadAll(bufio.NewReader(r))
	if err != nil && err != io.ErrUnexpectedEOF {
		t.Fatalf("inflate: %v", err)
	}
	return string(out)
}
