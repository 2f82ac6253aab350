package protocol_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wsify/wsify/protocol"
)

// publicationCases drives TestDecodePublication and
// BenchmarkDecodePublication.
var publicationCases = []struct {
	name    string
	body    string
	max     int
	channel string
	content string
	err     *protocol.Error
}{
	{name: "flat", body: `{"channel":"news","content":{"title":"hello"}}`, channel: "news", content: `{"title":"hello"}`},
	{name: "args", body: `{"channel":"news","args":{"content":[1, 2]}}`, channel: "news", content: `[1, 2]`},
	{name: "flat-wins-over-args", body: `{"args":{"content":2},"channel":"n","content":1}`, channel: "n", content: `1`},
	{name: "flat-null", body: `{"channel":"n","content":null,"args":{"content":2}}`, channel: "n", content: `null`},
	{name: "args-duplicate", body: `{"channel":"n","args":{"content":1,"content":2}}`, channel: "n", content: `2`},
	{name: "spaces-kept", body: " {\n \"channel\" : \" n \" ,\n \"content\" : { \"a\" : 1 } }\n", channel: "n", content: `{ "a" : 1 }`},
	{name: "big-int", body: `{"channel":"n","content":12345678901234567890}`, channel: "n", content: `12345678901234567890`},
	{name: "escaped-keys", body: `{"ch\u0061nnel":"ch\u0061n","\u0061rgs":{"c\u006fntent":true}}`, channel: "chan", content: `true`},
	{name: "surrogates", body: `{"channel":"\ud83d\ude00\ud83d","content":0}`, channel: "😀\uFFFD", content: `0`},
	{name: "unknown-keys", body: `{"command":"join","channel":"n","x":{"content":1},"content":"y"}`, channel: "n", content: `"y"`},
	{name: "at-limit", body: `{"channel":"abc","content":1}`, max: 3, channel: "abc", content: `1`},
	{name: "over-limit", body: `{"channel":"abcd","content":1}`, max: 3, err: protocol.ErrBadChannel},
	{name: "over-default-limit", body: `{"channel":"` + strings.Repeat("a", 257) + `","content":1}`, err: protocol.ErrBadChannel},
	{name: "no-channel", body: `{"content":1}`, err: protocol.ErrBadChannel},
	{name: "channel-number", body: `{"channel":1,"content":1}`, err: protocol.ErrBadChannel},
	{name: "channel-blank", body: `{"channel":" ","content":1}`, err: protocol.ErrBadChannel},
	{name: "no-content", body: `{"channel":"n"}`, err: protocol.ErrNoContent},
	{name: "args-not-object", body: `{"channel":"n","args":[{"content":1}]}`, err: protocol.ErrNoContent},
	{name: "args-without-content", body: `{"channel":"n","args":{"x":1}}`, err: protocol.ErrNoContent},
	{name: "bad-utf8", body: "{\"channel\":\"\xff\",\"content\":1}", err: protocol.ErrBadUTF8},
	{name: "bad-json", body: `{"channel":"n","content":}`, err: protocol.ErrBadJSON},
	{name: "bad-json/trailing", body: `{"channel":"n","content":1}]`, err: protocol.ErrBadJSON},
	{name: "bad-json/empty", body: ``, err: protocol.ErrBadJSON},
	{name: "bad-json/deep", body: `{"channel":"n","content":` + nest(1000, "") + `}`, err: protocol.ErrBadJSON},
	{name: "not-object", body: `[{"channel":"n","content":1}]`, err: protocol.ErrNotObject},
}

func TestDecodePublication(t *testing.T) {
	for _, c := range publicationCases {
		t.Run(c.name, func(t *testing.T) {
			var p protocol.Publication
			err := protocol.DecodePublication(&p, []byte(c.body), c.max)
			if err != c.err {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if err == nil && (string(p.Channel) != c.channel || string(p.Content) != c.content) {
				t.Errorf("got %q %q, want %q %q", p.Channel, p.Content, c.channel, c.content)
			}
			if msg := comparePublication(&p, err, []byte(c.body), c.max); msg != "" {
				t.Error(msg)
			}
		})
	}
}

// comparePublication returns how DecodePublication differs from the
// encoding/json reference, or "" when they agree.
func comparePublication(p *protocol.Publication, err *protocol.Error, body []byte, max int) string {
	ref, rerr := refDecodePublication(body, max)
	switch {
	case err == protocol.ErrBadJSON && rerr != protocol.ErrBadJSON && !jsonDepthOK(body):
		return ""
	case err != rerr:
		return "DecodePublication: " + errString(err) + ", encoding/json reference: " + errString(rerr)
	case err == nil && (!bytes.Equal(p.Channel, ref.Channel) || !bytes.Equal(p.Content, ref.Content)):
		return "publication differs from the reference"
	}
	return ""
}

func TestDecodePublicationAllocs(t *testing.T) {
	body := []byte(`{"channel":"news","args":{"content":{"title":"hello"}}}`)
	var p protocol.Publication
	if a := testing.AllocsPerRun(1000, func() { protocol.DecodePublication(&p, body, 0) }); a != 0 {
		t.Fatalf("DecodePublication of a plain channel name allocates %v times per call", a)
	}
}

func BenchmarkDecodePublication(b *testing.B) {
	for _, c := range publicationCases {
		body := []byte(c.body)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			var p protocol.Publication
			for b.Loop() {
				protocol.DecodePublication(&p, body, c.max)
			}
		})
	}
}
