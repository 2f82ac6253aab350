package protocol_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wsify/wsify/protocol"
)

// This file holds a reference decoder built on encoding/json: slow, but
// obviously right. The tables and the fuzzers check Decode and
// DecodePublication against it.

type refCommand struct {
	Kind                 protocol.Kind
	ID, Channel, Content []byte
	Targets              refTargets
}

// refTargets is protocol.Targets as the reference reads them.
type refTargets struct {
	To     []string
	Only   bool
	Except string
	NoEcho bool
}

func targetsOf(t *protocol.Targets) refTargets {
	r := refTargets{Only: t.Only, Except: string(t.Except), NoEcho: t.NoEcho}
	for _, u := range t.To {
		r.To = append(r.To, string(u))
	}
	return r
}

func (a refTargets) equal(b refTargets) bool {
	return a.Only == b.Only && a.Except == b.Except && a.NoEcho == b.NoEcho && strings.Join(a.To, "\x00") == strings.Join(b.To, "\x00")
}

// refString decodes raw as a JSON string; false when it is not one.
func refString(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func refTo(t *refTargets, raw json.RawMessage) *protocol.Error {
	if raw == nil {
		return nil
	}
	var list []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &list) != nil || len(list) > protocol.MaxTo {
		return protocol.ErrBadTo
	}
	for _, v := range list {
		u, ok := refString(v)
		if !ok || u == "" || len(u) > protocol.MaxUserBytes {
			return protocol.ErrBadTo
		}
		t.To = append(t.To, u)
	}
	t.Only = true
	return nil
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
		"history": protocol.KindHistory, "presence": protocol.KindPresence, "presence_stats": protocol.KindPresenceStats,
		"whoami": protocol.KindWhoami}[name]
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
	if c.Kind == protocol.KindWhoami {
		return c, nil
	}
	ch, err := refChannel(args["channel"], maxChannel)
	if err != nil {
		return c, err
	}
	c.Channel, c.Content = ch, args["content"]
	if c.Kind == protocol.KindJoin || c.Kind == protocol.KindHistory {
		return c, refHistoryArgs(c.Kind, args)
	}
	if c.Kind != protocol.KindBroadcast {
		return c, nil
	}
	if c.Content == nil {
		return c, protocol.ErrNoContent
	}
	if err := refTo(&c.Targets, args["to"]); err != nil {
		return c, err
	}
	switch string(args["echo"]) {
	case "", "true":
	case "false":
		c.Targets.NoEcho = true
	default:
		return c, protocol.ErrBadEcho
	}
	return c, nil
}

// refHistoryArgs checks limit (history) and since (join and history).
func refHistoryArgs(kind protocol.Kind, args map[string]json.RawMessage) *protocol.Error {
	if limit, ok := args["limit"]; ok && kind == protocol.KindHistory && !refOffset(limit) {
		return protocol.ErrBadLimit
	}
	raw, ok := args["since"]
	if !ok {
		return nil
	}
	var since map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &since) != nil {
		return protocol.ErrBadSince
	}
	var epoch string
	if e := since["epoch"]; !refOffset(since["offset"]) || len(e) == 0 || json.Unmarshal(e, &epoch) != nil {
		return protocol.ErrBadSince
	}
	return nil
}

// refOffset reports whether raw is an integer from 0 to 2^53-1 written
// with digits only.
func refOffset(raw json.RawMessage) bool {
	var n uint64
	for _, b := range raw {
		if b < '0' || b > '9' {
			return false
		}
	}
	return len(raw) > 0 && json.Unmarshal(raw, &n) == nil && n <= 1<<53-1
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

// refPublication is a publication as the reference reads it.
type refPublication struct {
	Channel  []byte
	Channels [][]byte
	Content  []byte
	Targets  refTargets
}

func refDecodePublication(body []byte, maxChannel int) (refPublication, *protocol.Error) {
	top, err := refObject(body)
	if err != nil {
		return refPublication{}, err
	}
	return refPublicationOf(top, maxChannel)
}

func refPublicationOf(top map[string]json.RawMessage, maxChannel int) (refPublication, *protocol.Error) {
	var p refPublication
	var err *protocol.Error
	if list, ok := top["channels"]; ok {
		if _, both := top["channel"]; both {
			return refPublication{}, protocol.ErrChannelAndList
		}
		if p.Channels, err = refChannels(list, maxChannel); err != nil {
			return refPublication{}, err
		}
	} else if p.Channel, err = refChannel(top["channel"], maxChannel); err != nil {
		return refPublication{}, err
	}
	p.Content = top["content"]
	var args map[string]json.RawMessage
	if p.Content == nil && json.Unmarshal(top["args"], &args) == nil {
		p.Content = args["content"]
	}
	if p.Content == nil {
		return refPublication{}, protocol.ErrNoContent
	}
	if err := refTo(&p.Targets, top["to"]); err != nil {
		return refPublication{}, err
	}
	if raw, ok := top["except"]; ok {
		id, ok := refString(raw)
		if !ok || id == "" || len(id) > 256 {
			return refPublication{}, protocol.ErrBadExcept
		}
		p.Targets.Except = id
	}
	return p, nil
}

func refChannels(raw json.RawMessage, maxChannel int) ([][]byte, *protocol.Error) {
	var list []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &list) != nil || len(list) == 0 || len(list) > protocol.MaxBatch {
		return nil, protocol.ErrBadChannels
	}
	var out [][]byte
	for _, v := range list {
		ch, err := refChannel(v, maxChannel)
		if err != nil {
			return nil, protocol.ErrBadChannels
		}
		out = append(out, ch)
	}
	return out, nil
}

// refDecodeBatch is DecodeBatch by encoding/json: the refusal's code and
// message, or the publications.
func refDecodeBatch(body []byte, maxChannel int) ([]refPublication, *protocol.Error) {
	if !utf8.Valid(body) {
		return nil, protocol.ErrBadUTF8
	}
	if t := bytes.TrimLeft(body, " \t\r\n"); !json.Valid(body) || t[0] != '[' {
		return nil, protocol.ErrBadJSON
	}
	var list []json.RawMessage
	if err := json.Unmarshal(body, &list); err != nil {
		panic("encoding/json refuses a valid array: " + err.Error())
	}
	var out []refPublication
	total := 0
	for i, v := range list {
		var p refPublication
		var err *protocol.Error = protocol.ErrNotObject
		if v[0] == '{' {
			var top map[string]json.RawMessage
			json.Unmarshal(v, &top)
			p, err = refPublicationOf(top, maxChannel)
		}
		if err != nil {
			return nil, &protocol.Error{Code: err.Code, Message: "publication " + strconv.Itoa(i) + ": " + err.Message, Status: err.Status}
		}
		if total += max(1, len(p.Channels)); total > protocol.MaxBatch {
			return nil, protocol.ErrBadBatch
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, protocol.ErrBadBatch
	}
	return out, nil
}

// refDecodeDisconnect is DecodeDisconnect by encoding/json.
func refDecodeDisconnect(body []byte) (protocol.Disconnect, *protocol.Error) {
	top, err := refObject(body)
	if err != nil {
		return protocol.Disconnect{}, err
	}
	user, hasUser := top["user"]
	client, hasClient := top["client"]
	if hasUser == hasClient {
		return protocol.Disconnect{}, protocol.ErrBadDisconnect
	}
	var d protocol.Disconnect
	if hasUser {
		u, ok := refString(user)
		if !ok || u == "" || len(u) > protocol.MaxUserBytes {
			return protocol.Disconnect{}, protocol.ErrBadDisconnect
		}
		d.User = []byte(u)
	} else {
		c, ok := refString(client)
		if !ok || c == "" || len(c) > 256 {
			return protocol.Disconnect{}, protocol.ErrBadDisconnect
		}
		d.Client = []byte(c)
	}
	switch string(top["reconnect"]) {
	case "", "true":
	case "false":
		d.NoReconnect = true
	default:
		return protocol.Disconnect{}, protocol.ErrBadDisconnect
	}
	return d, nil
}
