package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/server"
)

func TestPostBroadcastBothBodyShapesDeliverByteForByte(t *testing.T) {
	s := start(t, server.Config{})
	c := dial(t, s)
	joinSync(t, c, "news")
	big := strings.Repeat("0123456789", 6000) // several reads on both sides
	for _, tc := range []struct{ body, content string }{
		{`{"channel":"news","content":{ "a" : [1, 2.50, "\u00e9"] }}`, `{ "a" : [1, 2.50, "\u00e9"] }`},
		{`{"channel":"news","args":{"content":"old \"shape\""}}`, `"old \"shape\""`},
		{`{"content":12345678901234567890,"channel":" news "}`, `12345678901234567890`},
		{`{"channel":"news","content":"` + big + `"}`, `"` + big + `"`},
	} {
		status, body := post(t, httpURL(s, "/broadcast"), "application/json", tc.body)
		expectJSON(t, status, body, http.StatusCreated)
		expect(t, c, `{"channel":"news","content":`+tc.content+`}`)
	}
}

func TestPostBroadcastContentTypeParametersAndCase(t *testing.T) {
	s := start(t, server.Config{})
	c := dial(t, s)
	joinSync(t, c, "n")
	for _, ct := range []string{"application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8"} {
		status, body := post(t, httpURL(s, "/broadcast"), ct, `{"channel":"n","content":1}`)
		if status != http.StatusCreated {
			t.Fatalf("%q: got %d %s", ct, status, body)
		}
		expect(t, c, `{"channel":"n","content":1}`)
	}
}

func TestPostBroadcastWrongContentTypeIs415(t *testing.T) {
	s := start(t, server.Config{})
	c := dial(t, s)
	joinSync(t, c, "n")
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/jsonp", "json"} {
		status, body := post(t, httpURL(s, "/broadcast"), ct, `{"channel":"n","content":1}`)
		expectHTTPError(t, status, body, http.StatusUnsupportedMediaType, "unsupported_media_type")
	}
	expectOnlySentinel(t, s, c, "n")
}

func TestBroadcastOtherMethodsAre405(t *testing.T) {
	s := start(t, server.Config{})
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		resp, body := do(t, method, httpURL(s, "/broadcast"), "application/json", `{"channel":"n","content":1}`, nil)
		expectHTTPError(t, resp.StatusCode, body, http.StatusMethodNotAllowed, "method_not_allowed")
		if allow := resp.Header.Get("Allow"); allow != "POST" {
			t.Errorf("%s: Allow %q, want POST", method, allow)
		}
	}
}

func TestBroadcastKey(t *testing.T) {
	s := start(t, server.Config{BroadcastKey: "k"})
	c := dial(t, s)
	joinSync(t, c, "n")
	const msg = `{"channel":"n","content":1}`
	ok := func(status int, body string) {
		t.Helper()
		expectJSON(t, status, body, http.StatusCreated)
		expect(t, c, msg)
	}
	ok(post(t, httpURL(s, "/broadcast?key=k"), "application/json", msg))
	ok(post(t, httpURL(s, "/broadcast"), "application/json", msg, "Authorization", "Bearer k"))
	ok(post(t, httpURL(s, "/broadcast"), "application/json", msg, "Authorization", "bearer k")) // schemes are case-insensitive
	for _, tc := range []struct{ path, auth string }{
		{"/broadcast", ""},
		{"/broadcast?key=wrong", ""},
		{"/broadcast?key=", ""},
		{"/broadcast?key=kk", ""},
		{"/broadcast", "Bearer wrong"},
		{"/broadcast", "Bearer "},
		{"/broadcast", "k"},
		{"/broadcast", "Basic k"},
	} {
		var hdr []string
		if tc.auth != "" {
			hdr = []string{"Authorization", tc.auth}
		}
		status, body := post(t, httpURL(s, tc.path), "application/json", msg, hdr...)
		expectHTTPError(t, status, body, http.StatusForbidden, "forbidden")
	}
	resp, body := do(t, http.MethodGet, httpURL(s, "/broadcast?key=k"), "application/json", msg, nil)
	expectHTTPError(t, resp.StatusCode, body, http.StatusMethodNotAllowed, "method_not_allowed")
	expectOnlySentinel(t, s, c, "n")
}

func TestPostBroadcastBadBodiesAre400(t *testing.T) {
	s := start(t, server.Config{})
	c := dial(t, s)
	joinSync(t, c, "n")
	for _, tc := range []struct{ body, code string }{
		{`{"channel":"n","content":`, "bad_json"},
		{`{"channel":"n","content":1} trailing`, "bad_json"},
		{``, "bad_json"},
		{`[{"channel":"n","content":1},7]`, "bad_command"}, // an array body is several publications, each an object
		{`"n"`, "bad_command"},
		{`{"content":1}`, "bad_channel"},
		{`{"channel":"  ","content":1}`, "bad_channel"},
		{`{"channel":"","content":1}`, "bad_channel"},
		{`{"channel":7,"content":1}`, "bad_channel"},
		{`{"channel":["n"],"content":1}`, "bad_channel"},
		{`{"channel":"n"}`, "bad_command"},
		{`{"channel":"n","args":{}}`, "bad_command"},
		{"{\"channel\":\"n\",\"content\":\"\xff\xfe\"}", "bad_json"},
	} {
		status, body := post(t, httpURL(s, "/broadcast"), "application/json", tc.body)
		expectHTTPError(t, status, body, http.StatusBadRequest, tc.code)
	}
	expectOnlySentinel(t, s, c, "n")
}

func TestPostBroadcastWithoutSubscribersIs201(t *testing.T) {
	s := start(t, server.Config{})
	status, body := post(t, httpURL(s, "/broadcast"), "application/json", `{"channel":"nobody-here","content":1}`)
	expectJSON(t, status, body, http.StatusCreated)
}

func TestHealthzAndUnknownPath(t *testing.T) {
	s := start(t, server.Config{})
	resp, body := do(t, http.MethodGet, httpURL(s, "/healthz"), "", "", nil)
	expectJSON(t, resp.StatusCode, body, http.StatusOK)
	for _, path := range []string{"/nope", "/broadcast/x", "/healthz2"} { // "/" is the console
		resp, body := do(t, http.MethodGet, httpURL(s, path), "", "", nil)
		expectHTTPError(t, resp.StatusCode, body, http.StatusNotFound, "not_found")
	}
}

// TestKeepAliveServesSeveralRequestsOnOneConnection counts the dials the
// client makes: one connection must carry every request.
func TestKeepAliveServesSeveralRequestsOnOneConnection(t *testing.T) {
	s := start(t, server.Config{})
	sub := dial(t, s)
	joinSync(t, sub, "n")
	var dials atomic.Int32
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for i := range 3 {
		msg := `{"channel":"n","content":` + strconv.Itoa(i) + `}`
		resp, body := do(t, http.MethodPost, httpURL(s, "/broadcast"), "application/json", msg, client)
		expectJSON(t, resp.StatusCode, body, http.StatusCreated)
		expect(t, sub, msg)
	}
	resp, body := do(t, http.MethodGet, httpURL(s, "/healthz"), "", "", client)
	expectJSON(t, resp.StatusCode, body, http.StatusOK)
	if n := dials.Load(); n != 1 {
		t.Fatalf("%d connections for 4 requests, want 1", n)
	}
}

// TestRequestInPiecesReachesFastHTTPWhole sends requests over a raw socket
// in small writes, split inside the request line, inside the head's final
// CRLFCRLF and inside the body, so the router sees partial heads and hands
// over a connection whose body is still coming.
func TestRequestInPiecesReachesFastHTTPWhole(t *testing.T) {
	s := start(t, server.Config{})
	sub := dial(t, s)
	joinSync(t, sub, "n")
	body := `{"channel":"n","content":{"pieces":[1,2,3]}}`
	head := "POST /broadcast HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n"
	req := head + body
	for name, cuts := range map[string][]int{
		"request line, head, body": {len("POST /broad"), len(head) - 3, len(head) + 10},
		"body after head":          {len(head)},
		"head and part of body":    {len(head) + 5},
		"byte by byte head":        byteCuts(len(head)),
	} {
		t.Run(name, func(t *testing.T) {
			nc := plainDial(t, s)
			writePieces(t, nc, req, cuts)
			resp := readResponse(t, nc, http.MethodPost)
			expectJSON(t, resp.status, resp.body, http.StatusCreated)
			expect(t, sub, `{"channel":"n","content":{"pieces":[1,2,3]}}`)
		})
	}
}

// TestPipelinedRequestsInOneWrite sends two requests in a single write: the
// router reads both before it hands over, so the second must be replayed.
func TestPipelinedRequestsInOneWrite(t *testing.T) {
	s := start(t, server.Config{})
	sub := dial(t, s)
	joinSync(t, sub, "n")
	one := rawPost("/broadcast", `{"channel":"n","content":1}`)
	two := rawPost("/broadcast", `{"channel":"n","content":2}`)
	nc := plainDial(t, s)
	writePieces(t, nc, one+two+"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", nil)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(nc)
	for i, method := range []string{http.MethodPost, http.MethodPost, http.MethodGet} {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		want := map[string]int{http.MethodPost: 201, http.MethodGet: 200}[method]
		expectJSON(t, resp.StatusCode, string(b), want)
	}
	expect(t, sub, `{"channel":"n","content":1}`)
	expect(t, sub, `{"channel":"n","content":2}`)
}

// expectOnlySentinel posts a marker to channel and checks it is the next
// message c gets: nothing refused before it was delivered. The hub keeps
// one order per channel, so an earlier delivery would come first.
func expectOnlySentinel(t testing.TB, s *server.Server, c *websocket.Conn, channel string) {
	t.Helper()
	msg := `{"channel":"` + channel + `","content":"sentinel"}`
	status, body := post(t, httpURL(s, "/broadcast?key=k"), "application/json", msg)
	expectJSON(t, status, body, http.StatusCreated)
	expect(t, c, msg)
}

func rawPost(path, body string) string {
	return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

func byteCuts(n int) []int {
	cuts := make([]int, 0, n)
	for i := 1; i < n; i++ {
		cuts = append(cuts, i)
	}
	return cuts
}

// writePieces writes msg cut at the given offsets, with a pause between
// pieces long enough for the server to read each one on its own. Byte by
// byte heads use a shorter pause to keep the test quick. The pause paces
// the client like a slow network; no assertion depends on it: a server
// that reads two pieces at once must answer the same.
func writePieces(t testing.TB, nc net.Conn, msg string, cuts []int) {
	t.Helper()
	pause := 20 * time.Millisecond
	if len(cuts) > 20 {
		pause = time.Millisecond
	}
	prev := 0
	for _, cut := range append(cuts, len(msg)) {
		if _, err := io.WriteString(nc, msg[prev:cut]); err != nil {
			t.Fatalf("write: %v", err)
		}
		prev = cut
		if cut < len(msg) {
			time.Sleep(pause)
		}
	}
}

type rawResponse struct {
	status int
	body   string
}

func readResponse(t testing.TB, nc net.Conn, method string) rawResponse {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(nc), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResponse{resp.StatusCode, string(b)}
}

// expectJSON checks the status and that the body is a JSON object.
func expectJSON(t testing.TB, status int, body string, want int) {
	t.Helper()
	var v map[string]any
	if status != want {
		t.Fatalf("status %d, want %d (body %s)", status, want, body)
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("body is not a JSON object: %q", body)
	}
}

// expectHTTPError checks status and a body {"error":{"code":code,"message":..}}.
func expectHTTPError(t testing.TB, status int, body string, want int, code string) {
	t.Helper()
	var r struct {
		Error *struct{ Code, Message string } `json:"error"`
	}
	switch {
	case status != want:
		t.Errorf("status %d, want %d (body %s)", status, want, body)
	case json.Unmarshal([]byte(body), &r) != nil || r.Error == nil:
		t.Errorf("status %d: body is not an error object: %q", status, body)
	case r.Error.Code != code || r.Error.Message == "":
		t.Errorf("status %d: got %s, want code %q with a message", status, body, code)
	}
}

// TestBroadcastBodyLimit: a body exactly at the message limit is taken, one
// byte over gets 413.
func TestBroadcastBodyLimit(t *testing.T) {
	s := start(t, server.Config{MaxMessageBytes: 1024})
	body := func(n int) string {
		prefix := `{"channel":"big","content":"`
		return prefix + strings.Repeat("x", n-len(prefix)-2) + `"}`
	}
	if code, b := post(t, httpURL(s, "/broadcast"), "application/json", body(1024)); code != http.StatusCreated {
		t.Fatalf("at the limit: %d %s", code, b)
	}
	if code, b := post(t, httpURL(s, "/broadcast"), "application/json", body(1025)); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("over the limit: %d %s", code, b)
	}
}
