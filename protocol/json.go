package protocol

import (
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds nesting so a hostile message cannot exhaust the stack.
const maxDepth = 512

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// Valid reports whether b holds exactly one JSON value (RFC 8259) and
// nothing but white space around it. It does not check UTF-8.
func Valid(b []byte) bool {
	end, ok := scanValue(b, skipSpace(b, 0), 0)
	return ok && skipSpace(b, end) == len(b)
}

// scanValue validates the JSON value that starts at b[i] and returns the
// index just past it.
func scanValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > maxDepth {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		return scanString(b, i)
	case c == '{':
		return scanObject(b, i, depth+1, nil)
	case c == '[':
		return scanArray(b, i, depth+1)
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(b, i)
	default:
		return scanLiteral(b, i)
	}
}

// member is called for each key and value of an object: key is the raw
// string body between the quotes, value the raw JSON value.
type member func(key, value []byte)

// scanObject validates the object at b[i] (which must be '{'), calling fn
// for every member when fn is not nil.
func scanObject(b []byte, i, depth int, fn member) (int, bool) {
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for i < len(b) {
		next, ok := scanMember(b, i, depth, fn)
		if !ok {
			return next, false
		}
		i = skipSpace(b, next)
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		if i >= len(b) || b[i] != ',' {
			return i, false
		}
		i = skipSpace(b, i+1)
	}
	return i, false
}

func scanMember(b []byte, i, depth int, fn member) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	kend, ok := scanString(b, i)
	if !ok {
		return kend, false
	}
	j := skipSpace(b, kend)
	if j >= len(b) || b[j] != ':' {
		return j, false
	}
	vstart := skipSpace(b, j+1)
	vend, ok := scanValue(b, vstart, depth)
	if ok && fn != nil {
		fn(b[i+1:kend-1], b[vstart:vend])
	}
	return vend, ok
}

func scanArray(b []byte, i, depth int) (int, bool) {
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for i < len(b) {
		end, ok := scanValue(b, i, depth)
		if !ok {
			return end, false
		}
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		if i >= len(b) || b[i] != ',' {
			return i, false
		}
		i = skipSpace(b, i+1)
	}
	return i, false
}

// scanString validates the string at b[i] (which must be '"').
func scanString(b []byte, i int) (end int, ok bool) {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			n := escapeLen(b[i:])
			if n == 0 {
				return i, false
			}
			i += n - 1
		}
	}
	return i, false
}

// escapeLen returns the length of the escape sequence at the start of b, or
// 0 when it is not a valid one.
func escapeLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if len(b) >= 6 && isHex(b[2]) && isHex(b[3]) && isHex(b[4]) && isHex(b[5]) {
			return 6
		}
	}
	return 0
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

// scanNumber validates -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && isDigit(b[i]):
		i = digits(b, i)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func scanLiteral(b []byte, i int) (int, bool) {
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
			return i + len(lit), true
		}
	}
	return i, false
}

// unescape appends the decoded form of the raw string body s (between the
// quotes, already validated by scanString) to dst. Lone surrogates become
// U+FFFD, as encoding/json does.
func unescape(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			dst = append(dst, s[i])
			continue
		}
		var r rune
		r, i = unescapeOne(s, i)
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// unescapeOne decodes the escape at s[i] and returns the rune and the index
// of its last byte.
func unescapeOne(s []byte, i int) (rune, int) {
	switch c := s[i+1]; c {
	case 'b':
		return '\b', i + 1
	case 'f':
		return '\f', i + 1
	case 'n':
		return '\n', i + 1
	case 'r':
		return '\r', i + 1
	case 't':
		return '\t', i + 1
	case 'u':
		return unescapeU(s, i)
	default:
		return rune(c), i + 1
	}
}

func unescapeU(s []byte, i int) (rune, int) {
	r := hex4(s[i+2:])
	if !utf16.IsSurrogate(r) {
		return r, i + 5
	}
	if i+11 < len(s) && s[i+6] == '\\' && s[i+7] == 'u' {
		if r2 := utf16.DecodeRune(r, hex4(s[i+8:])); r2 != utf8.RuneError {
			return r2, i + 11
		}
	}
	return utf8.RuneError, i + 5
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// AppendString appends s as a JSON string. s must be valid UTF-8.
func AppendString(dst []byte, s []byte) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// stringLen is len(AppendString(nil, s)), computed without appending.
func stringLen(s []byte) int {
	n := 2 + len(s)
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			n++
		case c < 0x20:
			n += 5
		}
	}
	return n
}
