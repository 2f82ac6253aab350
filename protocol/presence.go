package protocol

import (
	"strconv"

	"github.com/gobwas/ws"
)

// MaxPresenceClients is the most clients one presence answer lists; a
// channel with more gets ErrTooLarge, whose message names this number:
// presence_stats counts any number without listing them.
const MaxPresenceClients = 1000

// AppendMember appends the JSON object that shows a connection in a
// presence answer and in join and leave events:
// {"client":<id>,"user":<user>,"info":<info>}, info left out when nil.
// info is raw JSON the authorizer gave (validated when it was read).
func AppendMember(dst []byte, client, user string, info []byte) []byte {
	dst = AppendString(append(dst, `{"client":`...), []byte(client))
	dst = AppendString(append(dst, `,"user":`...), []byte(user))
	if info != nil {
		dst = append(append(dst, `,"info":`...), info...)
	}
	return append(dst, '}')
}

// PresenceEventFrame encodes the frame that tells a channel's subscribers
// a connection joined (join true) or left it:
// {"channel":<name>,"join":<member>} or {"channel":<name>,"leave":<member>},
// member as AppendMember made it.
func PresenceEventFrame(channel []byte, join bool, member []byte) []byte {
	kind := `,"leave":`
	if join {
		kind = `,"join":`
	}
	n := len(`{"channel":}`) + stringLen(channel) + len(kind) + len(member)
	dst := AppendHeader(make([]byte, 0, HeaderLen(n)+n), ws.OpText, n)
	dst = AppendString(append(dst, `{"channel":`...), channel)
	return append(append(append(dst, kind...), member...), '}')
}

// AppendPresenceJSON appends the presence answer:
// {"id":<id>,"ok":true,"clients":[<member>,...]}, the id left out when nil.
func AppendPresenceJSON(dst, id []byte, members [][]byte) []byte {
	dst = appendOK(dst, id)
	dst = append(dst, `,"clients":[`...)
	for i, m := range members {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, m...)
	}
	return append(dst, "]}"...)
}

// AppendWhoamiFrame encodes the answer to whoami: {"id":<id>,"ok":true,
// "client":..,"user":..,"info":..}, member as AppendMember made it.
func AppendWhoamiFrame(dst, id, member []byte) []byte {
	body := append(append(appendOK(nil, id), ','), member[1:]...)
	return AppendFrame(dst, ws.OpText, body)
}

// AppendPresenceStatsJSON appends the presence_stats answer:
// {"id":<id>,"ok":true,"clients":N,"users":M}, the id left out when nil.
func AppendPresenceStatsJSON(dst, id []byte, clients, users int) []byte {
	dst = strconv.AppendInt(append(appendOK(dst, id), `,"clients":`...), int64(clients), 10)
	dst = strconv.AppendInt(append(dst, `,"users":`...), int64(users), 10)
	return append(dst, '}')
}
