package server

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/hub"
	"github.com/wsify/wsify/protocol"
)

// A delivery is the step every publication repeats per subscriber, so one
// allocation in it is one per subscriber per message: these tests pin the
// server's own part of it (enqueue, the writev, the outbox reset) at none,
// over a real socket so that the write path is the one in production.

// deliveryFixture is a connection on one end of a socketpair, its handler
// marked running so that no poller is needed, and the peer's end.
func deliveryFixture(t testing.TB) (c *conn, peer int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0) // darwin has no SOCK_NONBLOCK
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	unix.SetNonblock(fds[0], true)
	unix.SetNonblock(fds[1], true)
	s := &Server{}
	s.cfg.OutboxBytes = 1 << 20
	return &conn{srv: s, fd: fds[0], running: true}, fds[1]
}

// readFrame reads exactly len(want) bytes from the peer and checks them,
// so that a delivery that wrote nothing, or the wrong bytes, fails the pin
// instead of passing it for free.
func readFrame(t testing.TB, peer int, buf, want []byte) {
	n, err := unix.Read(peer, buf)
	if err != nil || !bytes.Equal(buf[:n], want) {
		t.Fatalf("peer read %q, %v; want %q", buf[:max(n, 0)], err, want)
	}
}

func deliveryFrame() []byte {
	return protocol.BroadcastFrame([]byte("news"), []byte(`{"n":1}`))
}

// TestDeliveryDoesNotAllocate pins Enqueue and Flush, as the hub calls
// them, and the peer's read at zero allocations per delivery.
func TestDeliveryDoesNotAllocate(t *testing.T) {
	c, peer := deliveryFixture(t)
	frame := deliveryFrame()
	m := &hub.Message{Frame: frame}
	buf := make([]byte, 2*len(frame))
	deliver := func() {
		if c.Enqueue(m) {
			c.Flush()
		}
		readFrame(t, peer, buf, frame)
	}
	deliver() // the outbox's first slice is kept for every later burst
	if a := testing.AllocsPerRun(1000, deliver); a != 0 {
		t.Fatalf("a delivery allocates %v times", a)
	}
	if c.closing != nil {
		t.Fatalf("the connection was closed: %v", c.closing)
	}
}

// TestDeliveryThroughHubDoesNotAllocate pins the same delivery reached by
// hub.Publish with the flush inline (no Dispatch), as a publisher without
// a worker pool runs it.
func TestDeliveryThroughHubDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops a share of what it is given under -race, so the hub's pooled batches allocate")
	}
	c, peer := deliveryFixture(t)
	h := hub.New(hub.Config{})
	channel := []byte("news")
	h.Join(channel, c)
	frame := deliveryFrame()
	buf := make([]byte, 2*len(frame))
	publish := func() {
		if n := h.Publish(channel, frame); n != 1 {
			t.Fatalf("Publish reached %d subscribers, want 1", n)
		}
		readFrame(t, peer, buf, frame)
	}
	publish()
	if a := testing.AllocsPerRun(1000, publish); a != 0 {
		t.Fatalf("a delivery through the hub allocates %v times", a)
	}
}

// TestFilteredDeliveryDoesNotAllocate pins a delivery whose message
// carries a filter, for a connection it lets through and for one it
// leaves out (its id checked against "except" without building the id,
// its user against "to"): filtered publications cost each subscriber a
// few comparisons, no allocation.
func TestFilteredDeliveryDoesNotAllocate(t *testing.T) {
	c, peer := deliveryFixture(t)
	c.srv.nodeID, c.seq = "abcdef12", 41
	c.ident = &auth.Identity{User: "alice"}
	frame := deliveryFrame()
	in := &hub.Message{Frame: frame, Filter: hub.NewFilter(true, [][]byte{[]byte("bob"), []byte("alice")}, []byte("abcdef12-4"))}
	out := &hub.Message{Frame: frame, Filter: hub.NewFilter(false, nil, []byte("abcdef12-41"))}
	buf := make([]byte, 2*len(frame))
	deliver := func() {
		if c.Enqueue(out) {
			t.Fatal("the connection the filter excludes queued the frame")
		}
		if c.Enqueue(in) {
			c.Flush()
		}
		readFrame(t, peer, buf, frame)
	}
	deliver()
	if a := testing.AllocsPerRun(1000, deliver); a != 0 {
		t.Fatalf("a filtered delivery allocates %v times", a)
	}
}
