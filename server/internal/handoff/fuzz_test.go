package handoff

import (
	"bytes"
	"testing"
)

// FuzzParse holds every parser of the control socket's payloads to any
// bytes: an error or a value, never a panic; and what parses encodes back
// to a payload that parses the same.
func FuzzParse(f *testing.F) {
	f.Add(AppendConns(nil, sampleConns()))
	f.Add(AppendPubs(nil, []Pub{{Seq: 1, Channel: []byte("c"), Frame: []byte("f"), Offset: 2}}))
	f.Add(AppendHistories(nil, []History{{Channel: []byte("h"), Epoch: "e", Last: 1, Entries: []Entry{{At: 1, Frame: []byte("f")}}}}))
	f.Add(AppendHello(nil, Hello{Version: Version(), PID: 1}))
	f.Add(AppendHeader(nil, KindConns, 3, 10))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseHeader(b)
		ParseHello(b)
		ParseText(b)
		ParseSeq(b)
		if cs, err := ParseConns(b); err == nil {
			again, err := ParseConns(AppendConns(nil, cs))
			if err != nil || !bytes.Equal(AppendConns(nil, again), AppendConns(nil, cs)) {
				t.Fatalf("conns do not round-trip: %v", err)
			}
		}
		if ps, err := ParsePubs(b); err == nil {
			if _, err := ParsePubs(AppendPubs(nil, ps)); err != nil {
				t.Fatalf("pubs do not round-trip: %v", err)
			}
		}
		if hs, err := ParseHistories(b); err == nil {
			if _, err := ParseHistories(AppendHistories(nil, hs)); err != nil {
				t.Fatalf("histories do not round-trip: %v", err)
			}
		}
	})
}
