package httphead_test

import (
	"bytes"
	"strings"
	"testing"
	"unsafe"

	"github.com/wsify/wsify/server/internal/httphead"
)

// The request head comes from anyone who connects, before any check: these
// fuzzers hold RequestLine and EachHeader, on any bytes, to a reading of
// the head written differently (a split into lines, then fields) and to
// never copying: what they return must be part of the head the event loop
// read.

// within reports whether part is empty or lies inside whole's bytes.
func within(part, whole []byte) bool {
	if len(part) == 0 {
		return true
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(whole)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(part)))
	return p >= lo && p+uintptr(len(part)) <= lo+uintptr(len(whole))
}

func FuzzRequestLine(f *testing.F) {
	for _, s := range []string{upgradeHead, "GET /a?b?c HTTP/1.1\r\n", "GET  /ws\r\n", "GET", "", "\r\n\r\n", "POST /broadcast?x HTTP/1.1\r\nA: b\r\n\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		method, path, query, headers := httphead.RequestLine(head)
		for _, part := range [][]byte{method, path, query, headers} {
			if !within(part, head) {
				t.Fatalf("%q: a part, %q, is not in the head", head, part)
			}
		}
		line, rest, _ := strings.Cut(string(head), "\r\n")
		fields := strings.SplitN(line, " ", 3)
		target := ""
		if len(fields) > 1 {
			target = fields[1]
		}
		wantPath, wantQuery, _ := strings.Cut(target, "?")
		if string(method) != fields[0] || string(path) != wantPath || string(query) != wantQuery || string(headers) != rest {
			t.Fatalf("%q: got %q %q %q %q; want %q %q %q %q", head, method, path, query, headers, fields[0], wantPath, wantQuery, rest)
		}
		if bytes.ContainsAny(method, " ") || bytes.ContainsAny(path, " ?") || bytes.Contains(query, []byte(" ")) ||
			bytes.Contains(method, []byte("\r\n")) || bytes.Contains(path, []byte("\r\n")) || bytes.Contains(query, []byte("\r\n")) {
			t.Fatalf("%q: method %q, path %q, query %q run past their delimiters", head, method, path, query)
		}
		if got := httphead.IsUpgrade(head, string(path)); got != (string(method) == "GET") {
			t.Fatalf("%q: IsUpgrade on its own path %q = %v with method %q", head, path, got, method)
		}
	})
}

func FuzzEachHeader(f *testing.F) {
	for _, c := range []struct{ head, name string }{
		{upgradeHead, "Origin"},
		{"GET / HTTP/1.1\r\nOrigin: a\r\n b\r\n\tc\r\nX: y\r\n d\r\n\r\n", "origin"},
		{"GET / HTTP/1.1\r\nOrigin: a\r\nOrigin:b\r\n\r\nOrigin: c", "ORIGIN"},
		{"GET / HTTP/1.1\r\nX: y\r\n Origin: a\r\n\r\n", "Origin"},
		{"GET / HTTP/1.1\r\n: empty name\r\n\r\n", ""},
		{"GET / HTTP/1.1\r\nK\u212aelvin: k\r\n\r\n", "kkelvin"},
	} {
		f.Add([]byte(c.head), c.name)
	}
	f.Fuzz(func(t *testing.T, head []byte, name string) {
		var got [][]byte
		httphead.EachHeader(head, name, func(v []byte) {
			if !within(v, head) {
				t.Fatalf("%q: value %q is not in the head", head, v)
			}
			if !bytes.Equal(v, bytes.TrimSpace(v)) {
				t.Fatalf("%q: value %q is not trimmed", head, v)
			}
			got = append(got, v)
		})
		want := headerValues(string(head), name)
		if len(got) != len(want) {
			t.Fatalf("%q, %q: %d values %q, want %d %q", head, name, len(got), got, len(want), want)
		}
		for i := range got {
			if string(got[i]) != want[i] {
				t.Fatalf("%q, %q: values %q, want %q", head, name, got, want)
			}
		}
	})
}

// headerValues is what EachHeader should pass: the trimmed value of every
// line after the first named name, and an empty one for every folded
// line continuing such a header.
func headerValues(head, name string) []string {
	want := []string{}
	named := false
	for _, line := range strings.Split(head, "\r\n")[1:] {
		if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
			if named {
				want = append(want, "")
			}
			continue
		}
		i := strings.IndexByte(line, ':')
		named = i >= 0 && strings.EqualFold(line[:i], name)
		if named {
			want = append(want, strings.TrimSpace(line[i+1:]))
		}
	}
	return want
}
