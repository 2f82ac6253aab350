package server_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/server"
	"github.com/wsify/wsify/server/servertest"
)

// TestPanicClosesOnlyItsConnection: a bug that panics in one connection's
// command closes that connection with 1011, is logged with its stack and
// counted, and every other connection, and the server, go on.
func TestPanicClosesOnlyItsConnection(t *testing.T) {
	defer server.PanicOnChannel("boom")()
	logs := &servertest.SyncBuffer{}
	s := start(t, server.Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	others := []*websocket.Conn{dial(t, s), dial(t, s), dial(t, s)}
	for _, c := range others {
		joinSync(t, c, "news")
	}
	victim := dial(t, s)
	send(t, victim, `{"command":"join","args":{"channel":"boom"},"id":1}`)
	expectClose(t, victim, websocket.CloseInternalServerErr)

	postToChannel(t, s, "news", `"still here"`)
	for _, c := range others {
		expect(t, c, `{"channel":"news","content":"still here"}`)
	}
	late := dial(t, s)
	joinSync(t, late, "late")
	if n := s.Stats().Panics; n != 1 {
		t.Errorf("%d panics counted, want 1", n)
	}
	if _, body := get(t, httpURL(s, "/metrics")); !strings.Contains(body, "wsify_panics_total 1\n") {
		t.Error("/metrics does not count the panic")
	}
	if !strings.Contains(logs.String(), "recovered from a panic") || !strings.Contains(logs.String(), "goroutine") {
		t.Errorf("no log line with the panic and its stack:\n%s", logs)
	}
}
