package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/wsify/wsify/server"
)

const (
	closeDisconnected = 4000
	reasonReconnect   = `{"reason":"disconnected","reconnect":true}`
	reasonStayAway    = `{"reason":"disconnected","reconnect":false}`
)

// TestDisconnectClosesAUsersConnectionsOrOne: POST /disconnect closes
// every connection of a user, or one by client id, with 4000 and a JSON
// reason that says whether to come back; the others stay; the answer
// counts what it closed; bad requests are refused as on /broadcast.
func TestDisconnectClosesAUsersConnectionsOrOne(t *testing.T) {
	a := newWhoAuthorizer(t)
	s := start(t, a.config(server.Config{}))
	alice1, alice2, bob1, bob2 := dialTarget(t, a, s, "alice"), dialTarget(t, a, s, "alice"), dialTarget(t, a, s, "bob"), dialTarget(t, a, s, "bob")
	anon := dialTarget(t, a, s, "")
	if code, body := postJSON(t, s, "/disconnect", `{"user":"alice","reconnect":false}`); code != http.StatusOK || body != `{"ok":true,"disconnected":2}` {
		t.Fatalf("disconnect alice: %d %s", code, body)
	}
	alice1.expectClosed(t, closeDisconnected, reasonStayAway)
	alice2.expectClosed(t, closeDisconnected, reasonStayAway)
	if code, body := postJSON(t, s, "/disconnect", fmt.Sprintf(`{"client":%q}`, bob2.id)); code != http.StatusOK || body != `{"ok":true,"disconnected":1}` {
		t.Fatalf("disconnect %s: %d %s", bob2.id, code, body)
	}
	bob2.expectClosed(t, closeDisconnected, reasonReconnect)
	for _, body := range []string{`{"user":"nobody"}`, `{"client":"elsewhere-1"}`, fmt.Sprintf(`{"client":%q}`, bob2.id)} {
		if code, answer := postJSON(t, s, "/disconnect", body); code != http.StatusOK || answer != `{"ok":true,"disconnected":0}` {
			t.Fatalf("disconnect %s: %d %s", body, code, answer)
		}
	}
	bob1.join(t, "still")
	anon.join(t, "still")
	postToChannel(t, s, "still", "1")
	expectAll(t, `{"channel":"still","content":1}`, bob1.peer, anon.peer)

	for _, body := range []string{`{}`, `{"user":""}`, `{"user":"a","client":"b"}`, `{"user":7}`, `{"client":"x","reconnect":"no"}`, `[]`, `{`} {
		code, answer := postJSON(t, s, "/disconnect", body)
		if code != http.StatusBadRequest || !strings.Contains(answer, `"error"`) {
			t.Fatalf("disconnect %s: %d %s", body, code, answer)
		}
	}
	if code, _ := get(t, httpURL(s, "/disconnect")); code != http.StatusMethodNotAllowed {
		t.Fatalf("GET /disconnect: %d", code)
	}
	if code, _ := post(t, httpURL(s, "/disconnect"), "text/plain", `{"user":"bob"}`); code != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain: %d", code)
	}
	if got := s.Stats(); got.Open != 2 || got.ClosedBy["4000"] != 3 {
		t.Fatalf("%d connections open, want 2 (bob1, anon); closes by code %v, want 3 of 4000", got.Open, got.ClosedBy)
	}
	quiet(t, bob1.peer, anon.peer)
}

// TestDisconnectIsGuardedLikeBroadcast: protected mode keeps POST
// /disconnect to loopback clients; a broadcast key opens it to anyone
// who has the key, as it does POST /broadcast.
func TestDisconnectIsGuardedLikeBroadcast(t *testing.T) {
	s := startRemote(t, server.Config{})
	resp, body := do(t, http.MethodPost, remoteBase(t, s)+"/disconnect", "application/json", `{"user":"alice"}`, direct)
	expectProtected(t, "POST /disconnect", resp.StatusCode, body)

	k := startRemote(t, server.Config{BroadcastKey: "k"})
	resp, body = do(t, http.MethodPost, remoteBase(t, k)+"/disconnect?key=k", "application/json", `{"user":"alice"}`, direct)
	expectJSON(t, resp.StatusCode, body, http.StatusOK)
	resp, body = do(t, http.MethodPost, remoteBase(t, k)+"/disconnect", "application/json", `{"user":"alice"}`, direct)
	expectHTTPError(t, resp.StatusCode, body, http.StatusForbidden, "forbidden")
}
