package auth

import (
	"bytes"
	"encoding/json"
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
}

// JSON encodes ci once per connection, for every CommandBody it makes.
func (ci ClientInfo) JSON() []byte {
	ci.Query = nonNil(ci.Query)
	b, _ := json.Marshal(ci)
	return b
}

// CommandBody is the request body asked before a command runs: the command
// object exactly as the client sent it, with a "client" member added (info
// is ClientInfo.JSON). command must be a JSON object with at least one
// member.
func CommandBody(command, info []byte) []byte {
	obj := bytes.TrimRight(command, " \t\r\n")
	obj = obj[:len(obj)-1] // drop the closing brace
	out := make([]byte, 0, len(obj)+len(info)+16)
	out = append(out, obj...)
	out = append(out, `,"client":`...)
	out = append(out, info...)
	return append(out, '}')
}

func nonNil(v Values) Values {
	if v == nil {
		return Values{}
	}
	return v
}
