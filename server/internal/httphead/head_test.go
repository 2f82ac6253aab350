package httphead_test

import (
	"reflect"
	"testing"

	"github.com/wsify/wsify/server/internal/httphead"
)

const upgradeHead = "GET /ws?token=abc HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n" +
	"Connection: Upgrade\r\nOrigin: https://example.com\r\n\r\n"

func TestRequestLine(t *testing.T) {
	for _, c := range []struct {
		head                         string
		method, path, query, headers string
	}{
		{upgradeHead, "GET", "/ws", "token=abc", upgradeHead[len("GET /ws?token=abc HTTP/1.1\r\n"):]},
		{"POST /broadcast HTTP/1.1\r\nA: b\r\n\r\n", "POST", "/broadcast", "", "A: b\r\n\r\n"},
		{"GET /a?b?c HTTP/1.1\r\n", "GET", "/a", "b?c", ""},
		{"GET /a? HTTP/1.1\r\n", "GET", "/a", "", ""},
		{"GET /ws\r\nHost: x\r\n", "GET", "/ws", "", "Host: x\r\n"}, // HTTP/0.9 style: no version
		{"GET  /ws HTTP/1.1\r\n", "GET", "", "", ""},                // two spaces: an empty target
		{"GET", "GET", "", "", ""},
		{"", "", "", "", ""},
		{"\r\nHost: x", "", "", "", "Host: x"},
	} {
		method, path, query, headers := httphead.RequestLine([]byte(c.head))
		got := []string{string(method), string(path), string(query), string(headers)}
		if want := []string{c.method, c.path, c.query, c.headers}; !reflect.DeepEqual(got, want) {
			t.Errorf("RequestLine(%q) = %q, want %q", c.head, got, want)
		}
	}
}

func TestIsUpgrade(t *testing.T) {
	for _, c := range []struct {
		head, path string
		want       bool
	}{
		{upgradeHead, "/ws", true},
		{"GET /ws HTTP/1.1\r\n\r\n", "/ws", true},
		{"GET /ws?x HTTP/1.1\r\n\r\n", "/ws", true},
		{"GET /ws/ HTTP/1.1\r\n\r\n", "/ws", false},
		{"GET /wsx HTTP/1.1\r\n\r\n", "/ws", false},
		{"get /ws HTTP/1.1\r\n\r\n", "/ws", false}, // methods are case-sensitive
		{"POST /ws HTTP/1.1\r\n\r\n", "/ws", false},
		{"GET /other HTTP/1.1\r\n\r\n", "/other", true},
		{"GET /ws HTTP/1.1\r\n\r\n", "/other", false},
		{"", "/ws", false},
	} {
		if got := httphead.IsUpgrade([]byte(c.head), c.path); got != c.want {
			t.Errorf("IsUpgrade(%q, %q) = %v, want %v", c.head, c.path, got, c.want)
		}
	}
}

// eachHeader collects what EachHeader passes.
func eachHeader(head, name string) []string {
	got := []string{}
	httphead.EachHeader([]byte(head), name, func(v []byte) { got = append(got, string(v)) })
	return got
}

func TestEachHeader(t *testing.T) {
	for _, c := range []struct {
		head, name string
		want       []string
	}{
		{upgradeHead, "Origin", []string{"https://example.com"}},
		{upgradeHead, "origin", []string{"https://example.com"}},
		{upgradeHead, "ORIGIN", []string{"https://example.com"}},
		{upgradeHead, "Cookie", []string{}},
		{"GET / HTTP/1.1\r\nOrigin: a\r\nX: y\r\norigin:b\r\n\r\n", "Origin", []string{"a", "b"}},
		{"GET / HTTP/1.1\r\nOrigin: \t a \t\r\n\r\n", "Origin", []string{"a"}},
		{"GET / HTTP/1.1\r\nOrigin:\r\n\r\n", "Origin", []string{""}},
		{"GET / HTTP/1.1\r\nOrigin: a\r\n b\r\n\tc\r\nX: y\r\n d\r\n\r\n", "Origin", []string{"a", "", ""}},
		{"GET / HTTP/1.1\r\nX: y\r\n Origin: a\r\n\r\n", "Origin", []string{}}, // a fold of X, not an Origin
		{"GET / HTTP/1.1\r\nOrigin : a\r\n\r\n", "Origin", []string{}},         // the space makes another name
		{"GET / HTTP/1.1\r\nOrigin a\r\n\r\n", "Origin", []string{}},
		{"Origin: a\r\n\r\n", "Origin", []string{}}, // the first line is the request line
		{"GET / HTTP/1.1\r\nOrigin: a\r\n\r\nOrigin: body\r\n", "Origin", []string{"a", "body"}},
		{"GET / HTTP/1.1\r\nOrigin: a:b:c", "Origin", []string{"a:b:c"}},
	} {
		if got := eachHeader(c.head, c.name); !reflect.DeepEqual(got, c.want) {
			t.Errorf("EachHeader(%q, %q) passed %q, want %q", c.head, c.name, got, c.want)
		}
	}
}

func TestParse(t *testing.T) {
	headers, query := httphead.Parse([]byte(upgradeHead))
	if got := headers["Origin"]; !reflect.DeepEqual(got, []string{"https://example.com"}) {
		t.Errorf("Origin %q", got)
	}
	if got := headers["Upgrade"]; !reflect.DeepEqual(got, []string{"websocket"}) {
		t.Errorf("Upgrade %q", got)
	}
	if got := query["token"]; !reflect.DeepEqual(got, []string{"abc"}) {
		t.Errorf("token %q", got)
	}
}

// TestHeadReadingDoesNotAllocate pins what runs on every request head, on
// the event loop, at zero allocations.
func TestHeadReadingDoesNotAllocate(t *testing.T) {
	head := []byte(upgradeHead)
	n := 0
	count := func([]byte) { n++ }
	for name, f := range map[string]func(){
		"RequestLine": func() { httphead.RequestLine(head) },
		"IsUpgrade":   func() { httphead.IsUpgrade(head, "/ws") },
		"EachHeader":  func() { httphead.EachHeader(head, "Origin", count) },
		"Allowed nil": func() { httphead.Origins(nil).Allowed(head) },
	} {
		if a := testing.AllocsPerRun(100, f); a != 0 {
			t.Errorf("%s allocates %v times", name, a)
		}
	}
}
