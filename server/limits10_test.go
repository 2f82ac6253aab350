package server_test

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wsify/wsify/server"
)

// TestPingFloodGetsOnePongPerBatch: pings sent in a row are answered by
// one pong for the last of them (RFC 6455 5.5.3), not one frame and one
// write each.
func TestPingFloodGetsOnePongPerBatch(t *testing.T) {
	s := start(t, server.Config{})
	r := rawDial(t, s)
	var flood bytes.Buffer
	for i := range 500 {
		flood.Write(frame(opPing, fmt.Sprint(i)))
	}
	flood.Write(frame(opText, joinCmd(freshChannel("after"), "done")))
	r.write(flood.Bytes())
	pongs := 0
	for {
		f, err := r.readFrame()
		if err != nil {
			t.Fatalf("after %d pongs: %v", pongs, err)
		}
		if f.op == opPong {
			pongs++
			continue
		}
		if string(f.payload) != okReply("done") {
			t.Fatalf("got %q, want the join's reply", f.payload)
		}
		break
	}
	if pongs == 0 || pongs > 20 {
		t.Fatalf("%d pongs for 500 pings in one write, want a handful", pongs)
	}
}

// TestPingsCountInTheRateLimit: with a rate limit, a client that floods
// pings is a flooder like one that floods commands.
func TestPingsCountInTheRateLimit(t *testing.T) {
	s := start(t, server.Config{RateLimit: 5})
	r := rawDial(t, s)
	var flood bytes.Buffer
	for range 100 {
		flood.Write(frame(opPing, "x"))
	}
	r.write(flood.Bytes())
	for {
		f, err := r.readFrame()
		if err != nil {
			t.Fatalf("read: %v; want close 1008", err)
		}
		if f.op == opClose {
			if f.closeCode() != 1008 {
				t.Fatalf("close %d, want 1008", f.closeCode())
			}
			return
		}
	}
}

// TestJoinChurnIsLimitedByDefault: a client that joins and leaves in a
// loop, making the node subscribe and unsubscribe at the broker as fast as
// it sends, is refused with rate_limited past the default join rate, and
// kept.
func TestJoinChurnIsLimitedByDefault(t *testing.T) {
	s := start(t, server.Config{})
	c := dial(t, s)
	limited := 0
	for i := range 200 {
		send(t, c, fmt.Sprintf(`{"command":"join","args":{"channel":"churn"},"id":%d}`, 2*i))
		send(t, c, fmt.Sprintf(`{"command":"leave","args":{"channel":"churn"},"id":%d}`, 2*i+1))
	}
	for range 400 {
		if msg := recv(t, c); strings.Contains(msg, `"code":"rate_limited"`) {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("400 joins and leaves at once were all run: churn is not limited")
	}
	joinSync(t, dial(t, s), "churn") // others are not affected
}

// TestDefaultChannelLimit: one connection may join 128 channels by
// default, and the 129th is refused with too_many_channels.
func TestDefaultChannelLimit(t *testing.T) {
	s := start(t, server.Config{})
	c := dial(t, s)
	for i := range 128 {
		send(t, c, fmt.Sprintf(`{"command":"join","args":{"channel":"ch%d"}}`, i))
	}
	send(t, c, `{"command":"join","args":{"channel":"one-too-many"},"id":1}`)
	if msg := recv(t, c); errorCode(t, msg) != "too_many_channels" {
		t.Fatalf("the 129th join: %s", msg)
	}
}

// TestSilentSocketsAreBoundedAtAccept: sockets that never send a request
// head count against the connection cap: past it and its headroom (64 at
// least) they are closed at accept, not held until the handshake timeout.
func TestSilentSocketsAreBoundedAtAccept(t *testing.T) {
	s := start(t, server.Config{MaxConnections: 10, HandshakeTimeout: time.Minute})
	const n, bound = 120, 10 + 64
	for range n {
		nc, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
	}
	eventually(t, "the silent sockets accepted or refused", func() bool {
		st := s.Stats()
		return st.Sockets+int(st.Limits.RefusedAtAccept) == n
	})
	if st := s.Stats(); st.Sockets > bound || st.Limits.RefusedAtAccept < n-bound {
		t.Fatalf("%d sockets held, %d refused at accept: want at most %d held", st.Sockets, st.Limits.RefusedAtAccept, bound)
	}
}
