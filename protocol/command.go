package protocol

import (
	"bytes"
	"unicode/utf8"
)

// Kind names a client command.
type Kind uint8

// The commands of the wire protocol.
const (
	KindJoin Kind = iota + 1
	KindLeave
	KindBroadcast
	KindHistory
	KindPresence
	KindPresenceStats
)

var kindNames = [...]string{0: "unknown", KindJoin: "join", KindLeave: "leave", KindBroadcast: "broadcast", KindHistory: "history",
	KindPresence: "presence", KindPresenceStats: "presence_stats"}

// NumKinds counts the kinds, 0 (no recognizable command) included: a table
// indexed by Kind has NumKinds entries, and grows with every kind named
// above.
const NumKinds = len(kindNames)

func (k Kind) String() string {
	if int(k) < len(kindNames) && k > 0 {
		return kindNames[k]
	}
	return "unknown"
}

// DefaultMaxChannelBytes is the channel name limit when none is configured.
const DefaultMaxChannelBytes = 256

// Command is one decoded client message. Every slice points into the
// message it was decoded from, except Channel when the name held JSON
// escapes, so a Command is valid only while that buffer is.
type Command struct {
	Kind    Kind
	Raw     []byte // the whole JSON object, as the client sent it
	ID      []byte // raw JSON of "id" (string or number); nil when absent
	Channel []byte // channel name, unescaped and trimmed
	Content []byte // raw JSON of args.content; nil when absent
	// Limit is args.limit of a history command; NoLimit when absent.
	Limit int
	// Since is args.since of a join or history command: the last
	// publication the client saw. Since.Given is false when absent.
	Since Since
}

// Since is a position in a channel's history as a client names it.
type Since struct {
	Given  bool
	Offset uint64
	Epoch  []byte // unescaped; points into the message unless it held escapes
}

// NoLimit is Command.Limit when the client gave none.
const NoLimit = -1

// Decode decodes a client message. maxChannel bounds the channel name
// (DefaultMaxChannelBytes when 0). On error the returned Command still holds
// the ID when one was validly given, so the error reply can carry it.
func Decode(c *Command, p []byte, maxChannel int) *Error {
	*c = Command{Raw: p, Limit: NoLimit}
	var name, args, id []byte
	err := scanMessage(p, func(key, value []byte) {
		switch {
		case keyIs(key, "command"):
			name = value
		case keyIs(key, "args"):
			args = value
		case keyIs(key, "id"):
			id = value
		}
	})
	if err != nil {
		return err
	}
	if id != nil {
		if k := id[0]; k != '"' && k != '-' && !isDigit(k) {
			return ErrBadID
		}
		c.ID = id
	}
	return c.decodeBody(name, args, maxChannel)
}

// scanMessage checks that p is valid UTF-8 holding one JSON object and
// calls fn for each of its members; Decode and DecodePublication share it.
func scanMessage(p []byte, fn member) *Error {
	if !utf8.Valid(p) {
		return ErrBadUTF8
	}
	i := skipSpace(p, 0)
	if i >= len(p) || p[i] != '{' {
		if Valid(p) {
			return ErrNotObject
		}
		return ErrBadJSON
	}
	end, ok := scanObject(p, i, 1, fn)
	if !ok || skipSpace(p, end) != len(p) {
		return ErrBadJSON
	}
	return nil
}

func (c *Command) decodeBody(name, args []byte, maxChannel int) *Error {
	if len(name) == 0 || name[0] != '"' {
		return ErrNoCommand
	}
	c.Kind = kindOf(name[1 : len(name)-1])
	if c.Kind == 0 {
		return ErrUnknownCommand
	}
	if len(args) == 0 || args[0] != '{' {
		return ErrBadArgs
	}
	return c.decodeArgs(args, maxChannel)
}

func kindOf(name []byte) Kind {
	for k, n := range kindNames {
		if k > 0 && keyIs(name, n) {
			return Kind(k)
		}
	}
	return 0
}

func (c *Command) decodeArgs(args []byte, maxChannel int) *Error {
	var channel, limit, since []byte
	scanObject(args, 0, 1, func(key, value []byte) {
		switch {
		case keyIs(key, "channel"):
			channel = value
		case keyIs(key, "content"):
			c.Content = value
		case keyIs(key, "limit"):
			limit = value
		case keyIs(key, "since"):
			since = value
		}
	})
	ch, err := channelName(channel, maxChannel)
	if err != nil {
		return err
	}
	c.Channel = ch
	if c.Kind == KindBroadcast && c.Content == nil {
		return ErrNoContent
	}
	return c.decodeHistoryArgs(limit, since)
}

// ChannelName turns the raw JSON value of a channel into its name: the
// unescaped string with surrounding white space trimmed. It refuses
// anything but a string, an empty name and a name over maxChannel bytes.
// raw may be any bytes: it is checked to be exactly one JSON string.
func ChannelName(raw []byte, maxChannel int) ([]byte, *Error) {
	if len(raw) == 0 || raw[0] != '"' {
		return nil, ErrBadChannel
	}
	if end, ok := scanString(raw, 0); !ok || end != len(raw) {
		return nil, ErrBadChannel
	}
	return channelName(raw, maxChannel)
}

// channelName is ChannelName for a raw value the decoders have already
// validated; unescape would read past a malformed one.
func channelName(raw []byte, maxChannel int) ([]byte, *Error) {
	if maxChannel <= 0 {
		maxChannel = DefaultMaxChannelBytes
	}
	if len(raw) < 2 || raw[0] != '"' {
		return nil, ErrBadChannel
	}
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		s = unescape(make([]byte, 0, len(s)), s)
	}
	s = bytes.TrimSpace(s)
	if len(s) == 0 || len(s) > maxChannel {
		return nil, ErrBadChannel
	}
	return s, nil
}

// keyIs reports whether the raw string body key equals name, decoding
// escapes only when key has any.
func keyIs(key []byte, name string) bool {
	if bytes.IndexByte(key, '\\') < 0 {
		return string(key) == name
	}
	var buf [32]byte
	return len(key) <= 6*len(name) && string(unescape(buf[:0], key)) == name
}
