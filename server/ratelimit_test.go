package server_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/server"
)

// TestRateLimitRefusesThenClosesFlooder sends 60 broadcasts at once at a
// limit of 20 a second: the flooder gets ok for its burst, rate_limited
// for as many more, then close 1008; only the commands answered ok were
// published. A polite client on the same server, at half the rate, is
// never refused.
//
// The flood goes out in one write that the server reads whole, so no byte
// of it is unread when the server closes: a close with unread input is a
// TCP reset, which can destroy the close frame before the client reads it.
func TestRateLimitRefusesThenClosesFlooder(t *testing.T) {
	const rate = 20
	s := start(t, server.Config{RateLimit: rate, ReadBufferBytes: 16384})
	watcher, polite := dial(t, s), dial(t, s)
	flooder := rawDial(t, s)
	joinSync(t, watcher, "f")

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); politeClient(t, polite, 10, time.Second/(rate/2)) }()

	var flood []byte
	for i := range 60 {
		flood = append(flood, frame(opText, fmt.Sprintf(`{"command":"broadcast","args":{"channel":"f","content":%d},"id":%d}`, i, i))...)
	}
	flooder.write(flood)
	ok, limited := flooder.repliesUntilClose(1008)
	if len(ok) < rate || limited < rate {
		t.Fatalf("flooder got %d ok and %d rate_limited, want at least %d of each", len(ok), limited, rate)
	}
	wg.Wait()

	postToChannel(t, s, "f", `"end"`)
	for {
		m := recv(t, watcher)
		if m == `{"channel":"f","content":"end"}` {
			break
		}
		var p struct{ Content int }
		json.Unmarshal([]byte(m), &p)
		if !ok[p.Content] {
			t.Fatalf("delivered %s, which was not answered ok", m)
		}
		delete(ok, p.Content)
	}
	if len(ok) != 0 {
		t.Fatalf("answered ok but not delivered: %v", ok)
	}
	if st := s.LimitStats(); st.Flooders != 1 || st.RateLimited != uint64(limited) {
		t.Fatalf("limit stats %+v, want 1 flooder and %d rate limited", st, limited)
	}
}

// politeClient sends n commands, one per pause, and wants every one ok.
func politeClient(t testing.TB, c *websocket.Conn, n int, pause time.Duration) {
	for i := range n {
		if err := c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"command":"join","args":{"channel":"p%d"},"id":%d}`, i, i)); err != nil {
			t.Errorf("polite client: %v", err)
			return
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, p, err := c.ReadMessage()
		if want := fmt.Sprintf(`{"id":%d,"ok":true}`, i); err != nil || string(p) != want {
			t.Errorf("polite client: got %s %v, want %s", p, err, want)
			return
		}
		time.Sleep(pause) // paces the client: it must stay under the rate in real time
	}
}

// repliesUntilClose reads replies until a close frame with code and
// returns the ids answered ok and the count answered rate_limited. Any
// other frame, or a second reply to one id, fails the test.
func (r *rawConn) repliesUntilClose(code int) (ok map[int]bool, limited int) {
	r.t.Helper()
	ok, seen := map[int]bool{}, map[int]bool{}
	for {
		f, err := r.readFrame()
		if err != nil {
			r.t.Fatalf("after %d ok and %d rate_limited: %v, want close %d", len(ok), limited, err, code)
		}
		if f.op == opClose {
			if f.closeCode() != code {
				r.t.Fatalf("after %d ok and %d rate_limited: close %d, want %d", len(ok), limited, f.closeCode(), code)
			}
			r.expectEOF()
			return ok, limited
		}
		var reply struct {
			ID    *int
			OK    bool
			Error struct{ Code string }
		}
		if json.Unmarshal(f.payload, &reply) != nil || reply.ID == nil || seen[*reply.ID] {
			r.t.Fatalf("unexpected frame %q", f.payload)
		}
		seen[*reply.ID] = true
		switch {
		case reply.OK:
			ok[*reply.ID] = true
		case reply.Error.Code == "rate_limited":
			limited++
		default:
			r.t.Fatalf("unexpected reply %q", f.payload)
		}
	}
}

// TestRateLimitSparesClientThatBacksOff shows a refused client that waits
// is served again and never closed.
func TestRateLimitSparesClientThatBacksOff(t *testing.T) {
	s := start(t, server.Config{RateLimit: 5})
	c := dial(t, s)
	for round := range 2 {
		for i := range 6 {
			send(t, c, fmt.Sprintf(`{"command":"leave","args":{"channel":"x"},"id":%d}`, i))
		}
		for i := range 5 {
			expect(t, c, fmt.Sprintf(`{"id":%d,"ok":true}`, i))
		}
		if code := errorCode(t, recv(t, c)); code != "rate_limited" {
			t.Fatalf("round %d: sixth command got %s, want rate_limited", round, code)
		}
		server.AdvanceClock(s, time.Second) // the bucket refills
	}
}
