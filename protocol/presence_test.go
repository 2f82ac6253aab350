package protocol_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/wsify/wsify/protocol"
)

func TestPresenceEncodings(t *testing.T) {
	alice := protocol.AppendMember(nil, "n1-7", "alice", []byte(`{"name":"Alice \"A\""}`))
	anon := protocol.AppendMember(nil, "n1-8", "", nil)
	if string(alice) != `{"client":"n1-7","user":"alice","info":{"name":"Alice \"A\""}}` || string(anon) != `{"client":"n1-8","user":""}` {
		t.Fatalf("members %s %s", alice, anon)
	}
	odd := protocol.AppendMember(nil, "c", "a\"\n\x01b", nil)
	var m struct{ User string }
	if err := json.Unmarshal(odd, &m); err != nil || m.User != "a\"\n\x01b" {
		t.Fatalf("user escaped as %s: %v", odd, err)
	}
	for _, c := range []struct{ got, want string }{
		{string(protocol.AppendPresenceJSON(nil, []byte(`"p"`), [][]byte{alice, anon})),
			`{"id":"p","ok":true,"clients":[` + string(alice) + `,` + string(anon) + `]}`},
		{string(protocol.AppendPresenceJSON(nil, nil, nil)), `{"ok":true,"clients":[]}`},
		{string(protocol.AppendPresenceStatsJSON(nil, []byte("3"), 100000, 99999)), `{"id":3,"ok":true,"clients":100000,"users":99999}`},
		{string(protocol.AppendPresenceStatsJSON(nil, nil, 0, 0)), `{"ok":true,"clients":0,"users":0}`},
	} {
		if c.got != c.want || !json.Valid([]byte(c.got)) {
			t.Errorf("got  %s\nwant %s", c.got, c.want)
		}
	}
	for _, join := range []bool{true, false} {
		f := protocol.PresenceEventFrame([]byte("ch\"1"), join, anon)
		payload := readFrame(t, f)
		kind := "leave"
		if join {
			kind = "join"
		}
		if want := `{"channel":"ch\"1","` + kind + `":` + string(anon) + `}`; string(payload) != want || cap(f) != len(f) {
			t.Fatalf("event frame %q (cap %d), want %s", payload, cap(f), want)
		}
	}
}

// The too_large message names the bound, which the client needs to know
// why it should ask presence_stats instead.
func TestTooLargeNamesTheBound(t *testing.T) {
	e := protocol.ErrTooLarge
	if e.Code != "too_large" || !strings.Contains(e.Message, strconv.Itoa(protocol.MaxPresenceClients)) || !strings.Contains(e.Message, "presence_stats") {
		t.Fatalf("%+v", e)
	}
}
