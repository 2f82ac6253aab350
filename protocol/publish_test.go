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
	{name: "to", body: `{"channel":"n","content":1,"to":["alice","bob"],"except":"ab-7"}`, channel: "n", content: "1"},
	{name: "to/bad", body: `{"channel":"n","content":1,"to":[1]}`, err: protocol.ErrBadTo},
	{name: "except/bad", body: `{"channel":"n","content":1,"except":7}`, err: protocol.ErrBadExcept},
	{name: "except/empty", body: `{"channel":"n","content":1,"except":""}`, err: protocol.ErrBadExcept},
	{name: "echo-ignored", body: `{"channel":"n","content":1,"echo":"no"}`, channel: "n", content: "1"},
	{name: "channels", body: `{"channels":["a"," b ","c"],"content":1}`, content: "1"},
	{name: "channels/both", body: `{"channel":"a","channels":["b"],"content":1}`, err: protocol.ErrChannelAndList},
	{name: "channels/empty", body: `{"channels":[],"content":1}`, err: protocol.ErrBadChannels},
	{name: "channels/not-array", body: `{"channels":"a","content":1}`, err: protocol.ErrBadChannels},
	{name: "channels/bad-name", body: `{"channels":["a",""],"content":1}`, err: protocol.ErrBadChannels},
	{name: "channels/at-limit", body: `{"channels":[` + strings.Repeat(`"a",`, 99) + `"a"],"content":1}`, content: "1"},
	{name: "channels/over-limit", body: `{"channels":[` + strings.Repeat(`"a",`, 100) + `"a"],"content":1}`, err: protocol.ErrBadChannels},
}

// TestDecodePublicationTargets checks what the table's targeted cases
// decode to.
func TestDecodePublicationTargets(t *testing.T) {
	var p protocol.Publication
	if err := protocol.DecodePublication(&p, []byte(`{"channels":["a"," b "],"content":1,"to":["al\u0069ce"],"except":"n-7"}`), 0); err != nil {
		t.Fatal(err)
	}
	if p.Channel != nil || len(p.Channels) != 2 || string(p.Channels[1]) != "b" || p.Count() != 2 {
		t.Fatalf("channels %q, channel %q", p.Channels, p.Channel)
	}
	if tg := p.Targets; !tg.Only || len(tg.To) != 1 || string(tg.To[0]) != "alice" || string(tg.Except) != "n-7" || !tg.Narrowed() {
		t.Fatalf("targets %+v", tg)
	}
	if protocol.DecodePublication(&p, []byte(`{"channel":"a","content":1}`), 0) != nil || p.Targets.Narrowed() || p.Count() != 1 {
		t.Fatalf("a plain publication is narrowed: %+v", p)
	}
}

func TestDecodeBatch(t *testing.T) {
	many := func(n int) string {
		return "[" + strings.Repeat(`{"channel":"a","content":1},`, n-1) + `{"channel":"a","content":1}]`
	}
	for _, c := range []struct {
		name, body string
		n          int
		code, msg  string
	}{
		{name: "two", body: ` [{"channel":"a","content":1}, {"channels":["b","c"],"content":2,"to":["u"]}] `, n: 2},
		{name: "at-limit", body: many(100), n: 100},
		{name: "over-limit", body: many(101), code: "bad_command", msg: protocol.ErrBadBatch.Message},
		{name: "over-limit-by-channels", body: `[{"channels":[` + strings.Repeat(`"a",`, 99) + `"a"],"content":1},{"channel":"b","content":1}]`,
			code: "bad_command", msg: protocol.ErrBadBatch.Message},
		{name: "empty", body: `[]`, code: "bad_command", msg: protocol.ErrBadBatch.Message},
		{name: "bad-element", body: `[{"channel":"a","content":1},{"channel":"a"}]`, code: "bad_command", msg: "publication 1: " + protocol.ErrNoContent.Message},
		{name: "not-object", body: `[{"channel":"a","content":1},2]`, code: "bad_command", msg: "publication 1: " + protocol.ErrNotObject.Message},
		{name: "bad-json", body: `[{"channel":"a","content":1},]`, code: "bad_json"},
		{name: "bad-utf8", body: "[{\"channel\":\"\xff\",\"content\":1}]", code: "bad_json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !protocol.IsBatch([]byte(c.body)) {
				t.Fatal("not taken as a batch")
			}
			pubs, err := protocol.DecodeBatch([]byte(c.body), 0)
			switch {
			case c.code == "" && (err != nil || len(pubs) != c.n):
				t.Fatalf("%d publications, %v; want %d", len(pubs), err, c.n)
			case c.code != "" && (err == nil || err.Code != c.code || (c.msg != "" && err.Message != c.msg)):
				t.Fatalf("err %v, want %s %q", err, c.code, c.msg)
			}
		})
	}
	if protocol.IsBatch([]byte(` {"channel":"a","content":1}`)) {
		t.Fatal("an object taken as a batch")
	}
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
	case err == nil && (!bytes.Equal(bytes.Join(p.Channels, []byte{0}), bytes.Join(ref.Channels, []byte{0})) ||
		(p.Channels == nil) != (ref.Channels == nil)):
		return "channels differ from the reference"
	case err == nil && !targetsOf(&p.Targets).equal(ref.Targets):
		return "targets differ from the reference"
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
