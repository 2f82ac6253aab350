package server

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestBytesInAWriteAreNotWaiting: a writer that handed its writev to the
// kernel and then waits for a core must not make its reader look slow. The
// handler is marked running so that a wrong verdict only records the close.
func TestBytesInAWriteAreNotWaiting(t *testing.T) {
	s := &Server{}
	s.cfg.OutboxBytes = 100
	c := &conn{srv: s, running: true, writing: true}
	c.ob.out, c.ob.bytes, c.ob.sending = [][]byte{make([]byte, 90)}, 90, 90 // a writev of 90 bytes under way
	c.enqueue(make([]byte, 50))
	if c.closing != nil || s.stats.slowConsumers.Load() != 0 || c.ob.bytes != 140 {
		t.Fatalf("closing %v, slow consumers %d, outBytes %d: want the frame queued", c.closing, s.stats.slowConsumers.Load(), c.ob.bytes)
	}
	c.ob.sending = 0 // the writev came back having written nothing: 140 bytes wait
	c.enqueue(make([]byte, 1))
	if c.closing == nil || s.stats.slowConsumers.Load() != 1 {
		t.Fatalf("closing %v, slow consumers %d: want a slow consumer", c.closing, s.stats.slowConsumers.Load())
	}
}

// TestLaggingSubscriberOutboxStaysCompact keeps a subscriber about 200
// frames behind, under its outbox limit, for 20,000 frames: the slots of
// frames already sent must be reused, not kept while the outbox grows.
func TestLaggingSubscriberOutboxStaysCompact(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0) // darwin has no SOCK_NONBLOCK
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	unix.SetNonblock(fds[0], true)
	unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
	s := &Server{}
	s.cfg.OutboxBytes = 1 << 20
	c := &conn{srv: s, fd: fds[0], running: true} // running: no poller to re-arm
	frame, buf := make([]byte, 1000), make([]byte, 1000)
	for range 200 {
		c.enqueue(frame)
	}
	c.writable()
	for range 20000 {
		c.enqueue(frame)
		unix.Read(fds[1], buf)
		c.writable()
	}
	if c.closing != nil || c.ob.bytes < 100_000 {
		t.Fatalf("closing %v, %d bytes waiting: the subscriber was meant to lag under its limit", c.closing, c.ob.bytes)
	}
	if cap(c.ob.out) > 2048 {
		t.Fatalf("outbox holds %d slots for %d frames waiting", cap(c.ob.out), len(c.ob.out)-c.ob.first)
	}
}
