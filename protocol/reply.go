package protocol

import (
	"slices"

	"github.com/gobwas/ws"
)

// AppendBroadcastFrame appends the text frame that carries a publication to
// every subscriber: {"channel":<name>,"content":<content as published>}. It
// is encoded once per publication and shared by all deliveries.
func AppendBroadcastFrame(dst, channel, content []byte) []byte {
	dst = AppendHeader(dst, ws.OpText, broadcastJSONLen(channel, content))
	dst = append(dst, `{"channel":`...)
	dst = AppendString(dst, channel)
	dst = append(dst, `,"content":`...)
	dst = append(dst, content...)
	return append(dst, '}')
}

// BroadcastFrameLen is len(AppendBroadcastFrame(nil, channel, content)).
func BroadcastFrameLen(channel, content []byte) int {
	n := broadcastJSONLen(channel, content)
	return HeaderLen(n) + n
}

// broadcastJSONLen is the length of the payload of a broadcast frame.
func broadcastJSONLen(channel, content []byte) int {
	return len(`{"channel":,"content":}`) + stringLen(channel) + len(content)
}

// BroadcastFrame encodes a publication into a frame of its own, sized
// exactly, ready to be shared by every delivery.
func BroadcastFrame(channel, content []byte) []byte {
	return AppendBroadcastFrame(make([]byte, 0, BroadcastFrameLen(channel, content)), channel, content)
}

// AppendOKFrame appends the text frame {"id":<id>,"ok":true}.
func AppendOKFrame(dst, id []byte) []byte {
	n := len(`{"id":,"ok":true}`) + len(id)
	dst = AppendHeader(dst, ws.OpText, n)
	dst = append(dst, `{"id":`...)
	dst = append(dst, id...)
	return append(dst, `,"ok":true}`...)
}

// AppendErrorFrame appends the text frame of an error reply, with the id
// when one was given. The body is sized first so that it is written in
// place: one allocation, not three, when dst is nil.
func AppendErrorFrame(dst, id []byte, e *Error) []byte {
	n := errorJSONLen(id, e)
	dst = slices.Grow(dst, HeaderLen(n)+n)
	return AppendErrorJSON(AppendHeader(dst, ws.OpText, n), id, e)
}

// errorJSONLen is len(AppendErrorJSON(nil, id, e)).
func errorJSONLen(id []byte, e *Error) int {
	n := len(`{"error":{"code":,"message":}}`) + stringLen([]byte(e.Code)) + stringLen([]byte(e.Message))
	if id != nil {
		n += len(`"id":,`) + len(id)
	}
	return n
}

// openReply opens a reply object: {"id":<id>, or { when id is nil.
func openReply(dst, id []byte) []byte {
	dst = append(dst, '{')
	if id != nil {
		dst = append(append(append(dst, `"id":`...), id...), ',')
	}
	return dst
}

// appendOK opens a reply object that succeeded: {"id":<id>,"ok":true or
// {"ok":true.
func appendOK(dst, id []byte) []byte { return append(openReply(dst, id), `"ok":true`...) }

// AppendErrorJSON appends {"id":<id>,"error":{"code":..,"message":..}}, the
// id left out when nil. POST /broadcast answers with the same body.
func AppendErrorJSON(dst, id []byte, e *Error) []byte {
	dst = append(openReply(dst, id), `"error":{"code":`...)
	dst = AppendString(dst, []byte(e.Code))
	dst = append(dst, `,"message":`...)
	dst = AppendString(dst, []byte(e.Message))
	return append(dst, "}}"...)
}
