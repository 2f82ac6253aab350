package protocol_test

import (
	"encoding/json"
	"testing"

	"github.com/wsify/wsify/protocol"
)

// TestTargetArgsRoundTrip: the "to" and "echo" the authorizer's body
// carries decode to the very targets they were appended from, whatever
// escapes the client used, so what runs is what was approved.
func TestTargetArgsRoundTrip(t *testing.T) {
	for _, msg := range []string{
		`{"command":"broadcast","args":{"channel":"c","content":1,"to":["al\u0069ce","b\"ob","\u00e9"],"echo":false}}`,
		`{"command":"broadcast","args":{"channel":"c","content":1,"to":[]}}`,
		`{"command":"broadcast","args":{"channel":"c","content":1,"echo":true}}`,
	} {
		var cmd protocol.Command
		if err := protocol.Decode(&cmd, []byte(msg), 0); err != nil {
			t.Fatal(err)
		}
		body := `{"command":"broadcast","args":{"channel":"c","content":1` + string(protocol.AppendTargetArgs(nil, &cmd.Targets)) + `}}`
		var again protocol.Command
		if err := protocol.Decode(&again, []byte(body), 0); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if !targetsOf(&again.Targets).equal(targetsOf(&cmd.Targets)) {
			t.Fatalf("%s decodes to %+v, the client's %s to %+v", body, again.Targets, msg, cmd.Targets)
		}
		if !json.Valid([]byte(body)) {
			t.Fatalf("not JSON: %s", body)
		}
	}
}

func TestAppendPublished(t *testing.T) {
	for _, c := range []struct {
		id   string
		n    int
		pos  *protocol.Position
		want string
	}{
		{"", 0, nil, `{"ok":true,"receivers":0}`},
		{`7`, 12, nil, `{"id":7,"ok":true,"receivers":12}`},
		{`"x"`, 3, &protocol.Position{Offset: 9, Epoch: "e"}, `{"id":"x","ok":true,"offset":9,"epoch":"e","receivers":3}`},
	} {
		var id []byte
		if c.id != "" {
			id = []byte(c.id)
		}
		if got := string(protocol.AppendPublishedJSON(nil, id, c.n, c.pos)); got != c.want {
			t.Errorf("got %s, want %s", got, c.want)
		}
		if got := string(readFrame(t, protocol.AppendPublishedFrame(nil, id, c.n, c.pos))); got != c.want {
			t.Errorf("frame holds %s, want %s", got, c.want)
		}
	}
}

var disconnectCases = []struct {
	body   string
	user   string
	client string
	stay   bool
	err    *protocol.Error
}{
	{body: `{"user":"alice"}`, user: "alice"},
	{body: `{"user":"al\u0069ce","reconnect":false}`, user: "alice", stay: true},
	{body: `{"client":"ab12-7","reconnect":true}`, client: "ab12-7"},
	{body: `{"user":""}`, err: protocol.ErrBadDisconnect},
	{body: `{"user":"a","client":"b"}`, err: protocol.ErrBadDisconnect},
	{body: `{}`, err: protocol.ErrBadDisconnect},
	{body: `{"user":7}`, err: protocol.ErrBadDisconnect},
	{body: `{"user":"a","reconnect":"no"}`, err: protocol.ErrBadDisconnect},
	{body: `[]`, err: protocol.ErrNotObject},
	{body: `{`, err: protocol.ErrBadJSON},
}

func TestDecodeDisconnect(t *testing.T) {
	for _, c := range disconnectCases {
		var d protocol.Disconnect
		err := protocol.DecodeDisconnect(&d, []byte(c.body))
		if err != c.err || string(d.User) != c.user || string(d.Client) != c.client || d.NoReconnect != c.stay {
			t.Errorf("%s: %+v %v", c.body, d, err)
		}
	}
}

// FuzzDecodeDisconnect checks DecodeDisconnect, the body of POST
// /disconnect, against the encoding/json reference.
func FuzzDecodeDisconnect(f *testing.F) {
	for _, c := range disconnectCases {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var d protocol.Disconnect
		err := protocol.DecodeDisconnect(&d, body)
		ref, rerr := refDecodeDisconnect(body)
		switch {
		case err == protocol.ErrBadJSON && rerr != protocol.ErrBadJSON && !jsonDepthOK(body):
		case err != rerr:
			t.Fatalf("%q: DecodeDisconnect %v, reference %v", body, err, rerr)
		case string(d.User) != string(ref.User) || string(d.Client) != string(ref.Client) || d.NoReconnect != ref.NoReconnect:
			t.Fatalf("%q: %+v, reference %+v", body, d, ref)
		}
	})
}
