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
