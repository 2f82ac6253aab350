package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/protocol"
	"github.com/wsify/wsify/server"
)

// presenceAuthorizer gives a connection the identity its "as" query
// parameter names (user as, info {"name":<as>}, the channels its "with"
// parameters name joined at once; none for "as" empty), records every command it is asked about as "<command> <channel>", and
// refuses presence and presence_stats on channels starting with "deny:".
type presenceAuthorizer struct {
	srv      *httptest.Server
	mu       sync.Mutex
	commands []string // guarded by mu
}

func newPresenceAuthorizer(t testing.TB) *presenceAuthorizer {
	a := &presenceAuthorizer{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			Command string
			Args    struct {
				Channel string
				Query   map[string][]string
			}
		}
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &m)
		if m.Command == "connect" {
			if as := firstOf(m.Args.Query["as"]); as != "" {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"user":%q,"info":{"name":%q},"channels":%s}`, as, as, channelsOf(m.Args.Query["with"]))
			}
			return
		}
		a.mu.Lock()
		a.commands = append(a.commands, m.Command+" "+m.Args.Channel)
		a.mu.Unlock()
		if strings.HasPrefix(m.Args.Channel, "deny:") && strings.HasPrefix(m.Command, "presence") {
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func channelsOf(names []string) string {
	b, _ := json.Marshal(append([]string{}, names...))
	return string(b)
}

func (a *presenceAuthorizer) asked() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.commands)
}

// namespaces writes a namespaces file and returns its path.
func namespaces(t testing.TB, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ns.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// presenceNS: chat keeps presence and tells joins and leaves, count keeps
// presence only, events tells joins and leaves only; deny is chat's twin
// for the authorizer's refusals.
const presenceNS = `{"namespaces": {"chat": {"presence": true, "join_leave": true}, "deny": {"presence": true},
	"count": {"presence": true}, "events": {"join_leave": true}}}`

func member(client, user string) string {
	if user == "" {
		return fmt.Sprintf(`{"client":%q,"user":""}`, client)
	}
	return fmt.Sprintf(`{"client":%q,"user":%q,"info":{"name":%q}}`, client, user, user)
}

// presenceOf decodes a presence answer's clients, sorted.
func presenceOf(t testing.TB, msg string) []string {
	t.Helper()
	var r struct {
		OK      bool              `json:"ok"`
		Clients []json.RawMessage `json:"clients"`
	}
	if err := json.Unmarshal([]byte(msg), &r); err != nil || !r.OK {
		t.Fatalf("not a presence answer: %s", msg)
	}
	out := make([]string, len(r.Clients))
	for i, c := range r.Clients {
		out[i] = string(c)
	}
	slices.Sort(out)
	return out
}

// joinAndHear joins channel, on a channel with join_leave, as user, and
// returns the connection's id from its own join event, which may come
// before or after the join's answer. Joins of others published before
// this one, still on their way from other nodes, are skipped.
func joinAndHear(t testing.TB, p *peer, channel, user string) string {
	t.Helper()
	p.send(t, `{"command":"join","args":{"channel":"`+channel+`"},"id":"j"}`)
	id, answered := "", false
	for id == "" || !answered {
		m := p.next(t)
		if m == `{"id":"j","ok":true}` {
			answered = true
			continue
		}
		var ev struct {
			Channel string
			Join    *struct{ Client, User string }
		}
		if json.Unmarshal([]byte(m), &ev) != nil || ev.Channel != channel || ev.Join == nil || ev.Join.Client == "" {
			t.Fatalf("not a join event on %s: %s", channel, m)
		}
		if ev.Join.User == user {
			id = ev.Join.Client
		}
	}
	return id
}

func dialAs(t testing.TB, s *server.Server, as string) *peer {
	t.Helper()
	c, err := dialQuery(s, "as="+as)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &peer{Conn: c, in: make(chan string, 256)}
	go func() {
		defer close(p.in)
		for {
			_, m, err := c.ReadMessage()
			if err != nil {
				return
			}
			p.in <- string(m)
		}
	}()
	return p
}

// ask sends a presence or presence_stats command and returns its answer.
func ask(t testing.TB, p *peer, command, channel string) string {
	t.Helper()
	p.send(t, `{"command":"`+command+`","args":{"channel":"`+channel+`"},"id":"p"}`)
	return p.next(t)
}

// askPast is ask that skips the events arriving meanwhile.
func askPast(t testing.TB, p *peer, command, channel string) string {
	t.Helper()
	p.send(t, `{"command":"`+command+`","args":{"channel":"`+channel+`"},"id":"p"}`)
	for {
		if m := p.next(t); !strings.HasPrefix(m, `{"channel":`) {
			return m
		}
	}
}

// TestPresenceOnOneNode: who is in a channel, with the identity the
// authorizer gave at connect, how many, join and leave events (the joiner
// hears its own join), and the refusals: a channel without presence, one
// not joined, one the authorizer refuses.
func TestPresenceOnOneNode(t *testing.T) {
	a := newPresenceAuthorizer(t)
	s := start(t, server.Config{Auth: auth.Config{URL: a.srv.URL}, NamespacesFile: namespaces(t, presenceNS)})
	alice, bob, anon := dialAs(t, s, "alice"), dialAs(t, s, "bob"), dialAs(t, s, "")

	aliceID := joinAndHear(t, alice, "chat:1", "alice")
	bobID := joinAndHear(t, bob, "chat:1", "bob")
	alice.expect(t, `{"channel":"chat:1","join":`+member(bobID, "bob")+`}`)
	anonID := joinAndHear(t, anon, "chat:1", "")
	expectAll(t, `{"channel":"chat:1","join":`+member(anonID, "")+`}`, alice, bob)

	want := []string{member(aliceID, "alice"), member(bobID, "bob"), member(anonID, "")}
	slices.Sort(want)
	if got := presenceOf(t, ask(t, bob, "presence", "chat:1")); !slices.Equal(got, want) {
		t.Fatalf("presence %q\nwant     %q", got, want)
	}
	if got := ask(t, bob, "presence_stats", "chat:1"); got != `{"id":"p","ok":true,"clients":3,"users":2}` {
		t.Fatalf("stats %s", got)
	}

	// A second connection of a user is one more client, not one more user.
	alice2 := dialAs(t, s, "alice")
	joinAndHear(t, alice2, "chat:1", "alice")
	if got := ask(t, alice2, "presence_stats", "chat:1"); got != `{"id":"p","ok":true,"clients":4,"users":2}` {
		t.Fatalf("stats with alice twice %s", got)
	}
	// A close is a leave: the others hear it, the counts drop.
	bob.Close()
	for _, p := range []*peer{alice, anon} {
		p.next(t) // alice2's join
		p.expect(t, `{"channel":"chat:1","leave":`+member(bobID, "bob")+`}`)
	}
	if got := ask(t, alice, "presence_stats", "chat:1"); got != `{"id":"p","ok":true,"clients":3,"users":1}` {
		t.Fatalf("stats after bob left %s", got)
	}
	anon.leave(t, "chat:1")
	alice.expect(t, `{"channel":"chat:1","leave":`+member(anonID, "")+`}`)

	for _, c := range []struct{ command, channel, code string }{
		{"presence", "news", "not_enabled"},           // the default namespace keeps none
		{"presence_stats", "events:1", "not_enabled"}, // events only
		{"presence", "count:1", "not_joined"},
		{"presence_stats", "chat:2", "not_joined"},
	} {
		if got := errorCode(t, ask(t, alice, c.command, c.channel)); got != c.code {
			t.Errorf("%s %s: %s, want %s", c.command, c.channel, got, c.code)
		}
	}
	alice.join(t, "deny:1") // joins are not refused there, presence is
	if got := errorCode(t, ask(t, alice, "presence", "deny:1")); got != "not_authorized" {
		t.Fatalf("presence the authorizer refused: %s", got)
	}
	// A channel the connect answer named is joined as any other.
	dan, err := dialQuery(s, "as=dan&with=count:1")
	if err != nil {
		t.Fatal(err)
	}
	defer dan.Close()
	eventually(t, "dan listed in the channel the authorizer named", func() bool {
		_, body := get(t, httpURL(s, "/presence?channel=count:1"))
		return strings.Contains(body, `"user":"dan"`)
	})
	asked := a.asked()
	for _, w := range []string{"presence chat:1", "presence_stats chat:1", "presence deny:1", "presence news"} {
		if !slices.Contains(asked, w) {
			t.Errorf("the authorizer was not asked %q: %q", w, asked)
		}
	}
}

// TestPresenceEndpoints: GET /presence and /presence_stats answer a
// backend about any channel, with the command's objects, and are guarded
// as POST /broadcast is: protected mode, or the broadcast key from
// anywhere.
func TestPresenceEndpoints(t *testing.T) {
	s := startRemote(t, server.Config{Presence: true, BroadcastKey: "k"})
	p := dialAs(t, s, "")
	p.join(t, "room")
	id := ""
	eventually(t, "the member listed", func() bool {
		code, body := get(t, httpURL(s, "/presence?channel=room&key=k"))
		if code != 200 || !strings.HasPrefix(body, `{"ok":true,"clients":[{"client":"`) {
			return false
		}
		var r struct{ Clients []struct{ Client string } }
		json.Unmarshal([]byte(body), &r)
		id = r.Clients[0].Client
		return body == `{"ok":true,"clients":[`+member(id, "")+`]}`
	})
	for _, c := range []struct {
		method, path, key string
		status            int
		want              string
	}{
		{"GET", "/presence_stats?channel=%20room%20", "k", 200, `{"ok":true,"clients":1,"users":0}`},
		{"GET", "/presence_stats?channel=empty", "k", 200, `{"ok":true,"clients":0,"users":0}`},
		{"GET", "/presence?channel=", "k", 400, `"bad_channel"`},
		{"POST", "/presence_stats?channel=room", "k", 405, `"method_not_allowed"`},
		{"GET", "/presence?channel=room", "wrong", 403, `"forbidden"`},
	} {
		url := httpURL(s, c.path)
		if c.key != "" {
			url += "&key=" + c.key
		}
		resp, body := do(t, c.method, url, "", "", nil)
		if resp.StatusCode != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s %s: %d %s, want %d %s", c.method, c.path, resp.StatusCode, body, c.status, c.want)
		}
	}
	// The key opens them to remote backends, as it does POST /broadcast.
	resp, body := do(t, "GET", remoteBase(t, s)+"/presence_stats?channel=room&key=k", "", "", direct)
	if resp.StatusCode != 200 || body != `{"ok":true,"clients":1,"users":0}` {
		t.Fatalf("remote with the key: %d %s", resp.StatusCode, body)
	}
	resp, _ = do(t, "GET", remoteBase(t, s)+"/presence?channel=room", "", "", direct)
	if resp.StatusCode != 403 {
		t.Fatalf("remote without the key: %d", resp.StatusCode)
	}

	// Protected mode without a key: loopback only.
	s2 := startRemote(t, server.Config{Presence: true})
	for _, path := range []string{"/presence?channel=a", "/presence_stats?channel=a"} {
		resp, body := do(t, "GET", remoteBase(t, s2)+path, "", "", direct)
		expectProtected(t, "GET "+path, resp.StatusCode, body)
		if code, body := get(t, httpURL(s2, path)); code != 200 {
			t.Errorf("loopback GET %s: %d %s", path, code, body)
		}
	}
}

// TestWithoutPresenceTheWireIsAsBefore: with no namespace asking for
// presence or join_leave, a join carries no event, the commands are
// not_enabled and the endpoints do not exist.
func TestWithoutPresenceTheWireIsAsBefore(t *testing.T) {
	s := start(t, server.Config{})
	a, b := dialPeer(t, s), dialPeer(t, s)
	a.join(t, "room")
	b.join(t, "room")
	b.leave(t, "room")
	quiet(t, a, b)
	for _, command := range []string{"presence", "presence_stats"} {
		if got := ask(t, a, command, "room"); got != `{"id":"p","error":{"code":"not_enabled","message":"this channel keeps no presence"}}` {
			t.Fatalf("%s: %s", command, got)
		}
		if code, _ := get(t, httpURL(s, "/"+command+"?channel=room")); code != 404 {
			t.Fatalf("GET /%s without presence: %d", command, code)
		}
	}
}

// TestPresenceIsRefusedOnNATS: NATS keeps nothing to count from, so
// presence and join_leave stop start-up there with a reason.
func TestPresenceIsRefusedOnNATS(t *testing.T) {
	for _, cfg := range []server.Config{{Presence: true}, {JoinLeave: true}, {NamespacesFile: namespaces(t, presenceNS)}} {
		cfg.Broker.Driver = "nats"
		if _, err := server.New(cfg); err == nil || !strings.Contains(err.Error(), "not available with the nats broker") {
			t.Fatalf("%+v: %v", cfg, err)
		}
	}
}

// TestPresenceOverTheBoundIsTooLarge: presence lists at most
// MaxPresenceClients clients; past it, too_large tells the client to
// count instead, and presence_stats does.
func TestPresenceOverTheBoundIsTooLarge(t *testing.T) {
	s := start(t, server.Config{Presence: true, MaxConnections: 2000})
	first := dialPeer(t, s)
	first.join(t, "room")
	for range protocol.MaxPresenceClients - 1 {
		c := dial(t, s)
		send(t, c, `{"command":"join","args":{"channel":"room"}}`)
	}
	eventually(t, "1000 present", func() bool {
		_, body := get(t, httpURL(s, "/presence_stats?channel=room"))
		return body == `{"ok":true,"clients":1000,"users":0}`
	})
	if got := presenceOf(t, ask(t, first, "presence", "room")); len(got) != protocol.MaxPresenceClients {
		t.Fatalf("%d listed at the bound", len(got))
	}
	last := dialPeer(t, s)
	last.join(t, "room")
	want := `{"id":"p","error":{"code":"too_large","message":"more clients are present than presence lists (1000): use presence_stats"}}`
	if got := ask(t, last, "presence", "room"); got != want {
		t.Fatalf("over the bound: %s", got)
	}
	if got := ask(t, last, "presence_stats", "room"); got != `{"id":"p","ok":true,"clients":1001,"users":0}` {
		t.Fatalf("stats over the bound: %s", got)
	}
	if code, body := get(t, httpURL(s, "/presence?channel=room")); code != 400 || !strings.Contains(body, `"too_large"`) {
		t.Fatalf("GET /presence over the bound: %d %s", code, body)
	}
}
