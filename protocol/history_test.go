package protocol

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestHistoryFrameCarriesTheOffsetAndGivesBackTheContent(t *testing.T) {
	for _, content := range []string{`1`, `{"a":",\"content\":"}`, strings.Repeat("x", 200), `"` + strings.Repeat("y", 70000) + `"`} {
		ch := []byte(`a","content":`)
		f := HistoryFrame(ch, 42, []byte(content))
		if !IsServerTextFrame(f) {
			t.Fatal("not a text frame")
		}
		payload := f[len(f)-len(content)-len(`{"channel":"a\",\"content\":","offset":42,"content":}`):]
		want := `{"channel":"a\",\"content\":","offset":42,"content":` + content + `}`
		if string(payload) != want {
			t.Fatalf("payload = %.80s, want %.80s", payload, want)
		}
		if got := HistoryContent(f); string(got) != content {
			t.Fatalf("content = %.40s, want %.40s", got, content)
		}
	}
}

func TestDecodeReadsSinceAndLimit(t *testing.T) {
	var c Command
	msg := `{"command":"history","args":{"channel":"news","limit":5000,"since":{"offset":7,"epoch":"e\u0031"}},"id":1}`
	if err := Decode(&c, []byte(msg), 0); err != nil {
		t.Fatal(err)
	}
	if c.Kind != KindHistory || c.Limit != MaxHistoryLimit || !c.Since.Given || c.Since.Offset != 7 || string(c.Since.Epoch) != "e1" {
		t.Fatalf("decoded %+v", c)
	}
	body := AppendHistoryArgs(nil, &c)
	if string(body) != `,"limit":1000,"since":{"offset":7,"epoch":"e1"}` {
		t.Fatalf("args %s", body)
	}
	if err := Decode(&c, []byte(`{"command":"history","args":{"channel":"news"}}`), 0); err != nil || c.Limit != NoLimit || c.Since.Given {
		t.Fatalf("no limit: %v %+v", err, c)
	}
	bad := map[string]*Error{
		`{"command":"history","args":{"channel":"n","limit":-1}}`:                                   ErrBadLimit,
		`{"command":"history","args":{"channel":"n","limit":1.5}}`:                                  ErrBadLimit,
		`{"command":"join","args":{"channel":"n","since":{"offset":1}}}`:                            ErrBadSince,
		`{"command":"join","args":{"channel":"n","since":{"offset":"1","epoch":"e"}}}`:              ErrBadSince,
		`{"command":"join","args":{"channel":"n","since":[1]}}`:                                     ErrBadSince,
		`{"command":"join","args":{"channel":"n","since":{"offset":1e3,"epoch":"e"}}}`:              ErrBadSince,
		`{"command":"join","args":{"channel":"n","since":{"offset":9007199254740992,"epoch":"e"}}}`: ErrBadSince,
	}
	for msg, want := range bad {
		if err := Decode(&c, []byte(msg), 0); err != want {
			t.Errorf("%s: %v, want %v", msg, err, want)
		}
	}
	// Other commands ignore since and limit, as any unknown member.
	if err := Decode(&c, []byte(`{"command":"leave","args":{"channel":"n","since":1,"limit":"x"}}`), 0); err != nil || c.Since.Given {
		t.Fatalf("leave: %v %+v", err, c)
	}
}

func TestPositionAndHistoryRepliesAreJSON(t *testing.T) {
	pos := &Position{Offset: 3, Epoch: "ab"}
	cases := map[string]string{
		string(AppendPositionJSON(nil, []byte(`1`), pos, NoRecovery)):   `{"id":1,"ok":true,"offset":3,"epoch":"ab"}`,
		string(AppendPositionJSON(nil, []byte(`1`), pos, Recovered)):    `{"id":1,"ok":true,"offset":3,"epoch":"ab","recovered":true}`,
		string(AppendPositionJSON(nil, nil, nil, NotRecovered)):         `{"ok":true,"recovered":false}`,
		string(AppendPositionJSON(nil, []byte(`"x"`), nil, NoRecovery)): `{"id":"x","ok":true}`,
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
	frames := [][]byte{HistoryFrame([]byte("n"), 2, []byte(`{"a":1}`)), HistoryFrame([]byte("n"), 3, []byte(`"b"`))}
	h := AppendHistoryJSON(nil, []byte(`7`), []uint64{2, 3}, [][]byte{HistoryContent(frames[0]), HistoryContent(frames[1])}, *pos, NoRecovery)
	want := `{"id":7,"ok":true,"publications":[{"offset":2,"content":{"a":1}},{"offset":3,"content":"b"}],"offset":3,"epoch":"ab"}`
	if string(h) != want || !json.Valid(h) {
		t.Fatalf("history %s", h)
	}
	if f := AppendPositionFrame(nil, nil, pos, NoRecovery); !bytes.HasSuffix(f, []byte(`"epoch":"ab"}`)) || !IsServerTextFrame(f) {
		t.Fatalf("frame %q", f)
	}
}
