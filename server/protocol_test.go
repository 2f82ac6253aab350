package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wsify/wsify/server"
)

func TestBroadcastReachesEverySubscriberSenderIncluded(t *testing.T) {
	s := start(t, server.Config{})
	a, b, outsider := dial(t, s), dial(t, s), dial(t, s)
	joinSync(t, a, "news")
	joinSync(t, b, "news")
	send(t, a, `{"command":"broadcast","args":{"channel":"news","content":{"n": 1}}}`)
	want := `{"channel":"news","content":{"n": 1}}`
	expect(t, a, want)
	expect(t, b, want)
	expectNothing(t, outsider, 100*time.Millisecond)
}

func TestReplyCarriesID(t *testing.T) {
	s := start(t, server.Config{})
	c := dial(t, s)
	send(t, c, `{"command":"join","args":{"channel":"x"},"id":7}`)
	expect(t, c, `{"id":7,"ok":true}`)
	send(t, c, `{"command":"leave","args":{"channel":"x"},"id":"abc"}`)
	expect(t, c, `{"id":"abc","ok":true}`)
	send(t, c, `{"command":"broadcast","args":{"channel":"x","content":1},"id":-1.5e3}`)
	expect(t, c, `{"id":-1.5e3,"ok":true,"receivers":0}`)
}

func TestContentIsForwardedByteForByte(t *testing.T) {
	s := start(t, server.Config{})
	c := dial(t, s)
	joinSync(t, c, "n")
	for _, content := range []string{
		`12345678901234567890`,
		`{ "a" : [1, 2.50, "\u00e9"], "b":null }`,
		`"plain"`, `true`, `[]`,
	} {
		send(t, c, `{"command":"broadcast","args":{"content":`+content+`,"channel":"n"}}`)
		expect(t, c, `{"channel":"n","content":`+content+`}`)
	}
}

func TestErrorsAreRepliedAndKeepTheConnection(t *testing.T) {
	s := start(t, server.Config{MaxChannelBytes: 8})
	c := dial(t, s)
	for _, tc := range []struct{ msg, code string }{
		{`{"command":`, "bad_json"},
		{`not json`, "bad_json"},
		{`[1,2]`, "bad_command"},
		{`{"args":{"channel":"x"}}`, "bad_command"},
		{`{"command":"join","args":[]}`, "bad_command"},
		{`{"command":"join"}`, "bad_command"},
		{`{"command":5,"args":{}}`, "bad_command"},
		{`{"command":"broadcast","args":{"channel":"x"}}`, "bad_command"},
		{`{"command":"dance","args":{"channel":"x"}}`, "unknown_command"},
		{`{"command":"join","args":{"channel":""}}`, "bad_channel"},
		{`{"command":"join","args":{"channel":"   "}}`, "bad_channel"},
		{`{"command":"join","args":{"channel":12}}`, "bad_channel"},
		{`{"command":"join","args":{"channel":"123456789"}}`, "bad_channel"},
		{`{"command":"join","args":{}}`, "bad_channel"},
	} {
		send(t, c, tc.msg)
		got := recv(t, c)
		if code := errorCode(t, got); code != tc.code {
			t.Errorf("%s: got %s, want %s", tc.msg, got, tc.code)
		}
		if strings.Contains(got, `"id"`) {
			t.Errorf("%s: reply has an id: %s", tc.msg, got)
		}
	}
	send(t, c, `{"command":"join","args":{"channel":""},"id":"q"}`)
	expect(t, c, `{"id":"q","error":{"code":"bad_channel","message":"channel must be a non-empty string within the length limit"}}`)
	joinSync(t, c, "still")
}

func TestChannelNamesAreTrimmed(t *testing.T) {
	s := start(t, server.Config{MaxChannelBytes: 8})
	c := dial(t, s)
	joinSync(t, c, "  room  ")
	send(t, c, `{"command":"broadcast","args":{"channel":"room","content":1}}`)
	expect(t, c, `{"channel":"room","content":1}`)
	joinSync(t, c, " 12345678 ") // 8 bytes once trimmed
}

func TestJoinTwiceLeaveNeverJoinedAndBroadcastUnjoined(t *testing.T) {
	s := start(t, server.Config{})
	c, other := dial(t, s), dial(t, s)
	joinSync(t, c, "a")
	joinSync(t, c, "a")
	send(t, c, `{"command":"leave","args":{"channel":"zzz"},"id":1}`)
	expect(t, c, `{"id":1,"ok":true}`)
	joinSync(t, other, "b")
	send(t, c, `{"command":"broadcast","args":{"channel":"b","content":"hi"},"id":2}`)
	expect(t, c, `{"id":2,"ok":true,"receivers":1}`)
	expect(t, other, `{"channel":"b","content":"hi"}`)
	send(t, c, `{"command":"broadcast","args":{"channel":"a","content":"once"}}`)
	expect(t, c, `{"channel":"a","content":"once"}`)
	expectNothing(t, c, 100*time.Millisecond)
}

func TestLeaveStopsDelivery(t *testing.T) {
	s := start(t, server.Config{})
	c := dial(t, s)
	joinSync(t, c, "a")
	send(t, c, `{"command":"leave","args":{"channel":"a"},"id":1}`)
	expect(t, c, `{"id":1,"ok":true}`)
	send(t, c, `{"command":"broadcast","args":{"channel":"a","content":1},"id":2}`)
	expect(t, c, `{"id":2,"ok":true,"receivers":0}`)
	expectNothing(t, c, 100*time.Millisecond)
}
