package httphead

import (
	"bufio"
	"bytes"
	"net/textproto"
	"net/url"
)

// End marks the end of a request head.
var End = []byte("\r\n\r\n")

// RequestLine splits a request head into the method, path and raw query of
// its request line, and the header lines after it.
func RequestLine(head []byte) (method, path, query, headers []byte) {
	line, headers, _ := bytes.Cut(head, []byte("\r\n"))
	method, target, _ := bytes.Cut(line, []byte(" "))
	target, _, _ = bytes.Cut(target, []byte(" "))
	path, query, _ = bytes.Cut(target, []byte("?"))
	return method, path, query, headers
}

// IsUpgrade reports whether the request line is GET path[?query].
func IsUpgrade(head []byte, path string) bool {
	method, p, _, _ := RequestLine(head)
	return string(method) == "GET" && string(p) == path
}

// EachHeader calls fn with the trimmed value of every header of the
// request head named name (case-insensitively). A folded continuation of
// such a header (obsolete, sent by no browser) is passed as an empty
// value, so a check that refuses what does not parse refuses it.
func EachHeader(head []byte, name string, fn func([]byte)) {
	_, rest, _ := bytes.Cut(head, []byte("\r\n")) // skip the request line
	named := false
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if named {
				fn(nil)
			}
			continue
		}
		key, value, found := bytes.Cut(line, []byte(":"))
		if named = found && bytes.EqualFold(key, []byte(name)); named {
			fn(bytes.TrimSpace(value))
		}
	}
}

// Parse returns the headers and query of a request head as maps, for the
// authorizer: it allocates, and runs only when one is asked.
func Parse(head []byte) (headers, query map[string][]string) {
	_, _, rawQuery, lines := RequestLine(head)
	headers, _ = textproto.NewReader(bufio.NewReader(bytes.NewReader(lines))).ReadMIMEHeader()
	query, _ = url.ParseQuery(string(rawQuery))
	return headers, query
}
