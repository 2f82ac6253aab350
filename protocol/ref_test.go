package protocol_test

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/wsify/wsify/protocol"
)

// This file holds a reference decoder built on encoding/json: slow, but
// obviously right. The tables and the fuzzers check Decode and
// DecodePublication against it.

type refCommand struct {
	Kind                 protocol.Kind
	ID, Channel, Content []byte
}

// jsonDepthOK reports whether b nests no deeper than Decode accepts, so
// that a refusal by depth is not mistaken for a difference.
func jsonDepthOK(b []byte) bool {
	depth, inString := 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			if depth++; depth > 500 {
				return false
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return true
}

// refObject applies the checks every message and body share: UTF-8, one
// JSON value, an object.
func refObject(p []byte) (map[string]json.RawMessage, *protocol.Error) {
	if !utf8.Valid(p) {
		return nil, protocol.ErrBadUTF8
	}
	if !json.Valid(p) {
		return nil, protocol.ErrBadJSON
	}
	if t := bytes.TrimLeft(p, " \t\r\n"); t[0] != '{' {
		return nil, protocol.ErrNotObject
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(p, &m); err != nil {
		panic("encoding/json refuses a valid object: " + err.Error())
	}
	return m, nil
}

func refDecode(p []byte, maxChannel int) (refCommand, *protocol.Error) {
	var c refCommand
	top, err := refObject(p)
	if err != nil {
		return c, err
	}
	if id, ok := top["id"]; ok {
		if id[0] != '"' && id[0] != '-' && (id[0] < '0' || id[0] > '9') {
			return c, protocol.ErrBadID
		}
		c.ID = id
	}
	var name string
	if json.Unmarshal(top["command"], &name) != nil || top["command"][0] != '"' {
		return c, protocol.ErrNoCommand
	}
	c.Kind = map[string]protocol.Kind{"join": protocol.KindJoin, "leave": protocol.KindLeave, "broadcast": protocol.KindBroadcast,
		"presence": protocol.KindPresence, "presence_stats": protocol.KindPresenceStats}[name]
	if c.Kind == 0 {
		return c, protocol.ErrUnknownCommand
	}
	return refArgs(c, top["args"], maxChannel)
}

func refArgs(c refCommand, raw json.RawMessage, maxChannel int) (refCommand, *protocol.Error) {
	var args map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &args) != nil {
		return c, protocol.ErrBadArgs
	}
	ch, err := refChannel(args["channel"], maxChannel)
	if err != nil {
		return c, err
	}
	c.Channel, c.Content = ch, args["content"]
	if c.Kind == protocol.KindBroadcast && c.Content == nil {
		return c, protocol.ErrNoContent
	}
	return c, nil
}

func refChannel(raw json.RawMessage, maxChannel int) ([]byte, *protocol.Error) {
	if maxChannel <= 0 {
		maxChannel = protocol.DefaultMaxChannelBytes
	}
	var s string
	if len(raw) == 0 || raw[0] != '"' || raw[len(raw)-1] != '"' || json.Unmarshal(raw, &s) != nil {
		return nil, protocol.ErrBadChannel
	}
	ch := bytes.TrimSpace([]byte(s))
	if len(ch) == 0 || len(ch) > maxChannel {
		return nil, protocol.ErrBadChannel
	}
	return ch, nil
}

func refDecodePublication(body []byte, maxChannel int) (protocol.Publication, *protocol.Error) {
	var p protocol.Publication
	top, err := refObject(body)
	if err != nil {
		return p, err
	}
	if p.Channel, err = refChannel(top["channel"], maxChannel); err != nil {
		return protocol.Publication{}, err
	}
	p.Content = top["content"]
	var args map[string]json.RawMessage
	if p.Content == nil && json.Unmarshal(top["args"], &args) == nil {
		p.Content = args["content"]
	}
	if p.Content == nil {
		return protocol.Publication{}, protocol.ErrNoContent
	}
	return p, nil
}
