package protocol_test

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"github.com/wsify/wsify/protocol"
)

// channelCases drives TestChannelName: raw JSON values, some malformed, as
// a caller outside the decoders might pass them; "" in want is a refusal.
var channelCases = []struct {
	raw, want string
	max       int
}{
	{raw: `"news"`, want: "news"},
	{raw: `" news "`, want: "news"},
	{raw: `"ch\u0061n"`, want: "chan"},
	{raw: `"\ud83d\ude00"`, want: "😀"},
	{raw: `"abc"`, max: 2},
	{raw: `""`},
	{raw: `"`},
	{raw: `x`},
	{raw: `5`},
	{raw: `"abc`},
	{raw: `abc"`},
	{raw: `"a"b"`},
	{raw: `"\"`},
	{raw: `"a\"`},
	{raw: `"\u12"`},
	{raw: `"\u"`},
	{raw: `"\ud83d\u"`},
	{raw: `"\x"`},
	{raw: "\"a\x01\""},
	{raw: `"a" `},
}

func TestChannelName(t *testing.T) {
	for _, c := range channelCases {
		got, err := protocol.ChannelName([]byte(c.raw), c.max)
		if string(got) != c.want || (err == nil) != (c.want != "") || (err != nil && err != protocol.ErrBadChannel) {
			t.Errorf("ChannelName(%s) = %q, %v; want %q", c.raw, got, err, c.want)
		}
	}
}

// FuzzChannelName checks ChannelName against the encoding/json reference on
// any bytes: it must not panic, and it must refuse what is not one JSON
// string. encoding/json replaces invalid UTF-8 where ChannelName keeps it
// (the decoders check UTF-8 first), so names are compared on valid UTF-8.
func FuzzChannelName(f *testing.F) {
	for _, c := range channelCases {
		f.Add([]byte(c.raw), uint8(c.max))
	}
	f.Fuzz(func(t *testing.T, raw []byte, max uint8) {
		got, err := protocol.ChannelName(raw, int(max))
		if !utf8.Valid(raw) {
			return
		}
		want, rerr := refChannel(raw, int(max))
		if err != rerr || !bytes.Equal(got, want) {
			t.Fatalf("ChannelName(%q) = %q, %v; reference %q, %v", raw, got, err, want, rerr)
		}
	})
}
