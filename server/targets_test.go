package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsify/wsify/server"
)

// TestToReachesOnlyTheListedUsers: a publication with "to" reaches every
// connection of the users listed and no one else (other users, anonymous
// connections), from POST /broadcast and from a client's broadcast, whose
// authorizer sees "to" as it will run and can refuse it; the answers
// count the connections reached.
func TestToReachesOnlyTheListedUsers(t *testing.T) {
	a := newWhoAuthorizer(t)
	s := start(t, a.config(server.Config{}))
	alice1, alice2 := dialTarget(t, a, s, "alice"), dialTarget(t, a, s, "alice")
	bob, carol, anon := dialTarget(t, a, s, "bob"), dialTarget(t, a, s, "carol"), dialTarget(t, a, s, "")
	all := []*targetPeer{alice1, alice2, bob, carol, anon}
	for _, m := range all {
		m.join(t, "room")
	}

	code, body := postJSON(t, s, "/broadcast", `{"channel":"room","content":1,"to":["alice","bob","dave"]}`)
	if code != http.StatusCreated || body != `{"ok":true,"receivers":3}` {
		t.Fatalf("POST with to: %d %s", code, body)
	}
	for _, m := range []*targetPeer{alice1, alice2, bob} {
		m.expect(t, `{"channel":"room","content":1}`)
	}

	bob.send(t, `{"command":"broadcast","args":{"channel":"room","content":2,"to":["car\u006fl"]},"id":1}`)
	carol.expect(t, `{"channel":"room","content":2}`)
	bob.expect(t, `{"id":1,"ok":true,"receivers":1}`)
	if c := a.last(); c.Args.To == nil || strings.Join(*c.Args.To, ",") != "carol" || !strings.Contains(c.Raw, `"to":["carol"]`) {
		t.Fatalf("the authorizer saw %s", c.Raw)
	}

	bob.send(t, `{"command":"broadcast","args":{"channel":"room","content":3,"to":["carol","mallory"]},"id":2}`)
	if got := bob.next(t); errorCode(t, got) != "not_authorized" {
		t.Fatalf("a to the authorizer refuses: %s", got)
	}

	code, body = postJSON(t, s, "/broadcast", `{"channel":"room","content":4,"to":[]}`)
	if code != http.StatusCreated || body != `{"ok":true,"receivers":0}` {
		t.Fatalf("POST with an empty to: %d %s", code, body)
	}
	quiet(t, alice1.peer, alice2.peer, bob.peer, carol.peer, anon.peer)
}

// TestExceptAndEchoFalseLeaveOneConnectionOut: "except" leaves out the
// connection it names, and a client's "echo":false the sender only, not
// the sender's other connections; the answers do not count them.
func TestExceptAndEchoFalseLeaveOneConnectionOut(t *testing.T) {
	a := newWhoAuthorizer(t)
	s := start(t, a.config(server.Config{}))
	alice1, alice2, bob := dialTarget(t, a, s, "alice"), dialTarget(t, a, s, "alice"), dialTarget(t, a, s, "bob")
	for _, m := range []*targetPeer{alice1, alice2, bob} {
		m.join(t, "room")
	}
	body := fmt.Sprintf(`{"channel":"room","content":1,"except":%q}`, alice2.id)
	if code, answer := postJSON(t, s, "/broadcast", body); code != http.StatusCreated || answer != `{"ok":true,"receivers":2}` {
		t.Fatalf("POST with except: %d %s", code, answer)
	}
	expectAll(t, `{"channel":"room","content":1}`, alice1.peer, bob.peer)

	alice1.send(t, `{"command":"broadcast","args":{"channel":"room","content":2,"echo":false},"id":1}`)
	alice1.expect(t, `{"id":1,"ok":true,"receivers":2}`)
	expectAll(t, `{"channel":"room","content":2}`, alice2.peer, bob.peer)
	if c := a.last(); c.Args.Echo == nil || *c.Args.Echo || !strings.Contains(c.Raw, `"echo":false`) {
		t.Fatalf("the authorizer saw %s", c.Raw)
	}

	alice1.send(t, `{"command":"broadcast","args":{"channel":"room","content":3,"echo":true,"to":["alice"]},"id":2}`)
	expectAll(t, `{"channel":"room","content":3}`, alice1.peer, alice2.peer)
	alice1.expect(t, `{"id":2,"ok":true,"receivers":2}`)
	if c := a.last(); c.Args.Echo != nil {
		t.Fatalf("echo:true is the default, and not in the body: %s", c.Raw)
	}
	quiet(t, alice1.peer, alice2.peer, bob.peer)
}

// TestTargetsRefusedOnHistoryChannels: a channel with history replays
// every publication to every recovering subscriber, so a narrowed one is
// refused there, by a client and over HTTP, and nothing is published.
func TestTargetsRefusedOnHistoryChannels(t *testing.T) {
	s := start(t, server.Config{HistorySize: 10, HistoryTTL: time.Minute})
	c := dialPeer(t, s)
	joinKept(t, c, "news")
	for _, msg := range []string{
		`{"command":"broadcast","args":{"channel":"news","content":1,"echo":false},"id":1}`,
		`{"command":"broadcast","args":{"channel":"news","content":1,"to":["alice"]},"id":1}`,
	} {
		c.send(t, msg)
		if got := c.next(t); !strings.Contains(got, `"code":"bad_command"`) || !strings.Contains(got, "history") {
			t.Fatalf("%s: %s", msg, got)
		}
	}
	for _, body := range []string{
		`{"channel":"news","content":1,"except":"x-1"}`,
		`{"channels":["a","news"],"content":1,"to":["alice"]}`,
		`[{"channel":"a","content":1},{"channel":"news","content":1,"to":[]}]`,
	} {
		code, answer := postJSON(t, s, "/broadcast", body)
		if code != http.StatusBadRequest || !strings.Contains(answer, "history") {
			t.Fatalf("%s: %d %s", body, code, answer)
		}
	}
	quiet(t, c)
}

// TestChannelsPublishesOneContentToEach: a "channels" list publishes the
// content to each channel once, answered with the receivers of each and
// their sum, a channel with history with its position.
func TestChannelsPublishesOneContentToEach(t *testing.T) {
	s := start(t, server.Config{HistorySize: 10, HistoryTTL: time.Minute, NamespacesFile: noHistoryFor(t, "a", "b", "c")})
	a1, b1, b2, h := dialPeer(t, s), dialPeer(t, s), dialPeer(t, s), dialPeer(t, s)
	a1.join(t, "a:x")
	b1.join(t, "b:x")
	b2.join(t, "b:x")
	joinKept(t, h, "kept")
	code, body := postJSON(t, s, "/broadcast", `{"channels":["a:x","b:x","c:x","kept"],"content":{"n":1}}`)
	var answer struct {
		OK        bool
		Receivers int
		Results   []struct {
			Channel   string
			OK        bool
			Receivers int
			Offset    *uint64
		}
	}
	if err := json.Unmarshal([]byte(body), &answer); code != http.StatusCreated || err != nil || !answer.OK || answer.Receivers != 4 || len(answer.Results) != 4 {
		t.Fatalf("POST channels: %d %s", code, body)
	}
	for i, want := range []struct {
		ch string
		n  int
	}{{"a:x", 1}, {"b:x", 2}, {"c:x", 0}, {"kept", 1}} {
		r := answer.Results[i]
		if r.Channel != want.ch || !r.OK || r.Receivers != want.n || (r.Offset != nil) != (want.ch == "kept") {
			t.Fatalf("result %d: %+v in %s", i, r, body)
		}
	}
	expectAll(t, `{"channel":"a:x","content":{"n":1}}`, a1)
	expectAll(t, `{"channel":"b:x","content":{"n":1}}`, b1, b2)
	h.expect(t, `{"channel":"kept","offset":1,"content":{"n":1}}`)
	quiet(t, a1, b1, b2, h)
}

// joinKept joins a channel with history, whose answer has its position.
func joinKept(t testing.TB, p *peer, channel string) {
	t.Helper()
	p.send(t, `{"command":"join","args":{"channel":"`+channel+`"},"id":"j"}`)
	if got := p.next(t); !strings.HasPrefix(got, `{"id":"j","ok":true,"offset":`) {
		t.Fatalf("join %s: %s", channel, got)
	}
}

// noHistoryFor writes a namespaces file that keeps no history in the
// namespaces given.
func noHistoryFor(t *testing.T, namespaces ...string) string {
	var b strings.Builder
	for _, ns := range namespaces {
		fmt.Fprintf(&b, "[namespaces.%s]\nhistory_size = 0\n", ns)
	}
	path := filepath.Join(t.TempDir(), "ns.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestArrayBodyPublishesEachInOrder: an array body makes each of its
// publications in order, answered with an array of their answers in the
// same order; an array with a malformed element publishes nothing.
func TestArrayBodyPublishesEachInOrder(t *testing.T) {
	a := newWhoAuthorizer(t)
	s := start(t, a.config(server.Config{}))
	alice, bob := dialTarget(t, a, s, "alice"), dialTarget(t, a, s, "bob")
	alice.join(t, "a")
	bob.join(t, "a")
	bob.join(t, "b")
	code, body := postJSON(t, s, "/broadcast", `[{"channel":"a","content":1},{"channel":"b","content":2},`+
		`{"channel":"a","content":3,"to":["bob"]},{"channels":["b","a"],"content":4}]`)
	want := `[{"ok":true,"receivers":2},{"ok":true,"receivers":1},{"ok":true,"receivers":1},` +
		`{"ok":true,"receivers":3,"results":[{"channel":"b","ok":true,"receivers":1},{"channel":"a","ok":true,"receivers":2}]}]`
	if code != http.StatusCreated || body != want {
		t.Fatalf("POST array: %d %s\nwant %s", code, body, want)
	}
	alice.expect(t, `{"channel":"a","content":1}`)
	alice.expect(t, `{"channel":"a","content":4}`)
	for _, m := range []string{`{"channel":"a","content":1}`, `{"channel":"b","content":2}`, `{"channel":"a","content":3}`,
		`{"channel":"b","content":4}`, `{"channel":"a","content":4}`} {
		bob.expect(t, m)
	}

	code, body = postJSON(t, s, "/broadcast", `[{"channel":"a","content":5},{"channel":"a"}]`)
	if code != http.StatusBadRequest || errorCode(t, body) != "bad_command" || !strings.Contains(body, "publication 1: ") {
		t.Fatalf("POST array with a bad element: %d %s", code, body)
	}
	code, body = postJSON(t, s, "/broadcast", "["+strings.Repeat(`{"channel":"a","content":0},`, 100)+`{"channel":"a","content":0}]`)
	if code != http.StatusBadRequest || errorCode(t, body) != "bad_command" {
		t.Fatalf("POST array of 101: %d %s", code, body)
	}
	quiet(t, alice.peer, bob.peer)
}
