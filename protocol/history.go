package protocol

import (
	"bytes"
	"strconv"

	"github.com/gobwas/ws"
)

// MaxHistoryLimit is the most publications one history answer carries; a
// larger limit, or none, is taken as this.
const MaxHistoryLimit = 1000

// maxOffset bounds offsets as clients send them: integers JavaScript holds
// exactly.
const maxOffset = 1<<53 - 1

// decodeHistoryArgs reads limit and since, which only history and join
// use: other commands ignore them, as any other unknown member.
func (c *Command) decodeHistoryArgs(limit, since []byte) *Error {
	if c.Kind != KindHistory && c.Kind != KindJoin {
		return nil
	}
	if limit != nil && c.Kind == KindHistory {
		n, ok := parseOffset(limit)
		if !ok {
			return ErrBadLimit
		}
		c.Limit = int(min(n, MaxHistoryLimit))
	}
	if since == nil {
		return nil
	}
	return c.Since.decode(since)
}

func (s *Since) decode(raw []byte) *Error {
	if raw[0] != '{' {
		return ErrBadSince
	}
	var offset, epoch []byte
	scanObject(raw, 0, 1, func(key, value []byte) {
		switch {
		case keyIs(key, "offset"):
			offset = value
		case keyIs(key, "epoch"):
			epoch = value
		}
	})
	n, ok := parseOffset(offset)
	if !ok || len(epoch) < 2 || epoch[0] != '"' {
		return ErrBadSince
	}
	s.Given, s.Offset, s.Epoch = true, n, epoch[1:len(epoch)-1]
	if bytes.IndexByte(s.Epoch, '\\') >= 0 {
		s.Epoch = unescape(nil, s.Epoch)
	}
	return nil
}

// parseOffset reads a validated JSON number that must be a plain integer
// from 0 to maxOffset.
func parseOffset(raw []byte) (uint64, bool) {
	if len(raw) == 0 || digits(raw, 0) != len(raw) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(raw), 10, 64)
	return n, err == nil && n <= maxOffset
}

// AppendHistoryArgs appends the members limit and since of cmd, when it
// has them, as they go in the args of the authorizer's body: what the
// server will run, never the client's bytes.
func AppendHistoryArgs(dst []byte, cmd *Command) []byte {
	if cmd.Kind == KindHistory && cmd.Limit != NoLimit {
		dst = strconv.AppendInt(append(dst, `,"limit":`...), int64(cmd.Limit), 10)
	}
	if cmd.Since.Given {
		dst = strconv.AppendUint(append(dst, `,"since":{"offset":`...), cmd.Since.Offset, 10)
		dst = AppendString(append(dst, `,"epoch":`...), cmd.Since.Epoch)
		dst = append(dst, '}')
	}
	return dst
}

// HistoryFrame encodes a publication of a channel with history:
// {"channel":<name>,"offset":<offset>,"content":<content as published>}.
// It is encoded once per publication, like BroadcastFrame.
func HistoryFrame(channel []byte, offset uint64, content []byte) []byte {
	var num [20]byte
	off := strconv.AppendUint(num[:0], offset, 10)
	n := len(`{"channel":,"offset":,"content":}`) + stringLen(channel) + len(off) + len(content)
	dst := make([]byte, 0, HeaderLen(n)+n)
	dst = AppendHeader(dst, ws.OpText, n)
	dst = AppendString(append(dst, `{"channel":`...), channel)
	dst = append(append(dst, `,"offset":`...), off...)
	dst = append(append(dst, `,"content":`...), content...)
	return append(dst, '}')
}

// HistoryContent returns the content of a frame HistoryFrame encoded. The
// first `,"content":` is the member's: the channel before it is a JSON
// string, in which a quote is always escaped.
func HistoryContent(frame []byte) []byte {
	payload := frame[HeaderLen(0):]
	switch frame[1] & 0x7f {
	case 126:
		payload = frame[4:]
	case 127:
		payload = frame[10:]
	}
	const key = `,"content":`
	i := bytes.Index(payload, []byte(key))
	if i < 0 {
		return nil
	}
	return payload[i+len(key) : len(payload)-1]
}

// Position is where a channel's history stands: the offset of its latest
// publication (0 when none) and its epoch.
type Position struct {
	Offset uint64
	Epoch  string
}

// Recovery says whether a reply carries "recovered", and its value.
type Recovery uint8

// The values of Recovery.
const (
	NoRecovery Recovery = iota // no since was given: no "recovered" member
	NotRecovered
	Recovered
)

// AppendPositionJSON appends {"id":<id>,"ok":true,"offset":..,"epoch":..}
// (the id left out when nil), with "recovered" as rec says. A nil pos
// leaves out offset and epoch: a channel without history.
func AppendPositionJSON(dst, id []byte, pos *Position, rec Recovery) []byte {
	dst = appendOK(dst, id)
	if pos != nil {
		dst = appendPosition(dst, *pos)
	}
	switch rec {
	case Recovered:
		dst = append(dst, `,"recovered":true`...)
	case NotRecovered:
		dst = append(dst, `,"recovered":false`...)
	}
	return append(dst, '}')
}

func appendPosition(dst []byte, pos Position) []byte {
	dst = strconv.AppendUint(append(dst, `,"offset":`...), pos.Offset, 10)
	return AppendString(append(dst, `,"epoch":`...), []byte(pos.Epoch))
}

// AppendPositionFrame is AppendPositionJSON in a text frame.
func AppendPositionFrame(dst, id []byte, pos *Position, rec Recovery) []byte {
	return AppendFrame(dst, ws.OpText, AppendPositionJSON(nil, id, pos, rec))
}

// AppendHistoryJSON appends the answer to a history command or GET
// /history: {"id":..,"ok":true,"publications":[{"offset":..,"content":..},...],
// "offset":..,"epoch":..}, with "recovered" as rec says. contents are the
// publications' contents, oldest first, and offsets theirs.
func AppendHistoryJSON(dst, id []byte, offsets []uint64, contents [][]byte, pos Position, rec Recovery) []byte {
	dst = append(appendOK(dst, id), `,"publications":[`...)
	for i, c := range contents {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(append(dst, `{"offset":`...), offsets[i], 10)
		dst = append(append(append(dst, `,"content":`...), c...), '}')
	}
	dst = appendPosition(append(dst, ']'), pos)
	switch rec {
	case Recovered:
		dst = append(dst, `,"recovered":true`...)
	case NotRecovered:
		dst = append(dst, `,"recovered":false`...)
	}
	return append(dst, '}')
}

// AppendPublishedJSON appends the answer to a publication:
// {"id":<id>,"ok":true,"receivers":N}, with "offset" and "epoch" before
// "receivers" on a channel with history (pos not nil), the id left out
// when nil (POST /broadcast).
func AppendPublishedJSON(dst, id []byte, receivers int, pos *Position) []byte {
	dst = appendOK(dst, id)
	if pos != nil {
		dst = appendPosition(dst, *pos)
	}
	dst = strconv.AppendInt(append(dst, `,"receivers":`...), int64(receivers), 10)
	return append(dst, '}')
}

// AppendPublishedFrame is AppendPublishedJSON in a text frame.
func AppendPublishedFrame(dst, id []byte, receivers int, pos *Position) []byte {
	var scratch [96]byte
	return AppendFrame(dst, ws.OpText, AppendPublishedJSON(scratch[:0], id, receivers, pos))
}
