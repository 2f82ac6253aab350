package protocol_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gobwas/ws"

	"github.com/wsify/wsify/protocol"
)

// broadcastCases drives TestAppendBroadcastFrame and
// BenchmarkAppendBroadcastFrame.
var broadcastCases = []struct {
	name, channel, content string
}{
	{"plain", "news", `{"title":"hello","n":1}`},
	{"string-content", "news", `"hi"`},
	{"null-content", "n", `null`},
	{"spaced-content", "news", `{ "a" : [ 1 , 2 ] ,"b":"x y" }`},
	{"big-number", "n", `12345678901234567890`},
	{"quote-backslash", `a"b\c`, `1`},
	{"control-chars", "tab\there\nnl\x00nul\x1f\x7f", `1`},
	{"unicode", "ünï😀\u2028", `"ü"`},
	{"html", "</script>&<>", `"<b>"`},
	{"payload-125", "c", jsonString(125 - 26)},
	{"payload-126", "c", jsonString(126 - 26)},
	{"payload-65535", "c", jsonString(65535 - 26)},
	{"payload-65536", "c", jsonString(65536 - 26)},
	{"payload-200000", "chan", jsonString(200000)},
}

// jsonString returns a JSON string n bytes long, quotes included.
func jsonString(n int) string { return `"` + strings.Repeat("x", n-2) + `"` }

// readFrame parses one server frame with gobwas/ws and checks it is a
// final, unmasked text frame that fills b exactly.
func readFrame(t *testing.T, b []byte) []byte {
	t.Helper()
	r := bytes.NewReader(b)
	f, err := ws.ReadFrame(r)
	if err != nil {
		t.Fatalf("ws.ReadFrame: %v", err)
	}
	if h := f.Header; !h.Fin || h.OpCode != ws.OpText || h.Masked || h.Rsv != 0 {
		t.Fatalf("header %+v, want final unmasked text", h)
	}
	if r.Len() != 0 {
		t.Fatalf("%d bytes after the frame", r.Len())
	}
	return f.Payload
}

func TestAppendBroadcastFrame(t *testing.T) {
	for _, c := range broadcastCases {
		t.Run(c.name, func(t *testing.T) {
			prefix := []byte("prefix")
			frame := protocol.AppendBroadcastFrame(prefix, []byte(c.channel), []byte(c.content))
			if !bytes.HasPrefix(frame, []byte("prefix")) {
				t.Fatal("dst prefix lost")
			}
			frame = frame[len(prefix):]
			checkBroadcast(t, readFrame(t, frame), c.channel, c.content)
			if n := protocol.BroadcastFrameLen([]byte(c.channel), []byte(c.content)); n != len(frame) {
				t.Errorf("BroadcastFrameLen = %d, frame is %d bytes", n, len(frame))
			}
			own := protocol.BroadcastFrame([]byte(c.channel), []byte(c.content))
			if !bytes.Equal(own, frame) || cap(own) != len(own) {
				t.Errorf("BroadcastFrame differs or is not sized exactly (len %d cap %d)", len(own), cap(own))
			}
		})
	}
}

func checkBroadcast(t *testing.T, payload []byte, channel, content string) {
	t.Helper()
	var got struct {
		Channel string
		Content json.RawMessage
	}
	if err := json.Unmarshal(payload, &got); err != nil {
		t.Fatalf("payload is not JSON: %v: %q", err, payload)
	}
	if got.Channel != channel || string(got.Content) != content {
		t.Errorf("payload carries %q %s, want %q %s", got.Channel, got.Content, channel, content)
	}
	var keys map[string]json.RawMessage
	json.Unmarshal(payload, &keys)
	if len(keys) != 2 || keys["channel"] == nil || keys["content"] == nil {
		t.Errorf("payload keys %v, want exactly channel and content", keys)
	}
}

func TestAppendOKFrame(t *testing.T) {
	for _, id := range []string{`"abc"`, `42`, `-1.5e3`, `"a\"b\\c"`, `"😀"`, `12345678901234567890`} {
		payload := readFrame(t, protocol.AppendOKFrame(nil, []byte(id)))
		var got struct {
			ID json.RawMessage
			OK *bool
		}
		if err := json.Unmarshal(payload, &got); err != nil || string(got.ID) != id || got.OK == nil || !*got.OK {
			t.Errorf("id %s: payload %s (%v)", id, payload, err)
		}
	}
}

// allErrors are the refusals of errors.go, each with its wire code.
var allErrors = []*protocol.Error{
	protocol.ErrBadJSON, protocol.ErrBadUTF8, protocol.ErrNotObject, protocol.ErrNoCommand,
	protocol.ErrBadID, protocol.ErrBadArgs, protocol.ErrNoContent, protocol.ErrUnknownCommand,
	protocol.ErrBadChannel, protocol.ErrNotAuthorized, protocol.ErrTooManyChannels,
	protocol.ErrRateLimited, protocol.ErrUnavailable,
}

type errorReply struct {
	ID    json.RawMessage
	Error struct{ Code, Message string }
}

func TestAppendErrorFrame(t *testing.T) {
	for _, e := range allErrors {
		for _, id := range []string{"", `"x\"y"`, `7`} {
			var idb []byte
			if id != "" {
				idb = []byte(id)
			}
			payload := readFrame(t, protocol.AppendErrorFrame([]byte{}, idb, e))
			checkErrorJSON(t, payload, id, e)
			checkErrorJSON(t, protocol.AppendErrorJSON(nil, idb, e), id, e)
		}
	}
}

func checkErrorJSON(t *testing.T, payload []byte, id string, e *protocol.Error) {
	t.Helper()
	var got errorReply
	if err := json.Unmarshal(payload, &got); err != nil {
		t.Fatalf("%s: not JSON: %v: %s", e.Code, err, payload)
	}
	if string(got.ID) != id || got.Error.Code != e.Code || got.Error.Message != e.Message {
		t.Errorf("%s: payload %s, want id %q", e.Code, payload, id)
	}
	if id == "" && bytes.Contains(payload, []byte(`"id"`)) {
		t.Errorf("%s: payload %s carries an id that was not given", e.Code, payload)
	}
}

// TestAppendHeader compares the server frame headers with what
// ws.WriteHeader writes for the same frame, across the length boundaries.
func TestAppendHeader(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 1 << 24} {
		for _, op := range []ws.OpCode{ws.OpText, ws.OpBinary, ws.OpClose, ws.OpPing, ws.OpPong} {
			var want bytes.Buffer
			ws.WriteHeader(&want, ws.Header{Fin: true, OpCode: op, Length: int64(n)})
			got := protocol.AppendHeader(nil, op, n)
			if !bytes.Equal(got, want.Bytes()) || protocol.HeaderLen(n) != len(got) {
				t.Errorf("op %d len %d: % x (HeaderLen %d), want % x", op, n, got, protocol.HeaderLen(n), want.Bytes())
			}
		}
	}
}

func TestAppendFrameAllocs(t *testing.T) {
	channel, content := []byte("news"), []byte(`{"title":"hello","n":1}`)
	id := []byte(`"req-1"`)
	buf := make([]byte, 0, 256)
	if a := testing.AllocsPerRun(1000, func() {
		buf = protocol.AppendBroadcastFrame(buf[:0], channel, content)
	}); a != 0 {
		t.Errorf("AppendBroadcastFrame into a reused buffer allocates %v times", a)
	}
	if a := testing.AllocsPerRun(1000, func() {
		buf = protocol.AppendOKFrame(buf[:0], id)
	}); a != 0 {
		t.Errorf("AppendOKFrame into a reused buffer allocates %v times", a)
	}
}

func TestAppendErrorFrameAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector copies the []byte(string) conversions of the error texts")
	}
	id := []byte(`"req-1"`)
	if a := testing.AllocsPerRun(1000, func() {
		protocol.AppendErrorFrame(nil, id, protocol.ErrBadChannel)
	}); a != 1 {
		t.Errorf("AppendErrorFrame into a nil buffer allocates %v times, want 1", a)
	}
}

func BenchmarkAppendBroadcastFrame(b *testing.B) {
	for _, c := range broadcastCases {
		channel, content := []byte(c.channel), []byte(c.content)
		buf := make([]byte, 0, protocol.BroadcastFrameLen(channel, content))
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(cap(buf)))
			for b.Loop() {
				buf = protocol.AppendBroadcastFrame(buf[:0], channel, content)
			}
		})
	}
}
