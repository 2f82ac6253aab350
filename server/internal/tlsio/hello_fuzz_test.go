package tlsio_test

import (
	"bytes"
	"testing"

	"github.com/wsify/wsify/server/internal/tlsio"
)

// FuzzHelloDone holds HelloDone, on any bytes, to crypto/tls: what it
// calls done, crypto/tls reads to the end of a first handshake message
// without running short (it may still refuse what it read); what crypto/tls
// parses as a ClientHello from records of TLS's version, HelloDone calls
// done. And to itself: more bytes after a done hello change nothing, and
// a prefix of the input is either still waiting or gives the input's own
// answer, so the event loop never refuses a client for reading too soon.
// The seeds, in testdata and below, are real ClientHellos of crypto/tls.
func FuzzHelloDone(f *testing.F) {
	for _, cfg := range helloConfigs() {
		hello := captureHello(f, cfg)
		f.Add(hello)
		f.Add(records(hello, 3, 200))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		done, err := tlsio.HelloDone(b)
		if done && err != nil {
			t.Fatalf("% x: done with an error: %v", b, err)
		}
		parsed, short := tlsReads(b)
		if done && short {
			t.Fatalf("% x: done, yet crypto/tls ran out of bytes", b)
		}
		if parsed && ourVersion(b) && !done {
			t.Fatalf("% x: crypto/tls parsed a ClientHello, HelloDone says %v, %v", b, done, err)
		}
		if done {
			more := append(bytes.Clone(b), 0x17, 3, 3, 0, 1)
			if d, e := tlsio.HelloDone(more); !d || e != nil {
				t.Fatalf("% x: done, but not with 5 bytes more: %v, %v", b, d, e)
			}
		}
		for _, i := range cuts(b) {
			d, e := tlsio.HelloDone(b[:i])
			if (d || e != nil) && (d != done || e != err) {
				t.Fatalf("% x: first %d bytes give %v, %v; all of them %v, %v", b, i, d, e, done, err)
			}
		}
	})
}

// ourVersion reports whether every whole record of b, and a partial last
// header, is a handshake record of major version 3: crypto/tls takes any
// version below 16.0 in its first records, HelloDone only TLS's.
func ourVersion(b []byte) bool {
	for len(b) > 0 {
		if b[0] != 0x16 || len(b) > 1 && b[1] != 3 {
			return false
		}
		if len(b) < 5 {
			return true
		}
		b = b[min(len(b), 5+(int(b[3])<<8|int(b[4]))):]
	}
	return true
}

// cuts are the prefix lengths worth checking: all of them for a short
// input, else every record boundary and its neighbours and an even spread.
func cuts(b []byte) []int {
	if len(b) <= 300 {
		out := make([]int, len(b))
		for i := range out {
			out[i] = i
		}
		return out
	}
	var out []int
	for i := 0; i < len(b); i += len(b)/100 + 1 {
		out = append(out, i)
	}
	for at := 0; at+5 <= len(b); at += 5 + (int(b[at+3])<<8 | int(b[at+4])) {
		for _, i := range []int{at - 1, at, at + 1, at + 4, at + 5, at + 6, at + 9} {
			if i >= 0 && i < len(b) {
				out = append(out, i)
			}
		}
	}
	return out
}
