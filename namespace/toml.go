package namespace

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// parseTOML reads the TOML subset of a namespaces file: [namespaces.NAME]
// tables (NAME bare or quoted) holding key = value lines whose values are
// integers, "strings" or booleans. Anything else is an error naming its
// line, so a typo never passes for a setting.
func parseTOML(b []byte) (*File, error) {
	f := &File{Namespaces: map[string]Fields{}}
	var cur string
	in := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(stripComment(sc.Text()))
		var err error
		switch {
		case line == "":
		case strings.HasPrefix(line, "["):
			cur, err = tomlTable(line)
			in = err == nil
			if _, dup := f.Namespaces[cur]; dup && in {
				err = fmt.Errorf("table [namespaces.%s] defined twice", cur)
			}
			f.Namespaces[cur] = f.Namespaces[cur]
		case !in:
			err = fmt.Errorf("key outside a [namespaces.NAME] table")
		default:
			ns := f.Namespaces[cur]
			err = ns.set(line)
			f.Namespaces[cur] = ns
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	return f, sc.Err()
}

// stripComment cuts a # comment that is not inside a string.
func stripComment(s string) string {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case '#':
			if !quoted {
				return s[:i]
			}
		}
	}
	return s
}

func tomlTable(line string) (string, error) {
	if !strings.HasSuffix(line, "]") || strings.HasPrefix(line, "[[") {
		return "", fmt.Errorf("malformed table header %q", line)
	}
	name, ok := strings.CutPrefix(strings.TrimSpace(line[1:len(line)-1]), "namespaces.")
	if !ok {
		return "", fmt.Errorf("table %s: want [namespaces.NAME]", line)
	}
	if strings.HasPrefix(name, `"`) {
		u, err := strconv.Unquote(name)
		if err != nil {
			return "", fmt.Errorf("table %s: malformed quoted name", line)
		}
		return u, nil
	}
	if name == "" || strings.ContainsAny(name, ". \t\"") {
		return "", fmt.Errorf("table %s: a bare name is letters, digits, '-' and '_'; quote others", line)
	}
	return name, nil
}

func (ns *Fields) set(line string) error {
	key, val, ok := strings.Cut(line, "=")
	if !ok {
		return fmt.Errorf("want key = value, got %q", line)
	}
	key, val = strings.TrimSpace(key), strings.TrimSpace(val)
	var err error
	switch key {
	case "history_size":
		var n int
		n, err = strconv.Atoi(val)
		ns.HistorySize = &n
	case "history_ttl":
		var s string
		s, err = strconv.Unquote(val)
		ns.HistoryTTL = &s
	case "presence":
		ns.Presence, err = tomlBool(val)
	case "join_leave":
		ns.JoinLeave, err = tomlBool(val)
	default:
		return fmt.Errorf("unknown key %q (want history_size, history_ttl, presence or join_leave)", key)
	}
	if err != nil {
		return fmt.Errorf("%s: bad value %s", key, val)
	}
	return nil
}

func tomlBool(v string) (*bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil || (v != "true" && v != "false") {
		return nil, fmt.Errorf("not a boolean")
	}
	return &b, nil
}
