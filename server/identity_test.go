package server_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/server"
	"github.com/wsify/wsify/server/servertest"
)

// identityAuthorizer answers a connect with the body named by the
// connection's "as" query parameter, and records the users the command
// bodies carry.
type identityAuthorizer struct {
	srv    *httptest.Server
	mu     sync.Mutex
	users  []string // client.user of every command body, in order
	joins  []string // channels of the joins it was asked about
	bodies map[string]string
}

func newIdentityAuthorizer(t *testing.T, bodies map[string]string) *identityAuthorizer {
	a := &identityAuthorizer{bodies: bodies}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m struct {
			Command string
			Args    struct {
				Channel string
				Query   map[string][]string
			}
			Client *auth.ClientInfo
		}
		json.Unmarshal(b, &m)
		if m.Command == "connect" {
			if body, ok := a.bodies[firstOf(m.Args.Query["as"])]; ok {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, body)
			}
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		a.users = append(a.users, m.Client.User)
		if m.Command == "join" {
			a.joins = append(a.joins, m.Args.Channel)
		}
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func firstOf(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func (a *identityAuthorizer) seen() (users, joins []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.users...), append([]string(nil), a.joins...)
}

// TestIdentityFromTheConnectAnswer: the authorizer's answer to connect
// names the user, which every later command body carries in its client
// object, and channels the connection is in at once, unasked; without a
// body, or with one that is not an identity, the connection is anonymous.
func TestIdentityFromTheConnectAnswer(t *testing.T) {
	a := newIdentityAuthorizer(t, map[string]string{
		"alice":   `{"user":"alice","info":{"name":"Alice"},"channels":["user:alice"," room "]}`,
		"array":   `["user","mallory"]`,
		"garbage": `{"user":`,
		"biginfo": `{"user":"bob","info":"` + strings.Repeat("x", auth.MaxInfoBytes) + `"}`,
	})
	logs := &servertest.SyncBuffer{}
	cfg := server.Config{Auth: auth.Config{URL: a.srv.URL}, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	s := start(t, cfg)

	alice := mustDialQuery(t, s, "as=alice")
	postToChannel(t, s, "user:alice", `"to alice"`) // joined by the authorizer's answer, not by her
	expect(t, alice, `{"channel":"user:alice","content":"to alice"}`)
	postToChannel(t, s, "room", `"in room"`) // the name trimmed like any channel
	expect(t, alice, `{"channel":"room","content":"in room"}`)
	joinSync(t, alice, "news")

	for _, as := range []string{"", "array", "garbage", "biginfo"} {
		c := mustDialQuery(t, s, "as="+as)
		joinSync(t, c, "anon-"+as)
	}
	users, joins := a.seen()
	if want := []string{"alice", "", "", "", ""}; strings.Join(users, ",") != strings.Join(want, ",") {
		t.Fatalf("client.user of the command bodies: %q, want %q", users, want)
	}
	for _, j := range joins {
		if j == "user:alice" || j == "room" {
			t.Fatalf("the authorizer was asked about the channel it assigned: %q", joins)
		}
	}
	if n := strings.Count(logs.String(), "is no identity"); n != 3 {
		t.Fatalf("%d debug lines for the 3 bodies that are no identity, want 3:\n%s", n, logs)
	}
}
