package protocol_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wsify/wsify/protocol"
)

type decodeCase struct {
	name    string
	msg     string
	max     int // channel limit; 0 is the default
	kind    protocol.Kind
	id      string
	channel string
	content string
	err     *protocol.Error
}

const (
	join  = protocol.KindJoin
	leave = protocol.KindLeave
	bcast = protocol.KindBroadcast
)

// nest returns content nested depth arrays deep.
func nest(depth int, content string) string {
	return strings.Repeat("[", depth) + content + strings.Repeat("]", depth)
}

func broadcastOf(content string) string {
	return `{"command":"broadcast","args":{"channel":"c","content":` + content + `}}`
}

// decodeCases drives TestDecode, BenchmarkDecode and
// BenchmarkDecodeEncodingJSON.
var decodeCases = []decodeCase{
	{name: "join", msg: `{"command":"join","args":{"channel":"news"}}`, kind: join, channel: "news"},
	{name: "leave", msg: `{"command":"leave","args":{"channel":"news"}}`, kind: leave, channel: "news"},
	{name: "broadcast", msg: `{"command":"broadcast","args":{"channel":"news","content":{"title":"hello","n":1}}}`,
		kind: bcast, channel: "news", content: `{"title":"hello","n":1}`},
	{name: "id/string", msg: `{"id":"r1","command":"join","args":{"channel":"a"}}`, kind: join, id: `"r1"`, channel: "a"},
	{name: "id/number", msg: `{"command":"join","args":{"channel":"a"},"id":-1.5e3}`, kind: join, id: `-1.5e3`, channel: "a"},
	{name: "id/escaped", msg: `{"id":"a\"b","command":"join","args":{"channel":"a"}}`, kind: join, id: `"a\"b"`, channel: "a"},
	{name: "spaces-around", msg: " \t\r\n{ \"command\" : \"join\" , \"args\" : { \"channel\" : \"a\" } } \n", kind: join, channel: "a"},
	{name: "escaped-keys", msg: `{"c\u006fmmand":"join","\u0061rgs":{"ch\u0061nnel":"a"}}`, kind: join, channel: "a"},
	{name: "escaped-key/all", msg: `{"\u0063\u006f\u006d\u006d\u0061\u006e\u0064":"join","args":{"channel":"a"}}`, kind: join, channel: "a"},
	{name: "escaped-command", msg: `{"command":"j\u006fin","args":{"channel":"a"}}`, kind: join, channel: "a"},
	{name: "channel/escape", msg: `{"command":"join","args":{"channel":"ch\u0061n"}}`, kind: join, channel: "chan"},
	{name: "channel/short-escapes", msg: `{"command":"join","args":{"channel":"\"\\\/\b\f\n\r\tx"}}`, kind: join, channel: "\"\\/\b\f\n\r\tx"},
	{name: "channel/surrogate-pair", msg: `{"command":"join","args":{"channel":"\ud83d\ude00"}}`, kind: join, channel: "😀"},
	{name: "channel/lone-high", msg: `{"command":"join","args":{"channel":"a\ud83d"}}`, kind: join, channel: "a\uFFFD"},
	{name: "channel/lone-low", msg: `{"command":"join","args":{"channel":"\ude00b"}}`, kind: join, channel: "\uFFFDb"},
	{name: "channel/high-then-bmp", msg: `{"command":"join","args":{"channel":"\ud83d\u0041"}}`, kind: join, channel: "\uFFFDA"},
	{name: "channel/high-high-low", msg: `{"command":"join","args":{"channel":"\ud83d\ud83d\ude00"}}`, kind: join, channel: "\uFFFD😀"},
	{name: "channel/nul", msg: `{"command":"join","args":{"channel":"a\u0000b"}}`, kind: join, channel: "a\x00b"},
	{name: "channel/utf8", msg: `{"command":"join","args":{"channel":"ünï😀"}}`, kind: join, channel: "ünï😀"},
	{name: "channel/trim", msg: `{"command":"join","args":{"channel":"  news \t"}}`, kind: join, channel: "news"},
	{name: "channel/trim-escaped", msg: `{"command":"join","args":{"channel":"\n\t news\r\u0020"}}`, kind: join, channel: "news"},
	{name: "channel/trim-unicode", msg: "{\"command\":\"join\",\"args\":{\"channel\":\"\u00a0news\u3000\"}}", kind: join, channel: "news"},
	{name: "channel/inner-space", msg: `{"command":"join","args":{"channel":" a b "}}`, kind: join, channel: "a b"},
	{name: "channel/only-spaces", msg: `{"command":"join","args":{"channel":"  \t "}}`, err: protocol.ErrBadChannel},
	{name: "channel/empty", msg: `{"command":"join","args":{"channel":""}}`, err: protocol.ErrBadChannel},
	{name: "channel/missing", msg: `{"command":"join","args":{}}`, err: protocol.ErrBadChannel},
	{name: "channel/number", msg: `{"command":"join","args":{"channel":5}}`, err: protocol.ErrBadChannel},
	{name: "channel/null", msg: `{"command":"join","args":{"channel":null}}`, err: protocol.ErrBadChannel},
	{name: "channel/object", msg: `{"command":"join","args":{"channel":{"a":"b"}}}`, err: protocol.ErrBadChannel},
	{name: "channel/array", msg: `{"command":"join","args":{"channel":["a"]}}`, err: protocol.ErrBadChannel},
	{name: "channel/at-limit", msg: `{"command":"join","args":{"channel":"abcd"}}`, max: 4, kind: join, channel: "abcd"},
	{name: "channel/over-limit", msg: `{"command":"join","args":{"channel":"abcde"}}`, max: 4, err: protocol.ErrBadChannel},
	{name: "channel/limit-after-unescape", msg: `{"command":"join","args":{"channel":"\u0061\u0062cd"}}`, max: 4, kind: join, channel: "abcd"},
	{name: "channel/limit-after-trim", msg: `{"command":"join","args":{"channel":"  abcd  "}}`, max: 4, kind: join, channel: "abcd"},
	{name: "channel/limit-bytes", msg: `{"command":"join","args":{"channel":"ééé"}}`, max: 5, err: protocol.ErrBadChannel},
	{name: "channel/default-limit", msg: `{"command":"join","args":{"channel":"` + strings.Repeat("a", 256) + `"}}`,
		kind: join, channel: strings.Repeat("a", 256)},
	{name: "channel/over-default-limit", msg: `{"command":"join","args":{"channel":"` + strings.Repeat("a", 257) + `"}}`,
		err: protocol.ErrBadChannel},
	{name: "duplicate/command", msg: `{"command":"leave","args":{"channel":"a"},"command":"join"}`, kind: join, channel: "a"},
	{name: "duplicate/channel", msg: `{"command":"join","args":{"channel":"a","channel":"b"}}`, kind: join, channel: "b"},
	{name: "duplicate/args", msg: `{"command":"join","args":{"channel":"a"},"args":{"channel":"b"}}`, kind: join, channel: "b"},
	{name: "duplicate/id", msg: `{"id":1,"command":"join","args":{"channel":"a"},"id":2}`, kind: join, id: "2", channel: "a"},
	{name: "unknown-keys", msg: `{"x":[1,{"command":"leave"}],"command":"join","y":null,"args":{"z":{"channel":"no"},"channel":"a"}}`,
		kind: join, channel: "a"},
	{name: "case-sensitive-keys", msg: `{"Command":"leave","command":"join","args":{"Channel":"x","channel":"a"}}`, kind: join, channel: "a"},
	{name: "content/spaces-kept", msg: broadcastOf(`{ "a" : [ 1 , 2 ] ,"b":"x y" }`), kind: bcast, channel: "c",
		content: `{ "a" : [ 1 , 2 ] ,"b":"x y" }`},
	{name: "content/big-int", msg: broadcastOf(`12345678901234567890`), kind: bcast, channel: "c", content: `12345678901234567890`},
	{name: "content/float-exact", msg: broadcastOf(`1.000000000000000000001e400`), kind: bcast, channel: "c",
		content: `1.000000000000000000001e400`},
	{name: "content/null", msg: broadcastOf(`null`), kind: bcast, channel: "c", content: `null`},
	{name: "content/escaped-string", msg: broadcastOf(`"\u00e9\n\ud83d"`), kind: bcast, channel: "c", content: `"\u00e9\n\ud83d"`},
	{name: "content/nested-500", msg: broadcastOf(nest(500, "1")), kind: bcast, channel: "c", content: nest(500, "1")},
	{name: "content/join-ignored", msg: `{"command":"join","args":{"channel":"a","content":[1]}}`, kind: join, channel: "a", content: "[1]"},
	{name: "content/missing", msg: `{"command":"broadcast","args":{"channel":"a"}}`, err: protocol.ErrNoContent},
	{name: "to/users", msg: `{"command":"broadcast","args":{"channel":"c","content":1,"to":["alice","b\u00f6b"]}}`, kind: bcast, channel: "c", content: "1"},
	{name: "to/empty", msg: `{"command":"broadcast","args":{"channel":"c","content":1,"to":[]}}`, kind: bcast, channel: "c", content: "1"},
	{name: "to/ignored-on-join", msg: `{"command":"join","args":{"channel":"c","to":7,"echo":3}}`, kind: join, channel: "c"},
	{name: "to/not-array", msg: `{"command":"broadcast","args":{"channel":"c","content":1,"to":"alice"}}`, err: protocol.ErrBadTo},
	{name: "to/null", msg: `{"command":"broadcast","args":{"channel":"c","content":1,"to":null}}`, err: protocol.ErrBadTo},
	{name: "to/number", msg: `{"command":"broadcast","args":{"channel":"c","content":1,"to":["a",1]}}`, err: protocol.ErrBadTo},
	{name: "to/empty-name", msg: `{"command":"broadcast","args":{"channel":"c","content":1,"to":[""]}}`, err: protocol.ErrBadTo},
	{name: "to/long-name", msg: `{"command":"broadcast","args":{"channel":"c","content":1,"to":["` + strings.Repeat("u", 257) + `"]}}`, err: protocol.ErrBadTo},
	{name: "to/at-limit", msg: `{"command":"broadcast","args":{"channel":"c","content":1,"to":[` + strings.Repeat(`"u",`, 999) + `"u"]}}`, kind: bcast, channel: "c", content: "1"},
	{name: "to/over-limit", msg: `{"command":"broadcast","args":{"channel":"c","content":1,"to":[` + strings.Repeat(`"u",`, 1000) + `"u"]}}`, err: protocol.ErrBadTo},
	{name: "echo/false", msg: `{"command":"broadcast","args":{"channel":"c","content":1,"echo":false}}`, kind: bcast, channel: "c", content: "1"},
	{name: "echo/true", msg: `{"command":"broadcast","args":{"channel":"c","content":1,"echo":true}}`, kind: bcast, channel: "c", content: "1"},
	{name: "echo/string", msg: `{"command":"broadcast","args":{"channel":"c","content":1,"echo":"false"}}`, err: protocol.ErrBadEcho},
	{name: "content/nested-600", msg: broadcastOf(nest(600, "1")), err: protocol.ErrBadJSON},
	{name: "content/nested-100000", msg: broadcastOf(nest(100000, "")), err: protocol.ErrBadJSON},
	{name: "content/objects-100000", msg: broadcastOf(strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000)),
		err: protocol.ErrBadJSON},
	{name: "content/unclosed-100000", msg: broadcastOf(strings.Repeat("[", 100000)), err: protocol.ErrBadJSON},
	{name: "bad-utf8", msg: "{\"command\":\"join\",\"args\":{\"channel\":\"a\xff\"}}", err: protocol.ErrBadUTF8},
	{name: "bad-utf8/surrogate", msg: "{\"command\":\"join\",\"args\":{\"channel\":\"\xed\xa0\x80\"}}", err: protocol.ErrBadUTF8},
	{name: "bad-utf8/overlong", msg: "{\"command\":\"join\",\"args\":{\"channel\":\"\xc0\xaf\"}}", err: protocol.ErrBadUTF8},
	{name: "bad-utf8/not-json-either", msg: "\xff", err: protocol.ErrBadUTF8},
	{name: "bad-json/empty", msg: ``, err: protocol.ErrBadJSON},
	{name: "bad-json/spaces", msg: `   `, err: protocol.ErrBadJSON},
	{name: "bad-json/truncated", msg: `{"command":"join","args":{"channel":"a"}`, err: protocol.ErrBadJSON},
	{name: "bad-json/trailing", msg: `{"command":"join","args":{"channel":"a"}} x`, err: protocol.ErrBadJSON},
	{name: "bad-json/two-objects", msg: `{"command":"join","args":{"channel":"a"}}{}`, err: protocol.ErrBadJSON},
	{name: "bad-json/trailing-comma", msg: `{"command":"join","args":{"channel":"a"},}`, err: protocol.ErrBadJSON},
	{name: "bad-json/single-quotes", msg: `{'command':'join'}`, err: protocol.ErrBadJSON},
	{name: "bad-json/control-char", msg: "{\"command\":\"join\",\"args\":{\"channel\":\"a\tb\"}}", err: protocol.ErrBadJSON},
	{name: "bad-json/bad-escape", msg: `{"command":"join","args":{"channel":"a\x"}}`, err: protocol.ErrBadJSON},
	{name: "bad-json/short-u-escape", msg: `{"command":"join","args":{"channel":"\u12"}}`, err: protocol.ErrBadJSON},
	{name: "bad-json/leading-zero", msg: broadcastOf(`01`), err: protocol.ErrBadJSON},
	{name: "bad-json/bare-minus", msg: broadcastOf(`-`), err: protocol.ErrBadJSON},
	{name: "bad-json/dot", msg: broadcastOf(`1.`), err: protocol.ErrBadJSON},
	{name: "bad-json/exponent", msg: broadcastOf(`1e`), err: protocol.ErrBadJSON},
	{name: "bad-json/literal", msg: broadcastOf(`nul`), err: protocol.ErrBadJSON},
	{name: "bad-json/literal-case", msg: broadcastOf(`True`), err: protocol.ErrBadJSON},
	{name: "bad-json/not-object", msg: `nope`, err: protocol.ErrBadJSON},
	{name: "not-object/array", msg: ` [1,2]`, err: protocol.ErrNotObject},
	{name: "not-object/string", msg: `"join"`, err: protocol.ErrNotObject},
	{name: "not-object/null", msg: `null`, err: protocol.ErrNotObject},
	{name: "no-command", msg: `{"args":{"channel":"a"}}`, err: protocol.ErrNoCommand},
	{name: "no-command/number", msg: `{"command":1,"args":{"channel":"a"}}`, err: protocol.ErrNoCommand},
	{name: "no-command/null", msg: `{"command":null,"args":{"channel":"a"}}`, err: protocol.ErrNoCommand},
	{name: "presence", msg: `{"command":"presence","args":{"channel":" room "},"id":1}`, kind: protocol.KindPresence, id: "1", channel: "room"},
	{name: "presence_stats", msg: `{"command":"presence_stats","args":{"channel":"room","content":1}}`, kind: protocol.KindPresenceStats, channel: "room", content: "1"},
	{name: "presence/no-channel", msg: `{"command":"presence","args":{}}`, err: protocol.ErrBadChannel},
	{name: "history", msg: `{"command":"history","args":{"channel":"a","limit":5,"since":{"offset":9007199254740991,"epoch":"e\\u0041"}}}`, kind: protocol.KindHistory, channel: "a"},
	{name: "history/limit", msg: `{"command":"history","args":{"channel":"a","limit":-1}}`, err: protocol.ErrBadLimit},
	{name: "history/limit-float", msg: `{"command":"history","args":{"channel":"a","limit":1.5}}`, err: protocol.ErrBadLimit},
	{name: "join/since-big", msg: `{"command":"join","args":{"channel":"a","since":{"offset":9007199254740992,"epoch":"e"}}}`, err: protocol.ErrBadSince},
	{name: "join/since-epoch", msg: `{"command":"join","args":{"channel":"a","since":{"offset":1,"epoch":1}}}`, err: protocol.ErrBadSince},
	{name: "join/since-array", msg: `{"command":"join","args":{"channel":"a","since":[1]}}`, err: protocol.ErrBadSince},
	{name: "leave/since-ignored", msg: `{"command":"leave","args":{"channel":"a","since":[1]}}`, kind: protocol.KindLeave, channel: "a"},
	{name: "whoami", msg: `{"command":"whoami","args":{"channel":1,"content":2},"id":"w"}`, kind: protocol.KindWhoami, id: `"w"`},
	{name: "whoami/no-args", msg: `{"command":"whoami"}`, err: protocol.ErrBadArgs},
	{name: "presence/case", msg: `{"command":"Presence","args":{"channel":"a"}}`, err: protocol.ErrUnknownCommand},
	{name: "unknown-command", msg: `{"command":"subscribe","args":{"channel":"a"}}`, err: protocol.ErrUnknownCommand},
	{name: "unknown-command/empty", msg: `{"command":"","args":{"channel":"a"}}`, err: protocol.ErrUnknownCommand},
	{name: "unknown-command/case", msg: `{"command":"JOIN","args":{"channel":"a"}}`, err: protocol.ErrUnknownCommand},
	{name: "unknown-command/space", msg: `{"command":"join ","args":{"channel":"a"}}`, err: protocol.ErrUnknownCommand},
	{name: "unknown-command/keeps-id", msg: `{"id":7,"command":"nope"}`, id: "7", err: protocol.ErrUnknownCommand},
	{name: "bad-args/missing", msg: `{"id":"x","command":"join"}`, id: `"x"`, err: protocol.ErrBadArgs},
	{name: "bad-args/array", msg: `{"command":"join","args":["a"]}`, err: protocol.ErrBadArgs},
	{name: "bad-args/null", msg: `{"command":"join","args":null}`, err: protocol.ErrBadArgs},
	{name: "bad-args/string", msg: `{"command":"join","args":"a"}`, err: protocol.ErrBadArgs},
	{name: "bad-id/null", msg: `{"id":null,"command":"join","args":{"channel":"a"}}`, err: protocol.ErrBadID},
	{name: "bad-id/bool", msg: `{"id":true,"command":"join","args":{"channel":"a"}}`, err: protocol.ErrBadID},
	{name: "bad-id/object", msg: `{"id":{},"command":"join","args":{"channel":"a"}}`, err: protocol.ErrBadID},
	{name: "bad-id/before-command", msg: `{"id":[1]}`, err: protocol.ErrBadID},
}

// decodeErrors are the refusals Decode can return; TestDecode checks the
// table holds each of them.
var decodeErrors = []*protocol.Error{
	protocol.ErrBadJSON, protocol.ErrBadUTF8, protocol.ErrNotObject, protocol.ErrNoCommand, protocol.ErrBadID,
	protocol.ErrBadArgs, protocol.ErrNoContent, protocol.ErrUnknownCommand, protocol.ErrBadChannel,
	protocol.ErrBadTo, protocol.ErrBadEcho,
}

func TestDecode(t *testing.T) {
	seen := map[*protocol.Error]bool{}
	for _, c := range decodeCases {
		seen[c.err] = true
		t.Run(c.name, func(t *testing.T) {
			var cmd protocol.Command
			err := protocol.Decode(&cmd, []byte(c.msg), c.max)
			checkDecoded(t, c, &cmd, err)
			if msg := compareRef(&cmd, err, []byte(c.msg), c.max); msg != "" {
				t.Error(msg)
			}
		})
	}
	for _, e := range decodeErrors {
		if !seen[e] {
			t.Errorf("no case of the table returns %q (%s)", e.Code, e.Message)
		}
	}
}

func checkDecoded(t *testing.T, c decodeCase, cmd *protocol.Command, err *protocol.Error) {
	t.Helper()
	if err != c.err {
		t.Fatalf("err = %v, want %v", err, c.err)
	}
	if string(cmd.Raw) != c.msg || string(cmd.ID) != c.id || (c.id == "") != (cmd.ID == nil) {
		t.Errorf("Raw %q ID %q, want ID %q", cmd.Raw, cmd.ID, c.id)
	}
	if err != nil {
		return
	}
	if cmd.Kind != c.kind || string(cmd.Channel) != c.channel || string(cmd.Content) != c.content {
		t.Errorf("got %v %q %q, want %v %q %q", cmd.Kind, cmd.Channel, cmd.Content, c.kind, c.channel, c.content)
	}
	if (c.content == "") != (cmd.Content == nil) {
		t.Errorf("Content nil = %v, want %v", cmd.Content == nil, c.content == "")
	}
}

// compareRef returns how Decode's result differs from the encoding/json
// reference on the same message, or "" when they agree.
func compareRef(cmd *protocol.Command, err *protocol.Error, msg []byte, max int) string {
	ref, rerr := refDecode(msg, max)
	switch {
	case err == protocol.ErrBadJSON && rerr != protocol.ErrBadJSON && !jsonDepthOK(msg):
		return "" // nested deeper than Decode accepts
	case err != rerr:
		return "Decode: " + errString(err) + ", encoding/json reference: " + errString(rerr)
	case !bytes.Equal(cmd.ID, ref.ID):
		return "ID " + string(cmd.ID) + ", reference " + string(ref.ID)
	case err != nil:
		return ""
	case cmd.Kind != ref.Kind || !bytes.Equal(cmd.Channel, ref.Channel) || !bytes.Equal(cmd.Content, ref.Content):
		return "command differs from the reference: " + string(cmd.Channel) + " / " + string(ref.Channel)
	case !targetsOf(&cmd.Targets).equal(ref.Targets):
		return "targets differ from the reference"
	}
	return ""
}

func TestDecodeAllocs(t *testing.T) {
	msg := []byte(`{"id":1,"command":"broadcast","args":{"channel":"news","content":{"title":"hello","n":[1,2,3]}}}`)
	var cmd protocol.Command
	allocs := testing.AllocsPerRun(1000, func() {
		if protocol.Decode(&cmd, msg, 0) != nil {
			panic("decode failed")
		}
	})
	if allocs != 0 {
		t.Fatalf("Decode of a plain channel name allocates %v times per call", allocs)
	}
}

func TestValidAllocs(t *testing.T) {
	msg := []byte(`{"a":[1,2.5e3,"x\u00e9",true,false,null,{"b":{}}]}`)
	if a := testing.AllocsPerRun(1000, func() { protocol.Valid(msg) }); a != 0 {
		t.Fatalf("Valid allocates %v times per call", a)
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, c := range decodeCases {
		msg := []byte(c.msg)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			var cmd protocol.Command
			for b.Loop() {
				protocol.Decode(&cmd, msg, c.max)
			}
		})
	}
}

// jsonCommand is what a decoder built on encoding/json would fill; it is the
// baseline BenchmarkDecodeEncodingJSON measures Decode against.
type jsonCommand struct {
	ID      json.RawMessage `json:"id"`
	Command string          `json:"command"`
	Args    struct {
		Channel string          `json:"channel"`
		Content json.RawMessage `json:"content"`
	} `json:"args"`
}

// BenchmarkDecodeEncodingJSON decodes the messages Decode accepts with
// encoding/json, to show what the hand-written decoder saves.
func BenchmarkDecodeEncodingJSON(b *testing.B) {
	for _, c := range decodeCases {
		if c.err != nil {
			continue
		}
		msg := []byte(c.msg)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				var cmd jsonCommand
				json.Unmarshal(msg, &cmd)
			}
		})
	}
}
