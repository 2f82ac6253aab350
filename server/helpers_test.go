package server_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/internal/testutil"
	"github.com/wsify/wsify/server"
	"github.com/wsify/wsify/server/servertest"
)

// start runs a server on a free loopback port for the test's lifetime.
func start(t testing.TB, cfg server.Config) *server.Server {
	t.Helper()
	return servertest.Start(t, cfg)
}

func wsURL(s *server.Server, query string) string {
	u := fmt.Sprintf("ws://%s/ws", s.Addr())
	if query != "" {
		u += "?" + query
	}
	return u
}

func httpURL(s *server.Server, path string) string {
	return fmt.Sprintf("http://%s%s", s.Addr(), path)
}

// dial opens a client connection with gorilla/websocket.
func dial(t testing.TB, s *server.Server) *websocket.Conn {
	t.Helper()
	return mustDialQuery(t, s, "")
}

// mustDialQuery opens a client whose URL carries query, closed with the test.
func mustDialQuery(t testing.TB, s *server.Server, query string) *websocket.Conn {
	t.Helper()
	c, err := dialQuery(s, query)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func dialQuery(s *server.Server, query string) (*websocket.Conn, error) {
	return dialURL(wsURL(s, query), nil)
}

func dialWithHeader(s *server.Server, header http.Header) (*websocket.Conn, error) {
	return dialURL(wsURL(s, ""), header)
}

// dialURL dials with gorilla/websocket; a refused handshake comes back as a
// *handshakeError.
func dialURL(url string, header http.Header) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial(url, header)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil && resp != nil {
		return nil, &handshakeError{resp.StatusCode, err}
	}
	return c, err
}

type handshakeError struct {
	status int
	err    error
}

func (e *handshakeError) Error() string { return fmt.Sprintf("handshake %d: %v", e.status, e.err) }

// statusOf is the HTTP status of a refused handshake, 0 for any other error.
func statusOf(err error) int {
	var he *handshakeError
	if errors.As(err, &he) {
		return he.status
	}
	return 0
}

// dialStatus dials s and returns the handshake's status: 101 when it
// succeeded (the client is closed again), else the refusal's status, or 0
// and the error when no HTTP answer came. Other goroutines may call it.
func dialStatus(s *server.Server) (int, error) {
	c, err := dialQuery(s, "")
	if err != nil {
		return statusOf(err), err
	}
	c.Close()
	return http.StatusSwitchingProtocols, nil
}

// handshakeStatus is dialStatus for the test's goroutine: no HTTP answer
// fails the test.
func handshakeStatus(t testing.TB, s *server.Server) int {
	t.Helper()
	status, err := dialStatus(s)
	if status == 0 {
		t.Fatalf("dial: %v", err)
	}
	return status
}

func send(t testing.TB, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// recv reads one message within a deadline.
func recv(t testing.TB, c *websocket.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, p, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(p)
}

// expect reads one message and compares it with want.
func expect(t testing.TB, c *websocket.Conn, want string) {
	t.Helper()
	if got := recv(t, c); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// expectNothing checks that no message arrives for a while.
func expectNothing(t testing.TB, c *websocket.Conn, within time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	_, p, err := c.ReadMessage()
	if err == nil {
		t.Fatalf("unexpected message %s", p)
	}
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("unexpected error %v", err)
	}
}

// expectClose reads until the server closes and checks the close code.
func expectClose(t testing.TB, c *websocket.Conn, code int) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		ce, ok := err.(*websocket.CloseError)
		if !ok {
			t.Fatalf("want close %d, got %v", code, err)
		}
		if ce.Code != code {
			t.Fatalf("want close %d, got %d (%s)", code, ce.Code, ce.Text)
		}
		return
	}
}

// joinSync joins channel and waits for the reply, so the join is in place.
func joinSync(t testing.TB, c *websocket.Conn, channel string) {
	t.Helper()
	send(t, c, fmt.Sprintf(`{"command":"join","args":{"channel":%q},"id":"j"}`, channel))
	expect(t, c, `{"id":"j","ok":true}`)
}

// post sends body with the header lines given as name, value pairs.
func post(t testing.TB, url, contentType, body string, header ...string) (int, string) {
	t.Helper()
	resp, b := do(t, http.MethodPost, url, contentType, body, nil, header...)
	return resp.StatusCode, b
}

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, b := do(t, http.MethodGet, url, "", "", nil)
	return resp.StatusCode, b
}

// postToChannel publishes content on channel through POST /broadcast and
// wants 201.
func postToChannel(t testing.TB, s *server.Server, channel, content string) {
	t.Helper()
	body := fmt.Sprintf(`{"channel":%q,"content":%s}`, channel, content)
	if code, resp := post(t, httpURL(s, "/broadcast"), "application/json", body); code != 201 {
		t.Fatalf("POST /broadcast %s: %d %s", body, code, resp)
	}
}

// do sends one request with client (http.DefaultClient when nil) and the
// header lines given as name, value pairs.
func do(t testing.TB, method, url, contentType, body string, client *http.Client, header ...string) (*http.Response, string) {
	t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// eventually polls cond until it holds or the time is up.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, what, cond)
}

// waitClosed waits until the server holds no socket.
func waitClosed(t testing.TB, s *server.Server) {
	t.Helper()
	eventually(t, "every connection closed", func() bool { return s.Stats().Sockets == 0 })
}

// settles polls until count() is back to want or below. It fails with
// every goroutine's stack, which shows what holds a leaked resource.
func settles(t testing.TB, what string, count func() int, want int) {
	t.Helper()
	var n int
	if !testutil.Poll(testutil.Timeout, func() bool { n = count(); return n <= want }) {
		buf := make([]byte, 1<<20)
		t.Fatalf("%s: %d, started with %d\n%s", what, n, want, buf[:runtime.Stack(buf, true)])
	}
}

func errorCode(t testing.TB, msg string) string {
	t.Helper()
	var r struct {
		Error struct{ Code string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(msg), &r); err != nil || r.Error.Code == "" {
		t.Fatalf("not an error reply: %s", msg)
	}
	return r.Error.Code
}
