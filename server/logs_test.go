package server_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/server"
	"github.com/wsify/wsify/server/servertest"
)

// TestDebugLogsOneLinePerBadEnding: a refused handshake, a protocol close
// and a dropped connection each leave one debug line with the reason, the
// remote address and the close code; a normal close leaves none.
func TestDebugLogsOneLinePerBadEnding(t *testing.T) {
	logs := &servertest.SyncBuffer{}
	s := start(t, server.Config{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})

	raw := rawRequest(t, s, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n") // no upgrade headers
	bad := dial(t, s)
	bad.WriteMessage(websocket.TextMessage, []byte{0xff, 0xfe})
	expectClose(t, bad, 1007)
	dropped := dial(t, s)
	joinSync(t, dropped, "x")
	dropped.NetConn().Close()
	closeNormally(t, dial(t, s))

	eventually(t, "three debug lines", func() bool { return strings.Count(logs.String(), "level=DEBUG") >= 3 })
	waitClosed(t, s)
	for _, want := range [][]string{
		{`msg="handshake rejected"`, "reason=bad_handshake", "remote=" + raw},
		{`msg="connection closed"`, "code=1007", "remote=" + bad.LocalAddr().String()},
		{`msg="connection closed"`, "code=1006", "remote=" + dropped.LocalAddr().String(), `reason="dropped without a close frame"`},
	} {
		if !logged(logs.String(), want...) {
			t.Errorf("no log line with %q in\n%s", want, logs)
		}
	}
	if n := strings.Count(logs.String(), "level=DEBUG"); n != 3 {
		t.Errorf("%d debug lines, want 3 (none for the normal close):\n%s", n, logs)
	}
}

// TestInfoLogsNothingPerConnectionOrMessage: at info, a busy session logs
// only the start-up lines.
func TestInfoLogsNothingPerConnectionOrMessage(t *testing.T) {
	logs := &servertest.SyncBuffer{}
	s := start(t, server.Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	a, b := dial(t, s), dial(t, s)
	joinSync(t, a, "n")
	for range 20 {
		send(t, b, `{"command":"broadcast","args":{"channel":"n","content":1}}`)
		expect(t, a, `{"channel":"n","content":1}`)
	}
	send(t, b, `{"command":"nope","args":{}}`)
	recv(t, b)
	a.NetConn().Close()
	b.WriteMessage(websocket.TextMessage, []byte{0xff})
	expectClose(t, b, 1007)
	waitClosed(t, s)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "wsify listening") || !strings.Contains(lines[1], "protected mode") {
		t.Fatalf("want only the start-up lines (listening, protected mode), got:\n%s", logs)
	}
}

func logged(logs string, parts ...string) bool {
	for _, line := range strings.Split(logs, "\n") {
		n := 0
		for _, p := range parts {
			if strings.Contains(line, p) {
				n++
			}
		}
		if n == len(parts) {
			return true
		}
	}
	return false
}

// rawRequest writes a request on a plain TCP connection, reads until the
// server closes and returns the client's address.
func rawRequest(t *testing.T, s *server.Server, req string) string {
	t.Helper()
	c := plainDial(t, s)
	c.Write([]byte(req))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var buf [512]byte
	for {
		if _, err := c.Read(buf[:]); err != nil {
			return c.LocalAddr().String()
		}
	}
}
