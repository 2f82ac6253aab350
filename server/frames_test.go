package server_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/server"
)

// These tests drive the frame layer end to end over loopback: gorilla
// produces the well-formed traffic, the raw client the rest. After every
// bad case the server must still serve a fresh client.

var channelSeq atomic.Int64

// freshChannel is a channel name no other test uses.
func freshChannel(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, channelSeq.Add(1))
}

// stillServes checks the server still serves a new client: a join and a
// broadcast round trip.
func stillServes(t testing.TB, s *server.Server) {
	t.Helper()
	servesClient(t, dial(t, s))
}

// servesClient runs a join and a broadcast round trip on c, then closes it.
func servesClient(t testing.TB, c *websocket.Conn) {
	t.Helper()
	ch := freshChannel("alive")
	joinSync(t, c, ch)
	send(t, c, broadcastCmd(ch, `"ping"`))
	expect(t, c, delivery(ch, `"ping"`))
	c.Close()
}

func broadcastCmd(channel, content string) string {
	return fmt.Sprintf(`{"command":"broadcast","args":{"channel":%q,"content":%s}}`, channel, content)
}

func joinCmd(channel, id string) string {
	return fmt.Sprintf(`{"command":"join","args":{"channel":%q},"id":%q}`, channel, id)
}

func delivery(channel, content string) string {
	return fmt.Sprintf(`{"channel":%q,"content":%s}`, channel, content)
}

func okReply(id string) string { return fmt.Sprintf(`{"id":%q,"ok":true}`, id) }

// closesWith sends frames from a new raw client, one write each, checks the
// server closes it with code, and that it still serves a fresh client.
func closesWith(t testing.TB, s *server.Server, code int, frames ...[]byte) {
	t.Helper()
	r := rawDial(t, s)
	r.write(frames...)
	r.expectClose(code)
	stillServes(t, s)
}

// rawJoin joins channel from a raw client and waits for the reply.
func rawJoin(r *rawConn, channel string) {
	r.t.Helper()
	r.write(frame(opText, joinCmd(channel, "j")))
	r.expectText(okReply("j"))
}

func TestPingGetsPongWithSamePayloadGorilla(t *testing.T) {
	s := start(t, server.Config{})
	c := dial(t, s)
	pongs := make(chan string, 4)
	c.SetPongHandler(func(data string) error { pongs <- data; return nil })
	for _, payload := range []string{"hello", "", strings.Repeat("p", 125)} {
		if err := c.WriteControl(websocket.PingMessage, []byte(payload), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		joinSync(t, c, freshChannel("ping")) // the pong precedes this reply
		select {
		case got := <-pongs:
			if got != payload {
				t.Fatalf("pong %q, want %q", got, payload)
			}
		default:
			t.Fatalf("no pong for ping %q", payload)
		}
	}
}

func TestPingGetsPongWithSamePayloadRaw(t *testing.T) {
	s := start(t, server.Config{})
	r := rawDial(t, s)
	for _, payload := range []string{"abc", "", strings.Repeat("z", 125)} {
		r.write(frame(opPing, payload))
		r.expectFrame(opPong, payload)
	}
	r.write(frame(opPong, "unsolicited")) // ignored, as RFC 6455 5.5.3 allows
	rawJoin(r, freshChannel("pong"))
}

func TestPingsBetweenFragmentsAreAnsweredAndMessageReassembled(t *testing.T) {
	s := start(t, server.Config{})
	r := rawDial(t, s)
	ch := freshChannel("frag-ping")
	rawJoin(r, ch)
	parts := fragments(opText, broadcastCmd(ch, `{"parts":3}`), 10, 30)
	r.write(parts[0], frame(opPing, "p1"))
	r.expectFrame(opPong, "p1")
	r.write(parts[1], frame(opPing, "p2"))
	r.expectFrame(opPong, "p2")
	r.write(parts[2])
	r.expectText(delivery(ch, `{"parts":3}`))
}

func TestCloseHandshakeGorilla(t *testing.T) {
	s := start(t, server.Config{})
	c := dial(t, s)
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
	if err := c.WriteMessage(websocket.CloseMessage, msg); err != nil {
		t.Fatal(err)
	}
	expectClose(t, c, websocket.CloseNormalClosure)
	c.UnderlyingConn().SetReadDeadline(time.Now().Add(rawTimeout))
	if n, err := c.UnderlyingConn().Read(make([]byte, 1)); n != 0 || !isClosed(err) {
		t.Fatalf("TCP still open after the close handshake: %d bytes, %v", n, err)
	}
	stillServes(t, s)
}

func TestCloseHandshakeCodes(t *testing.T) {
	s := start(t, server.Config{})
	for _, tc := range []struct {
		name string
		body []byte
		want int
	}{
		{"1000 with reason", closeBody(1000, "bye"), 1000},
		{"empty body", nil, 1000},
		{"application code echoed", closeBody(3000, ""), 3000},
		{"private code echoed", closeBody(4999, "x"), 4999},
		{"one-byte body", []byte{0x03}, 1002},
		{"code 0", closeBody(0, ""), 1002},
		{"code 999", closeBody(999, ""), 1002},
		{"code 1004", closeBody(1004, ""), 1002},
		{"code 1005", closeBody(1005, ""), 1002},
		{"code 1006", closeBody(1006, ""), 1002},
		{"code 1015", closeBody(1015, ""), 1002},
		{"code 1016", closeBody(1016, ""), 1002},
		{"code 2999", closeBody(2999, ""), 1002},
		{"code 5000", closeBody(5000, ""), 1002},
		{"code 65535", closeBody(65535, ""), 1002},
		{"reason not UTF-8", closeBody(1000, "\xff\xfe"), 1002},
	} {
		t.Run(tc.name, func(t *testing.T) {
			closesWith(t, s, tc.want, frameSpec{op: opClose, payload: tc.body}.encode())
		})
	}
}

func TestCommandSplitInFragmentsIsExecuted(t *testing.T) {
	s := start(t, server.Config{})
	r := rawDial(t, s)
	ch := freshChannel("frag")
	rawJoin(r, ch)
	for _, op := range []byte{opText, opBinary} {
		cmd := broadcastCmd(ch, fmt.Sprintf(`{"op":%d}`, op))
		r.write(fragments(op, cmd, 7, 20, 20, 40)...) // the empty fragment counts too
		r.expectText(delivery(ch, fmt.Sprintf(`{"op":%d}`, op)))
	}
}

func TestBinaryFramesCarryCommands(t *testing.T) {
	s := start(t, server.Config{})
	c := dial(t, s)
	ch := freshChannel("bin")
	if err := c.WriteMessage(websocket.BinaryMessage, []byte(joinCmd(ch, "b"))); err != nil {
		t.Fatal(err)
	}
	expect(t, c, okReply("b"))
	if err := c.WriteMessage(websocket.BinaryMessage, []byte(broadcastCmd(ch, "42"))); err != nil {
		t.Fatal(err)
	}
	expect(t, c, delivery(ch, "42"))
}

// sizedBroadcast is a broadcast command of exactly n bytes, padded inside
// its string content.
func sizedBroadcast(t testing.TB, channel string, n int) (cmd, content string) {
	t.Helper()
	pad := n - len(broadcastCmd(channel, `""`))
	if pad < 0 {
		t.Fatalf("cannot build a %d-byte command", n)
	}
	content = `"` + strings.Repeat("x", pad) + `"`
	return broadcastCmd(channel, content), content
}

const testMaxMessage = 1024

func TestMessageAtLimitIsAccepted(t *testing.T) {
	s := start(t, server.Config{MaxMessageBytes: testMaxMessage})
	c := dial(t, s)
	ch := freshChannel("limit")
	joinSync(t, c, ch)
	cmd, content := sizedBroadcast(t, ch, testMaxMessage)
	send(t, c, cmd)
	expect(t, c, delivery(ch, content))

	rawDial(t, s).write(fragments(opText, cmd, 400, 800)...)
	expect(t, c, delivery(ch, content))
}

func TestMessageOverLimitClosesWith1009(t *testing.T) {
	s := start(t, server.Config{MaxMessageBytes: testMaxMessage})
	cmd, _ := sizedBroadcast(t, freshChannel("over"), testMaxMessage+1)

	t.Run("single frame", func(t *testing.T) {
		c := dial(t, s)
		send(t, c, cmd)
		expectClose(t, c, 1009)
		stillServes(t, s)
	})
	t.Run("fragmented", func(t *testing.T) {
		closesWith(t, s, 1009, fragments(opText, cmd, 400, 800)...)
	})
	t.Run("huge declared length, no payload", func(t *testing.T) {
		closesWith(t, s, 1009, frameSpec{op: opText, length: 1 << 62}.encode())
	})
}

func TestLengthWithTopBitSetClosesWith1002(t *testing.T) {
	s := start(t, server.Config{MaxMessageBytes: testMaxMessage})
	closesWith(t, s, 1002, frameSpec{op: opText, length: 1<<63 | 5}.encode())
}

const badUTF8Cmd = "{\"command\":\"broadcast\",\"args\":{\"channel\":\"u\",\"content\":\"\xff\xfe\"}}"

func TestInvalidUTF8InTextClosesWith1007(t *testing.T) {
	s := start(t, server.Config{})
	t.Run("single frame", func(t *testing.T) {
		c := dial(t, s)
		send(t, c, badUTF8Cmd)
		expectClose(t, c, 1007)
		stillServes(t, s)
	})
	t.Run("fragmented", func(t *testing.T) {
		closesWith(t, s, 1007, fragments(opText, badUTF8Cmd, 20)...)
	})
}

// A multi-byte character split across fragments is valid UTF-8 once the
// message is whole; only the message as a whole is checked.
func TestUTF8SplitAcrossFragmentsIsAccepted(t *testing.T) {
	s := start(t, server.Config{})
	r := rawDial(t, s)
	ch := freshChannel("utf8")
	rawJoin(r, ch)
	cmd := broadcastCmd(ch, `"é€"`)
	r.write(fragments(opText, cmd, strings.Index(cmd, "€")+1)...)
	r.expectText(delivery(ch, `"é€"`))
}

func TestInvalidUTF8InBinaryGetsBadJSONAndStaysOpen(t *testing.T) {
	s := start(t, server.Config{})
	c := dial(t, s)
	if err := c.WriteMessage(websocket.BinaryMessage, []byte(badUTF8Cmd)); err != nil {
		t.Fatal(err)
	}
	if code := errorCode(t, recv(t, c)); code != "bad_json" {
		t.Fatalf("error code %s, want bad_json", code)
	}
	joinSync(t, c, freshChannel("bin-utf8"))
}

func TestProtocolErrorsCloseWith1002(t *testing.T) {
	s := start(t, server.Config{})
	join := joinCmd("p", "j")
	for _, tc := range []struct {
		name   string
		frames [][]byte
	}{
		{"unmasked frame", [][]byte{frameSpec{op: opText, payload: []byte(join), unmasked: true}.encode()}},
		{"RSV1 set", [][]byte{frameSpec{op: opText, payload: []byte(join), rsv: 4}.encode()}},
		{"RSV2 set", [][]byte{frameSpec{op: opText, payload: []byte(join), rsv: 2}.encode()}},
		{"RSV3 set", [][]byte{frameSpec{op: opText, payload: []byte(join), rsv: 1}.encode()}},
		{"RSV on a ping", [][]byte{frameSpec{op: opPing, rsv: 1}.encode()}},
		{"opcode 3", [][]byte{frame(0x3, join)}},
		{"opcode 7", [][]byte{frame(0x7, join)}},
		{"opcode 0xB", [][]byte{frame(0xB, "")}},
		{"opcode 0xF", [][]byte{frame(0xF, "")}},
		{"ping payload 126", [][]byte{frame(opPing, strings.Repeat("a", 126))}},
		{"close payload 126", [][]byte{frameSpec{op: opClose, payload: closeBody(1000, strings.Repeat("a", 124))}.encode()}},
		{"pong declaring 2^40", [][]byte{frameSpec{op: opPong, length: 1 << 40}.encode()}},
		{"ping without FIN", [][]byte{fragment(opPing, "x")}},
		{"close without FIN", [][]byte{frameSpec{op: opClose, payload: closeBody(1000, ""), more: true}.encode()}},
		{"continuation first", [][]byte{frame(opCont, join)}},
		{"continuation after a whole message", [][]byte{frame(opText, join), frame(opCont, "x")}},
		{"text during a fragmented message", [][]byte{fragment(opText, join[:5]), frame(opText, join)}},
		{"binary during a fragmented message", [][]byte{fragment(opText, join[:5]), fragment(opBinary, join)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			closesWith(t, s, 1002, tc.frames...)
		})
	}
}

func TestFramesTrickledByteByByteAreAssembled(t *testing.T) {
	s := start(t, server.Config{})
	r := rawDial(t, s)
	ch := freshChannel("trickle")
	content := `"` + strings.Repeat("t", 80) + `"`
	cmd := broadcastCmd(ch, content)
	if len(cmd)-10 < 126 {
		t.Fatal("the continuation must use the 16-bit length form")
	}
	var stream []byte
	stream = append(stream, frame(opText, joinCmd(ch, "t"))...)
	stream = append(stream, frame(opPing, "tp")...)
	stream = append(stream, fragment(opText, cmd[:10])...)
	stream = append(stream, frame(opCont, cmd[10:])...) // 16-bit length form
	r.trickle(stream, 100*time.Microsecond)
	r.expectText(okReply("t"))
	r.expectFrame(opPong, "tp")
	r.expectText(delivery(ch, content))
}

func TestSeveralFramesInOneWriteAreAllExecuted(t *testing.T) {
	s := start(t, server.Config{})
	r := rawDial(t, s)
	ch := freshChannel("batch")
	var stream []byte
	stream = append(stream, frame(opText, joinCmd(ch, "1"))...)
	stream = append(stream, frame(opText, broadcastCmd(ch, "1"))...)
	stream = append(stream, frame(opPing, "2")...)
	stream = append(stream, fragment(opBinary, broadcastCmd(ch, "3")[:9])...)
	stream = append(stream, frame(opCont, broadcastCmd(ch, "3")[9:])...)
	stream = append(stream, frame(opText, broadcastCmd(ch, "4"))...)
	r.write(stream)
	r.expectText(okReply("1"))
	r.expectText(delivery(ch, "1"))
	r.expectFrame(opPong, "2")
	r.expectText(delivery(ch, "3"))
	r.expectText(delivery(ch, "4"))
}

func TestFramesPipelinedBehindTheHandshakeAreExecuted(t *testing.T) {
	s := start(t, server.Config{})
	r := rawDialTCP(t, s)
	ch := freshChannel("pipelined")
	stream := handshakeRequest(s.Addr().String())
	stream = append(stream, frame(opText, joinCmd(ch, "p"))...)
	stream = append(stream, frame(opText, broadcastCmd(ch, `"early"`))...)
	r.write(stream)
	r.expectUpgrade()
	r.expectText(okReply("p"))
	r.expectText(delivery(ch, `"early"`))
}

const shortTimeout = 300 * time.Millisecond

// stallers opens n connections through open, their starts spread over
// 100ms (the server checks deadlines on a 100ms tick), so some deadline
// falls late in a tick whatever the tick's phase: a deadline missed by
// its tick would show as a close seconds late.
func stallers(n int, open func() *rawConn) []*rawConn {
	rs := make([]*rawConn, n)
	for i := range rs {
		rs[i] = open()
		time.Sleep(100 * time.Millisecond / time.Duration(n))
	}
	return rs
}

func TestIncompleteFrameTimesOutWith1008(t *testing.T) {
	s := start(t, server.Config{ReadTimeout: shortTimeout})
	full := frame(opText, joinCmd(freshChannel("stall"), "s"))
	for _, tc := range []struct {
		name string
		part []byte
	}{
		{"half a header", full[:1]},
		{"header without mask", full[:4]},
		{"half a payload", full[:len(full)/2]},
		{"first fragment only", fragment(opText, `{"command":`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idle := rawDial(t, s) // whole frames only: no deadline may hit it
			rawJoin(idle, freshChannel("idle"))
			rs := stallers(5, func() *rawConn {
				r := rawDial(t, s)
				r.write(tc.part)
				return r
			})
			stillServes(t, s) // served while they stall
			for _, r := range rs {
				r.expectClose(1008)
			}
			idle.write(frame(opPing, "still here"))
			idle.expectFrame(opPong, "still here")
		})
	}
}

func TestIncompleteHandshakeIsDropped(t *testing.T) {
	s := start(t, server.Config{HandshakeTimeout: shortTimeout})
	rs := stallers(5, func() *rawConn {
		r := rawDialTCP(t, s)
		r.write(handshakeRequest(s.Addr().String())[:30])
		return r
	})
	stillServes(t, s) // served while they stall
	for _, r := range rs {
		r.expectEOF()
	}
}

// seqContent is a numbered broadcast content, padded so the flood fills
// buffers quickly.
func seqContent(seq int) string {
	return fmt.Sprintf(`{"seq":%d,"pad":"%s"}`, seq, strings.Repeat("f", 2000))
}

// countInOrder reads deliveries of seqContent until the content "end"
// arrives, giving back a window token for each; it reports the count, or
// the first delivery out of order.
func countInOrder(c *websocket.Conn, ch string, window chan struct{}) (int, error) {
	for seq := 0; ; seq++ {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, p, err := c.ReadMessage()
		switch {
		case err != nil:
			return seq, fmt.Errorf("subscriber after %d messages: %w", seq, err)
		case string(p) == delivery(ch, `"end"`):
			return seq, nil
		case string(p) != delivery(ch, seqContent(seq)):
			return seq, fmt.Errorf("subscriber message %d: got %.60s", seq, p)
		}
		<-window
	}
}

// publishWindowed sends one numbered broadcast once the subscriber is
// within the window: it keeps the reading subscriber far inside its own
// outbox limit whatever the scheduler does, so only the client that does
// not read can fall behind.
func publishWindowed(t *testing.T, pub *websocket.Conn, ch string, seq int, window chan struct{}) {
	t.Helper()
	select {
	case window <- struct{}{}:
	case <-time.After(10 * time.Second):
		t.Fatalf("subscriber stuck before message %d", seq)
	}
	send(t, pub, broadcastCmd(ch, seqContent(seq)))
}

func TestSlowConsumerIsDroppedWhileOthersGetEverything(t *testing.T) {
	s := start(t, server.Config{OutboxBytes: 64 << 10})
	ch := freshChannel("flood")
	slow := dialSmallWindow(t, s)
	rawJoin(slow, ch) // and never read again
	sub, pub := dial(t, s), dial(t, s)
	joinSync(t, sub, ch)

	const maxMessages = 8000 // ~16 MB: far past what loopback buffers hold
	window := make(chan struct{}, 16)
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() { n, err := countInOrder(sub, ch, window); done <- result{n, err} }()
	sent := 0
	for ; s.Stats().SlowConsumers == 0; sent++ {
		if sent == maxMessages {
			t.Fatalf("slow consumer still connected after %d messages", sent)
		}
		publishWindowed(t, pub, ch, sent, window)
	}
	for range 10 { // the flood goes on after the drop
		publishWindowed(t, pub, ch, sent, window)
		sent++
	}
	send(t, pub, fmt.Sprintf(`{"command":"broadcast","args":{"channel":%q,"content":"end"},"id":"last"}`, ch))
	expect(t, pub, `{"id":"last","ok":true,"receivers":1}`) // the publisher was never held up; the slow one is gone
	t.Logf("slow consumer dropped after %d messages", sent)

	slowGotPrefix(t, slow, ch)
	if r := <-done; r.err != nil || r.n != sent {
		t.Fatalf("subscriber got %d of %d messages: %v", r.n, sent, r.err)
	}
	if n := s.Stats().SlowConsumers; n != 1 {
		t.Fatalf("SlowConsumers = %d, want 1", n)
	}
	stillServes(t, s)
}

// slowGotPrefix reads what reached the dropped client: deliveries in
// order from the first, then maybe a close frame with 1008 (the server
// sends one only when no frame was half written), then the end of the
// connection.
func slowGotPrefix(t *testing.T, r *rawConn, ch string) {
	t.Helper()
	for seq := 0; ; seq++ {
		f, err := r.readFrame()
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF) || isClosed(err):
			t.Logf("slow consumer received %d messages before the drop", seq)
			return
		case err != nil:
			t.Fatalf("slow consumer: %v", err)
		case f.op == opClose:
			if f.closeCode() != 1008 {
				t.Fatalf("slow consumer closed with %d, want 1008", f.closeCode())
			}
			r.expectEOF()
			return
		case string(f.payload) != delivery(ch, seqContent(seq)):
			t.Fatalf("slow consumer message %d: got %.60s", seq, f.payload)
		}
	}
}
