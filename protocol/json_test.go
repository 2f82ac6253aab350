package protocol_test

import (
	"encoding/json"
	"testing"

	"github.com/wsify/wsify/protocol"
)

// validCases drives TestValid: each input with whether it is one JSON
// value. Inputs within the nesting limit must agree with encoding/json.
var validCases = []struct {
	in   string
	want bool
}{
	{``, false}, {` `, false}, {`{}`, true}, {` [ ] `, true}, {`{"a":1}`, true}, {`{"a":1,}`, false},
	{`{"a" 1}`, false}, {`{1:1}`, false}, {`[1,]`, false}, {`[,1]`, false}, {`[1 2]`, false},
	{`"x"`, true}, {`"x`, false}, {`"\"`, false}, {`"\\"`, true}, {`"\/"`, true}, {`"\a"`, false},
	{`"\u00e9"`, true}, {`"\u00G0"`, false}, {`"\u00e"`, false}, {"\"\x1f\"", false}, {"\"\x7f\"", true},
	{"\"\xff\"", true}, // neither scanner checks UTF-8 inside strings
	{`0`, true}, {`-0`, true}, {`01`, false}, {`-`, false}, {`1.`, false}, {`.5`, false}, {`1.5e+10`, true},
	{`1E-2`, true}, {`1e`, false}, {`1e+`, false}, {`+1`, false}, {`0x1`, false}, {`12345678901234567890`, true},
	{`true`, true}, {`false`, true}, {`null`, true}, {`nul`, false}, {`truex`, false}, {`True`, false},
	{`1 2`, false}, {`{} {}`, false}, {"\t\r\n1\n", true}, {"\v1", false}, {"\u00a01", false},
	{nest(512, "1"), true}, {nest(513, "1"), false}, {nest(10001, ""), false},
}

func TestValid(t *testing.T) {
	for _, c := range validCases {
		got := protocol.Valid([]byte(c.in))
		if got != c.want {
			t.Errorf("Valid(%.40q) = %v, want %v", c.in, got, c.want)
		}
		if jsonDepthOK([]byte(c.in)) && got != json.Valid([]byte(c.in)) {
			t.Errorf("Valid(%.40q) = %v, encoding/json says %v", c.in, got, !got)
		}
	}
}
