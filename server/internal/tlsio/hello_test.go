package tlsio_test

import (
	"crypto/tls"
	"testing"

	"github.com/wsify/wsify/server/internal/tlsio"
)

func TestHelloDoneTable(t *testing.T) {
	hello := captureHello(t, &tls.Config{ServerName: "example.com"})
	hugeLen := []byte{0x16, 3, 1, 0, 4, 1, 0x01, 0x00, 0x01} // declares 65537 bytes
	for _, c := range []struct {
		name string
		in   []byte
		done bool
		err  error
	}{
		{"nothing yet", nil, false, nil},
		{"plain HTTP", []byte("GET /ws HTTP/1.1\r\n"), false, tlsio.ErrPlainHTTP},
		{"plain HTTP, one byte", []byte("P"), false, tlsio.ErrPlainHTTP},
		{"garbage", []byte("\x00\x01garbage"), false, tlsio.ErrNotTLS},
		{"lower-case first byte is not HTTP", []byte("get / HTTP/1.1\r\n"), false, tlsio.ErrNotTLS},
		{"record header in part", []byte{0x16, 3}, false, nil},
		{"no TLS version", []byte{0x16, 0x09, 0x09, 0, 0, 1, 2, 3}, false, tlsio.ErrNotTLS},
		{"empty record", []byte{0x16, 3, 1, 0, 0}, false, tlsio.ErrNotTLS},
		{"record over the limit", []byte{0x16, 3, 1, byte((tlsio.MaxHelloRecord + 1) >> 8), byte((tlsio.MaxHelloRecord + 1) & 0xff)}, false, tlsio.ErrNotTLS},
		{"record at the limit, in part", []byte{0x16, 3, 1, byte(tlsio.MaxHelloRecord >> 8), byte(tlsio.MaxHelloRecord & 0xff)}, false, nil},
		{"not a ClientHello", []byte{0x16, 3, 1, 0, 4, 2, 0, 0, 0}, false, tlsio.ErrNotTLS},
		{"empty ClientHello", []byte{0x16, 3, 1, 0, 4, 1, 0, 0, 0}, true, nil},
		{"too large", hugeLen, false, tlsio.ErrHelloTooLarge},
		{"at the size limit, in part", []byte{0x16, 3, 1, 0, 4, 1, 0x01, 0x00, 0x00}, false, nil},
		{"message header across records", []byte{0x16, 3, 1, 0, 1, 1, 0x16, 3, 1, 0, 4, 0, 0, 1, 'x'}, true, nil},
		{"application data inside the hello", append(records(hello, 10)[:15], 0x17, 3, 3, 0, 1, 0), false, tlsio.ErrNotTLS},
		{"real hello", hello, true, nil},
		{"real hello and more", append(hello[:len(hello):len(hello)], 0x17, 3, 3, 0), true, nil},
		{"real hello in 1-byte records", records(hello, 1), true, nil},
		{"real hello in 3-byte records", records(hello, 3), true, nil},
		{"real hello in two records", records(hello, 100), true, nil},
		{"real hello, last byte missing", hello[:len(hello)-1], false, nil},
		{"real hello in records, last byte missing", func() []byte { r := records(hello, 7); return r[:len(r)-1] }(), false, nil},
	} {
		done, err := tlsio.HelloDone(c.in)
		if done != c.done || err != c.err {
			t.Errorf("%s: HelloDone(% x) = %v, %v; want %v, %v", c.name, c.in, done, err, c.done, c.err)
		}
	}
}

// TestHelloDoneRealHellos: every ClientHello crypto/tls sends, whole or
// cut into records of any size, is done, and none of its prefixes is
// either done or refused: the event loop waits for the rest.
func TestHelloDoneRealHellos(t *testing.T) {
	for name, cfg := range helloConfigs() {
		hello := captureHello(t, cfg)
		for _, size := range []int{1, 2, 5, 64, 512, 1 << 14} {
			in := records(hello, size)
			if done, err := tlsio.HelloDone(in); !done || err != nil {
				t.Errorf("%s in records of %d: %v, %v; want done", name, size, done, err)
			}
			for i := range len(in) {
				if done, err := tlsio.HelloDone(in[:i]); done || err != nil {
					t.Fatalf("%s in records of %d, first %d of %d bytes: %v, %v; want more wanted", name, size, i, len(in), done, err)
				}
			}
		}
	}
}
