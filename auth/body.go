package auth

import (
	"encoding/json"

	"github.com/wsify/wsify/protocol"
)

// Values is a multi-valued map of header or query values.
type Values = map[string][]string

// ConnectBody is the request body asked before a connection is accepted.
func ConnectBody(headers, query Values) []byte {
	type args struct {
		Headers Values `json:"headers"`
		Query   Values `json:"query"`
	}
	b, _ := json.Marshal(struct {
		Command string `json:"command"`
		Args    args   `json:"args"`
	}{"connect", args{nonNil(headers), nonNil(query)}})
	return b
}

// ClientInfo identifies the connection a command comes from.
type ClientInfo struct {
	ID         string `json:"id"`
	RemoteAddr string `json:"remote_addr"`
	Query      Values `json:"query"`
	User       string `json:"user"` // from the authorizer's answer to connect; "" when anonymous
}

// JSON encodes ci once per connection, for every CommandBody it makes.
func (ci ClientInfo) JSON() []byte {
	ci.Query = nonNil(ci.Query)
	b, _ := json.Marshal(ci)
	return b
}

// CommandBody is the request body asked before a command runs, built from
// the command as the server decoded it and will run it, so that no parser
// of the authorizer's can read it otherwise: the client's bytes come in
// only as content and id, JSON values the decoder validated, which cannot
// reach past their member. kind is the command's name, channel the name as
// it will be used, content and id raw JSON (nil when absent) and client
// ClientInfo.JSON.
func CommandBody(kind string, channel, content, id, client []byte) []byte {
	return CommandBodyArgs(kind, channel, content, nil, id, client)
}

// CommandBodyArgs is CommandBody with more members of args, extra, which
// the server encodes from what it decoded (history's limit and since):
// extra is empty or starts with a comma.
func CommandBodyArgs(kind string, channel, content, extra, id, client []byte) []byte {
	out := make([]byte, 0, 64+len(kind)+2*len(channel)+len(content)+len(extra)+len(id)+len(client))
	out = append(out, `{"command":"`...)
	out = append(out, kind...)
	out = append(out, `","args":{`...)
	if channel != nil { // nil for whoami, which names none
		out = protocol.AppendString(append(out, `"channel":`...), channel)
	}
	if content != nil {
		out = append(out, `,"content":`...)
		out = append(out, content...)
	}
	out = append(out, extra...)
	out = append(out, '}')
	if id != nil {
		out = append(out, `,"id":`...)
		out = append(out, id...)
	}
	out = append(out, `,"client":`...)
	out = append(out, client...)
	return append(out, '}')
}

func nonNil(v Values) Values {
	if v == nil {
		return Values{}
	}
	return v
}
