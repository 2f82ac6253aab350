package protocol_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/wsify/wsify/protocol"
)

// The fuzzers start from the checked-in corpus in testdata/fuzz and from the
// tables of the unit tests. They run as ordinary tests on that corpus; to
// search further: go test -run=^$ -fuzz=FuzzDecode -fuzztime=60s ./protocol/

// addSeed adds a table input to the corpus, leaving out the huge ones
// (100,000 levels of nesting): they slow every mutation down and the unit
// tests cover them.
func addSeed(f *testing.F, in string, more ...any) {
	if len(in) <= 4096 {
		f.Add(append([]any{[]byte(in)}, more...)...)
	}
}

// FuzzValid checks Valid against encoding/json.Valid. Neither checks UTF-8
// inside strings, so they must agree on every input nested no deeper than
// Decode accepts (encoding/json allows 10000 levels, Valid 512).
func FuzzValid(f *testing.F) {
	for _, c := range validCases {
		addSeed(f, c.in)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := protocol.Valid(b)
		if jsonDepthOK(b) && got != json.Valid(b) {
			t.Fatalf("Valid(%q) = %v, encoding/json.Valid says %v", b, got, !got)
		}
		if !jsonDepthOK(b) && got && !json.Valid(b) {
			t.Fatalf("Valid(%q) accepts what encoding/json refuses", b)
		}
	})
}

// FuzzDecode checks Decode against the encoding/json reference: same
// refusal, and when it succeeds the same command, channel, id and content.
func FuzzDecode(f *testing.F) {
	for _, c := range decodeCases {
		addSeed(f, c.msg, uint8(c.max))
	}
	f.Fuzz(func(t *testing.T, msg []byte, max uint8) {
		var cmd protocol.Command
		err := protocol.Decode(&cmd, msg, int(max))
		if msg := compareRef(&cmd, err, msg, int(max)); msg != "" {
			t.Fatalf("%q: %s", cmd.Raw, msg)
		}
		if err == nil && (cmd.Content != nil && !json.Valid(cmd.Content) || !bytes.Equal(cmd.Raw, msg)) {
			t.Fatalf("%q: content %q is not JSON or Raw was changed", msg, cmd.Content)
		}
	})
}

// FuzzDecodePublication checks DecodePublication against the encoding/json
// reference the same way.
func FuzzDecodePublication(f *testing.F) {
	for _, c := range publicationCases {
		addSeed(f, c.body, uint8(c.max))
	}
	f.Fuzz(func(t *testing.T, body []byte, max uint8) {
		var p protocol.Publication
		err := protocol.DecodePublication(&p, body, int(max))
		if msg := comparePublication(&p, err, body, int(max)); msg != "" {
			t.Fatalf("%q: %s", body, msg)
		}
		if err == nil && !json.Valid(p.Content) {
			t.Fatalf("%q: content %q is not JSON", body, p.Content)
		}
	})
}

// FuzzDecodeBatch checks DecodeBatch, the array body of POST /broadcast,
// against the encoding/json reference: same refusal (code and message,
// which names the element), else the same publications.
func FuzzDecodeBatch(f *testing.F) {
	for _, c := range publicationCases {
		addSeed(f, "["+c.body+"]", uint8(c.max))
		addSeed(f, "["+c.body+","+c.body+"]", uint8(c.max))
	}
	f.Fuzz(func(t *testing.T, body []byte, max uint8) {
		if !protocol.IsBatch(body) {
			return
		}
		pubs, err := protocol.DecodeBatch(body, int(max))
		ref, rerr := refDecodeBatch(body, int(max))
		switch {
		case err != nil && err.Code == protocol.ErrBadJSON.Code && !jsonDepthOK(body):
			return // nested deeper than the decoders accept
		case (err == nil) != (rerr == nil) || err != nil && (err.Code != rerr.Code || err.Message != rerr.Message):
			t.Fatalf("%q: DecodeBatch %v, reference %v", body, err, rerr)
		case err == nil && len(pubs) != len(ref):
			t.Fatalf("%q: %d publications, reference %d", body, len(pubs), len(ref))
		}
		for i := range pubs {
			p, r := &pubs[i], ref[i]
			if !bytes.Equal(p.Channel, r.Channel) || !bytes.Equal(p.Content, r.Content) || len(p.Channels) != len(r.Channels) ||
				!targetsOf(&p.Targets).equal(r.Targets) {
				t.Fatalf("%q: publication %d differs from the reference", body, i)
			}
		}
	})
}

// FuzzParseHeader checks ParseHeader against ws.ReadHeader and
// ws.CheckHeader on any bytes.
func FuzzParseHeader(f *testing.F) {
	for _, c := range headerCases {
		f.Add([]byte(c.b), c.limit(), c.fragmented)
	}
	f.Fuzz(func(t *testing.T, b []byte, limit int64, fragmented bool) {
		if limit < 0 {
			limit = -limit
		}
		if msg := compareGobwas(b, limit, fragmented); msg != "" {
			t.Fatalf("% x limit %d fragmented %v: %s", b, limit, fragmented, msg)
		}
	})
}
