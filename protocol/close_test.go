package protocol_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/gobwas/ws"

	"github.com/wsify/wsify/protocol"
)

func closeBody(code uint16, reason string) string {
	return string(binary.BigEndian.AppendUint16(nil, code)) + reason
}

// closeCases drives TestParseClose: the code ParseClose echoes, or 0 for a
// body it refuses with a protocol error.
var closeCases = []struct {
	name string
	body string
	want ws.StatusCode
}{
	{"empty", "", ws.StatusNormalClosure},
	{"one-byte", "\x03", 0},
	{"1000", closeBody(1000, ""), 1000},
	{"1000/reason", closeBody(1000, "bye"), 1000},
	{"1001", closeBody(1001, ""), 1001},
	{"1002", closeBody(1002, ""), 1002},
	{"1003", closeBody(1003, ""), 1003},
	{"1007", closeBody(1007, ""), 1007},
	{"1008", closeBody(1008, ""), 1008},
	{"1009", closeBody(1009, ""), 1009},
	{"1010", closeBody(1010, "ext"), 1010},
	{"1011", closeBody(1011, ""), 1011},
	{"1012/service-restart", closeBody(1012, ""), 1012},
	{"1013/try-again-later", closeBody(1013, ""), 1013},
	{"1014/bad-gateway", closeBody(1014, ""), 1014},
	{"3000", closeBody(3000, ""), 3000},
	{"3999", closeBody(3999, ""), 3999},
	{"4000", closeBody(4000, ""), 4000},
	{"4999/utf8-reason", closeBody(4999, "héllo 😀"), 4999},
	{"0", closeBody(0, ""), 0},
	{"999", closeBody(999, ""), 0},
	{"1004/reserved", closeBody(1004, ""), 0},
	{"1005/no-status", closeBody(1005, ""), 0},
	{"1006/abnormal", closeBody(1006, ""), 0},
	{"1015/tls", closeBody(1015, ""), 0},
	{"1016/undefined", closeBody(1016, ""), 0},
	{"1100", closeBody(1100, ""), 0},
	{"2000", closeBody(2000, ""), 0},
	{"2999", closeBody(2999, ""), 0},
	{"5000", closeBody(5000, ""), 0},
	{"65535", closeBody(65535, ""), 0},
	{"bad-utf8-reason", closeBody(1000, "a\xffb"), 0},
	{"surrogate-utf8-reason", closeBody(1000, "\xed\xa0\x80"), 0},
	{"truncated-utf8-reason", closeBody(1000, "\xc3"), 0},
}

func TestParseClose(t *testing.T) {
	for _, c := range closeCases {
		t.Run(c.name, func(t *testing.T) {
			code, err := protocol.ParseClose([]byte(c.body))
			if c.want != 0 {
				if err != nil || code != c.want {
					t.Fatalf("got %d, %v; want %d", code, err, c.want)
				}
				return
			}
			ce, ok := err.(*protocol.CloseError)
			if !ok || ce.Code != ws.StatusProtocolError {
				t.Fatalf("got %d, %v; want a 1002 CloseError", code, err)
			}
		})
	}
}

// TestCloseFrame reads the frames CloseFrame builds back with gobwas/ws.
func TestCloseFrame(t *testing.T) {
	for _, code := range []ws.StatusCode{ws.StatusNormalClosure, ws.StatusMessageTooBig, protocol.StatusTryAgainLater} {
		f, err := ws.ReadFrame(bytes.NewReader(protocol.CloseFrame(code, "reason")))
		if err != nil || f.Header.OpCode != ws.OpClose || !f.Header.Fin || f.Header.Masked {
			t.Fatalf("%d: header %+v, %v", code, f.Header, err)
		}
		got, reason := ws.ParseCloseFrameData(f.Payload)
		if got != code || reason != "reason" {
			t.Errorf("close frame carries %d %q, want %d %q", got, reason, code, "reason")
		}
	}
}
