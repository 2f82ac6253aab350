package server_test

import (
	"testing"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/server"
)

// TestWhoami: a connection learns who the server takes it for, its id and
// the identity the authorizer's connect answer gave it (none: anonymous),
// and the authorizer is asked first, like for any command, with args {}.
func TestWhoami(t *testing.T) {
	a := newPresenceAuthorizer(t)
	s := start(t, server.Config{Auth: auth.Config{URL: a.srv.URL}})
	alice, anon := dialAs(t, s, "alice"), dialAs(t, s, "")

	alice.send(t, `{"command":"whoami","args":{},"id":1}`)
	id := clientIDOf(t, alice.next(t), `{"id":1,"ok":true,"client":"`, `","user":"alice","info":{"name":"alice"}}`)
	anon.send(t, `{"command":"whoami","args":{"channel":"ignored"},"id":"w"}`)
	anonID := clientIDOf(t, anon.next(t), `{"id":"w","ok":true,"client":"`, `","user":""}`)
	if id == anonID {
		t.Fatalf("two connections, one id %q", id)
	}
	if got := a.asked(); len(got) != 2 || got[0] != "whoami " || got[1] != "whoami " {
		t.Fatalf("the authorizer was asked %q, want two whoami", got)
	}

	alice.send(t, `{"command":"whoami","id":2}`) // args are required, as for every command
	alice.expect(t, `{"id":2,"error":{"code":"bad_command","message":"\"args\" must be an object"}}`)
}

// clientIDOf checks that answer is prefix, an id, then suffix, and returns the id.
func clientIDOf(t testing.TB, answer, prefix, suffix string) string {
	t.Helper()
	if len(answer) <= len(prefix)+len(suffix) || answer[:len(prefix)] != prefix || answer[len(answer)-len(suffix):] != suffix {
		t.Fatalf("answer %s, want %s<id>%s", answer, prefix, suffix)
	}
	return answer[len(prefix) : len(answer)-len(suffix)]
}
