package auth_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/protocol"
)

var client = auth.ClientInfo{ID: "n-1", RemoteAddr: "127.0.0.1:5", Query: auth.Values{"user": {"bob"}}}.JSON()

func TestCommandBodyShape(t *testing.T) {
	const who = `"client":{"id":"n-1","remote_addr":"127.0.0.1:5","query":{"user":["bob"]},"user":""}`
	for _, tc := range []struct {
		kind                 string
		channel, content, id string
		want                 string
	}{
		{"join", "news", "", "", `{"command":"join","args":{"channel":"news"},` + who + `}`},
		{"leave", "a\"b\\c\x01", "", "7", `{"command":"leave","args":{"channel":"a\"b\\c\u0001"},"id":7,` + who + `}`},
		{"broadcast", "n", `{"k": [1, "\u00e9"]}`, `"x"`,
			`{"command":"broadcast","args":{"channel":"n","content":{"k": [1, "\u00e9"]}},"id":"x",` + who + `}`},
	} {
		got := auth.CommandBody(tc.kind, []byte(tc.channel), nilIfEmpty(tc.content), nilIfEmpty(tc.id), client)
		if string(got) != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

func nilIfEmpty(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// FuzzCommandBody checks the contract the server relies on: the body built
// from a decoded message decodes back to the same command, and a plain
// encoding/json reader, which matches keys without regard to case and
// merges duplicates, reads the same command, channel, content and id.
func FuzzCommandBody(f *testing.F) {
	for _, in := range []string{
		`{"command":"join","args":{"channel":"private-bob"},"client":{"id":"x","query":{"user":["bob"]}}}`,
		`{"command":"join","args":{"channel":"private-bob","Channel":"public"}}`,
		`{"COMMAND":"leave","command":"join","args":{"channel":"private-bob"}}`,
		`{"command":"leave","command":"join","args":{"channel":"public","channel":"private-bob"}}`,
		"{\"command\":\"join\",\"args\":{\"channel\":\"\u00a0\u3000 private-bob\\t\"},\"id\":1}",
		`{"command":"join","args":{"channel":"\u0070rivate-bob\ud800"},"id":"\u0041"}`,
		`{"command":"broadcast","args":{"channel":"n","content":{"a":[1,2, {"b":null}]},"content":"x"},"id":-1.5e3}`,
	} {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		var cmd protocol.Command
		if protocol.Decode(&cmd, msg, 0) != nil {
			return
		}
		body := auth.CommandBody(cmd.Kind.String(), cmd.Channel, cmd.Content, cmd.ID, client)
		var back protocol.Command
		if err := protocol.Decode(&back, body, 0); err != nil {
			t.Fatalf("body %s of %s does not decode: %v", body, msg, err)
		}
		if back.Kind != cmd.Kind || !bytes.Equal(back.Channel, cmd.Channel) ||
			!bytes.Equal(back.Content, cmd.Content) || !bytes.Equal(back.ID, cmd.ID) {
			t.Fatalf("message %s\nbody    %s\ndecodes differently: %+v, want %+v", msg, body, back, cmd)
		}
		var std struct {
			Command string
			Args    struct {
				Channel string
				Content json.RawMessage
			}
			ID     json.RawMessage
			Client auth.ClientInfo
		}
		if err := json.Unmarshal(body, &std); err != nil {
			t.Fatalf("body %s: %v", body, err)
		}
		if std.Command != cmd.Kind.String() || std.Args.Channel != string(cmd.Channel) ||
			!bytes.Equal(std.Args.Content, cmd.Content) || !bytes.Equal(std.ID, cmd.ID) || std.Client.ID != "n-1" {
			t.Fatalf("encoding/json reads %s as %+v", body, std)
		}
	})
}
