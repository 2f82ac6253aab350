package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/server"
)

// These tests put a policy authorizer behind the server, written two ways a
// real one is: encoding/json into a struct (the README's style: keys match
// without regard to case, duplicates overwrite and maps merge) and a reader
// that keeps the first of duplicate keys (as gjson, fastjson, simdjson and
// cJSON do). Each hostile message must get the verdict the authorizer gave
// on the command the server then runs, and nothing else may run.

// view is what a policy authorizer read in one command body.
type view struct {
	Command, Channel, User string
	Allowed                bool
}

// policy lets anyone leave and use public channels, and only alice into
// private-alice: the connection's query says who it is.
func policy(v view) bool {
	switch v.Command {
	case "leave":
		return true
	case "join", "broadcast", "history":
		name, private := strings.CutPrefix(v.Channel, "private-")
		return !private || v.User != "" && name == v.User
	}
	return false
}

// policyAuthorizer is a real HTTP authorizer applying policy to what read
// makes of each command body; it allows every connect.
type policyAuthorizer struct {
	srv   *httptest.Server
	read  func(body []byte) (view, error)
	mu    sync.Mutex
	views []view   // guarded by mu
	raw   []string // command bodies as received; guarded by mu
}

func newPolicyAuthorizer(t testing.TB, read func([]byte) (view, error)) *policyAuthorizer {
	pa := &policyAuthorizer{read: read}
	pa.srv = httptest.NewServer(http.HandlerFunc(pa.serve))
	t.Cleanup(pa.srv.Close)
	return pa
}

func (pa *policyAuthorizer) serve(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	if bytes.HasPrefix(b, []byte(`{"command":"connect"`)) {
		return
	}
	v, err := pa.read(b)
	v.Allowed = err == nil && policy(v)
	pa.mu.Lock()
	pa.views, pa.raw = append(pa.views, v), append(pa.raw, string(b))
	pa.mu.Unlock()
	if !v.Allowed {
		w.WriteHeader(http.StatusForbidden)
	}
}

// last returns the last command body received and its reading.
func (pa *policyAuthorizer) last() (view, string) {
	pa.mu.Lock()
	defer pa.mu.Unlock()
	return pa.views[len(pa.views)-1], pa.raw[len(pa.raw)-1]
}

// readStruct is the README's authorizer: encoding/json into a struct.
func readStruct(b []byte) (view, error) {
	var m struct {
		Command string
		Args    struct{ Channel string }
		Client  struct{ Query map[string][]string }
	}
	err := json.Unmarshal(b, &m)
	return view{Command: m.Command, Channel: m.Args.Channel, User: first(m.Client.Query["user"])}, err
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// readFirstWins reads the body as the parsers that keep the first of
// duplicate keys do, keys matched exactly.
func readFirstWins(b []byte) (view, error) {
	v, err := firstWins(json.NewDecoder(bytes.NewReader(b)))
	m, _ := v.(map[string]any)
	str := func(v any) string { s, _ := v.(string); return s }
	obj := func(v any) map[string]any { o, _ := v.(map[string]any); return o }
	var user string
	if users, _ := obj(obj(m["client"])["query"])["user"].([]any); len(users) > 0 {
		user = str(users[0])
	}
	return view{Command: str(m["command"]), Channel: str(obj(m["args"])["channel"]), User: user}, err
}

// firstWins decodes the next value of dec, keeping the first member of
// each name in objects.
func firstWins(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		m := map[string]any{}
		for dec.More() {
			k, _ := dec.Token()
			v, err := firstWins(dec)
			if err != nil {
				return nil, err
			}
			if _, seen := m[k.(string)]; !seen {
				m[k.(string)] = v
			}
		}
		_, err = dec.Token()
		return m, err
	case json.Delim('['):
		var a []any
		for dec.More() {
			v, err := firstWins(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err = dec.Token()
		return a, err
	}
	return tok, nil
}

// bodyCase is a message (its id is added) and the command the server
// decodes from it, which the authorizer must be shown.
type bodyCase struct {
	name, query, msg       string
	kind, channel, content string
}

var bodyCases = []bodyCase{
	{"forged client", "", `{"command":"join","args":{"channel":"private-alice"},"client":{"id":"x","remote_addr":"1.2.3.4:5","query":{"user":["alice"]}}}`,
		"join", "private-alice", ""},
	{"forged client first", "", `{"client":{"query":{"user":["alice"]}},"command":"join","args":{"channel":"private-alice"}}`,
		"join", "private-alice", ""},
	{"forged Client", "", `{"command":"join","args":{"channel":"private-alice"},"Client":{"query":{"user":["alice"]}}}`,
		"join", "private-alice", ""},
	{"forged client other user", "user=mallory", `{"command":"broadcast","args":{"channel":"private-alice","content":"pwn"},"client":{"query":{"user":["alice"]}}}`,
		"broadcast", "private-alice", `"pwn"`},
	{"case-variant channel", "", `{"command":"join","args":{"channel":"private-alice","Channel":"public"}}`,
		"join", "private-alice", ""},
	{"case-variant channel broadcast", "", `{"command":"broadcast","args":{"channel":"private-alice","CHANNEL":"public","content":"pwn"}}`,
		"broadcast", "private-alice", `"pwn"`},
	{"case-variant command", "", `{"command":"join","COMMAND":"leave","args":{"channel":"private-alice"}}`,
		"join", "private-alice", ""},
	{"case-variant args", "", `{"command":"join","args":{"channel":"private-alice"},"Args":{"channel":"public"}}`,
		"join", "private-alice", ""},
	{"duplicate channel", "", `{"command":"join","args":{"channel":"public","channel":"private-alice"}}`,
		"join", "private-alice", ""},
	{"duplicate command", "", `{"command":"leave","command":"join","args":{"channel":"private-alice"}}`,
		"join", "private-alice", ""},
	{"duplicate args", "", `{"command":"join","args":{"channel":"public"},"args":{"channel":"private-alice"}}`,
		"join", "private-alice", ""},
	{"duplicate content", "", `{"command":"broadcast","args":{"channel":"public","content":1,"content":"two"}}`,
		"broadcast", "public", `"two"`},
	{"escaped key last", "", `{"command":"join","args":{"channel":"public","\u0063hannel":"private-alice"}}`,
		"join", "private-alice", ""},
	{"escaped key first", "", `{"command":"join","args":{"\u0063hannel":"private-alice","channel":"public"}}`,
		"join", "public", ""},
	{"escaped name", "", `{"command":"join","args":{"channel":"\u0070rivate-alice"}}`,
		"join", "private-alice", ""},
	{"leading space", "", `{"command":"join","args":{"channel":" private-alice"}}`,
		"join", "private-alice", ""},
	{"leading tab escaped", "", `{"command":"join","args":{"channel":"\t\n private-alice"}}`,
		"join", "private-alice", ""},
	{"leading U+00A0", "", "{\"command\":\"join\",\"args\":{\"channel\":\"\u00a0private-alice\"}}",
		"join", "private-alice", ""},
	{"leading U+3000 escaped", "", `{"command":"join","args":{"channel":"\u3000private-alice"}}`,
		"join", "private-alice", ""},
	{"surrounding spaces broadcast", "", "{\"command\":\"broadcast\",\"args\":{\"channel\":\"\u2003private-alice\u00a0 \",\"content\":{\"a\": [1, 2]}}}",
		"broadcast", "private-alice", `{"a": [1, 2]}`},
	{"join with content", "", `{"command":"join","args":{"channel":"public","content":{"client":{"query":{"user":["alice"]}}}}}`,
		"join", "public", ""},
	{"owner with spaces", "user=alice", `{"command":"join","args":{"channel":"\u00a0private-alice "}}`,
		"join", "private-alice", ""},
	{"owner broadcast", "user=alice", `{"command":"broadcast","args":{"channel":" private-alice","content":{"client":1}}}`,
		"broadcast", "private-alice", `{"client":1}`},
	{"control character", "user=alice", `{"command":"join","args":{"channel":"private-alice\u0000"}}`,
		"join", "private-alice\x00", ""},
}

func TestAuthorizerSeesWhatRuns(t *testing.T) {
	for name, read := range map[string]func([]byte) (view, error){"encoding/json": readStruct, "first wins": readFirstWins} {
		t.Run(name, func(t *testing.T) {
			pa := newPolicyAuthorizer(t, read)
			s := start(t, server.Config{Auth: auth.Config{URL: pa.srv.URL}})
			for i, tc := range bodyCases {
				t.Run(tc.name, func(t *testing.T) { checkSeesWhatRuns(t, s, pa, i, tc) })
			}
		})
	}
}

// checkSeesWhatRuns sends tc from a fresh connection next to alice's, who
// is in private-alice and public, and checks that the authorizer was shown
// exactly the command the server decodes, and that what ran is what it
// allowed: a join, the channel it saw; a broadcast, the channel it saw;
// when denied, nothing.
func checkSeesWhatRuns(t *testing.T, s *server.Server, pa *policyAuthorizer, i int, tc bodyCase) {
	alice := mustDialQuery(t, s, "user=alice")
	joinSync(t, alice, "private-alice")
	joinSync(t, alice, "public")
	c := mustDialQuery(t, s, tc.query)
	lobby := fmt.Sprintf("lobby-%d", i)
	joinSync(t, c, lobby)
	_, lobbyBody := pa.last()
	var who struct{ Client json.RawMessage }
	json.Unmarshal([]byte(lobbyBody), &who)

	send(t, c, strings.Replace(tc.msg, "{", `{"id":"a",`, 1))
	reply := recv(t, c)
	v, body := pa.last()
	if want := commandBody(tc, who.Client); body != want {
		t.Errorf("authorizer got  %s\nwant the command as run: %s", body, want)
	}
	if q, _ := url.ParseQuery(tc.query); v.User != q.Get("user") {
		t.Errorf("authorizer read user %q, the connection is user %q", v.User, q.Get("user"))
	}
	want := `{"id":"a","ok":true}`
	if v.Command == "broadcast" {
		want = `{"id":"a","ok":true,"receivers":1}` // the lobby's client, the sender, joined it
	}
	switch {
	case v.Allowed && reply != want:
		t.Fatalf("allowed %+v, reply %s", v, reply)
	case !v.Allowed && errorCode(t, reply) != "not_authorized":
		t.Fatalf("denied %+v, reply %s", v, reply)
	}

	channels := []string{"private-alice", "public"}
	if !slices.Contains(channels, v.Channel) {
		channels = append(channels, v.Channel)
	}
	var ran, joined []string // what reached alice, what c joined
	for _, ch := range channels {
		if code, _ := post(t, httpURL(s, "/broadcast"), "application/json", publication(ch, `"probe"`)); code != 201 {
			joined = append(joined, "unpostable "+ch)
		}
	}
	postToChannel(t, s, lobby, `"end"`)
	ran = readUntil(t, alice, publication("public", `"probe"`))
	joined = append(joined, readUntil(t, c, publication(lobby, `"end"`))...)

	wantRan := []string{publication("private-alice", `"probe"`)} // alice always gets it
	var wantJoined []string
	switch {
	case !v.Allowed:
	case v.Command == "join":
		wantJoined = []string{publication(v.Channel, `"probe"`)}
	case v.Command == "broadcast":
		wantRan = append([]string{publication(v.Channel, tc.content)}, wantRan...)
	}
	if !slices.Equal(ran, wantRan) || !slices.Equal(joined, wantJoined) {
		t.Errorf("authorizer read %+v, yet alice got %q (want %q) and the sender %q (want %q)", v, ran, wantRan, joined, wantJoined)
	}
}

// commandBody is the body documented for tc's command with the id "a".
func commandBody(tc bodyCase, client []byte) string {
	name, _ := json.Marshal(tc.channel)
	args := `{"channel":` + string(name)
	if tc.content != "" {
		args += `,"content":` + tc.content
	}
	return fmt.Sprintf(`{"command":%q,"args":%s},"id":"a","client":%s}`, tc.kind, args, client)
}

// publication is the message subscribers of channel get for content.
func publication(channel, content string) string {
	name, _ := json.Marshal(channel)
	return fmt.Sprintf(`{"channel":%s,"content":%s}`, name, content)
}

// readUntil reads messages up to last and returns those before it.
func readUntil(t testing.TB, c *websocket.Conn, last string) []string {
	t.Helper()
	var got []string
	for m := recv(t, c); m != last; m = recv(t, c) {
		got = append(got, m)
	}
	return got
}
