package server

import "testing"

// TestBytesInAWriteAreNotWaiting: a writer that handed its writev to the
// kernel and then waits for a core must not make its reader look slow. The
// handler is marked running so that a wrong verdict only records the close.
func TestBytesInAWriteAreNotWaiting(t *testing.T) {
	s := &Server{}
	s.cfg.OutboxBytes = 100
	c := &conn{srv: s, running: true, writing: true}
	c.out, c.outBytes, c.sending = [][]byte{make([]byte, 90)}, 90, 90 // a writev of 90 bytes under way
	c.enqueue(make([]byte, 50))
	if c.closing || s.stats.slowConsumers.Load() != 0 || c.outBytes != 140 {
		t.Fatalf("closing %v, slow consumers %d, outBytes %d: want the frame queued", c.closing, s.stats.slowConsumers.Load(), c.outBytes)
	}
	c.sending = 0 // the writev came back having written nothing: 140 bytes wait
	c.enqueue(make([]byte, 1))
	if !c.closing || s.stats.slowConsumers.Load() != 1 {
		t.Fatalf("closing %v, slow consumers %d: want a slow consumer", c.closing, s.stats.slowConsumers.Load())
	}
}
