package tlsio_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// Real ClientHellos, as crypto/tls sends them, are the starting point of
// both the table and the fuzzer: a hand-built hello would only check
// HelloDone against its author's reading of RFC 8446.

// wire is a net.Conn over fixed input that keeps what is written to it:
// enough for crypto/tls to run a handshake's first flight without a peer
// or a goroutine.
type wire struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (w *wire) Read(p []byte) (int, error)     { return w.in.Read(p) }
func (w *wire) Write(p []byte) (int, error)    { return w.out.Write(p) }
func (*wire) Close() error                     { return nil }
func (*wire) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (*wire) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (*wire) SetDeadline(time.Time) error      { return nil }
func (*wire) SetReadDeadline(time.Time) error  { return nil }
func (*wire) SetWriteDeadline(time.Time) error { return nil }

// captureHello returns the ClientHello record tls.Client sends with cfg.
func captureHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	w := &wire{in: bytes.NewReader(nil)}
	tls.Client(w, cfg).Handshake() // fails on reading the (absent) answer
	if w.out.Len() == 0 {
		t.Fatal("crypto/tls wrote no ClientHello")
	}
	return w.out.Bytes()
}

// helloConfigs give ClientHellos of different shapes and sizes: TLS 1.2
// only, 1.3 with its key shares, a long server name, ALPN and a post-
// quantum key share that makes the hello over a kilobyte.
func helloConfigs() map[string]*tls.Config {
	return map[string]*tls.Config{
		"default": {ServerName: "example.com"},
		"tls12": {ServerName: "example.com", MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}},
		"tls13-alpn": {ServerName: "a-rather-long-host-name.of.some.example.org", MinVersion: tls.VersionTLS13,
			NextProtos: []string{"http/1.1", "h2"}},
		"pq":     {ServerName: "example.com", CurvePreferences: []tls.CurveID{tls.X25519MLKEM768, tls.X25519}},
		"no-sni": {InsecureSkipVerify: true},
	}
}

// records re-cuts the handshake bytes carried by the records of hello into
// records of the given fragment sizes (the last one repeating), as a
// client that splits its ClientHello may.
func records(hello []byte, sizes ...int) []byte {
	msg := fragments(hello)
	var out []byte
	for i := 0; len(msg) > 0; i++ {
		n := min(sizes[min(i, len(sizes)-1)], len(msg))
		out = append(out, 0x16, 3, 1, byte(n>>8), byte(n))
		out = append(out, msg[:n]...)
		msg = msg[n:]
	}
	return out
}

// fragments concatenates the fragments of the whole records of b,
// whatever their headers say.
func fragments(b []byte) []byte {
	var msg []byte
	for len(b) >= 5 {
		n := int(b[3])<<8 | int(b[4])
		if len(b) < 5+n {
			break
		}
		msg = append(msg, b[5:5+n]...)
		b = b[5+n:]
	}
	return msg
}

// tlsReads reports what crypto/tls makes of b as a server's first flight:
// hello when it parsed a ClientHello out of it, short when it ran out of
// bytes before the end of a record or of the first handshake message.
func tlsReads(b []byte) (hello, short bool) {
	errStop := errors.New("parsed")
	cfg := &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		hello = true
		return nil, errStop
	}}
	err := tls.Server(&wire{in: bytes.NewReader(b)}, cfg).Handshake()
	return hello, !hello && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF))
}
