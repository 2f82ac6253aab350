package server

import (
	"encoding/binary"
	"io"
	"log/slog"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsify/wsify/server/internal/wheel"
)

// TestAFrameHeaderCostsWhatArrived: a 14-byte header that announces a
// large payload must not make the server set that much memory aside while
// it waits for the payload (up to the read timeout): the read buffer grows
// with the bytes that actually arrive.
func TestAFrameHeaderCostsWhatArrived(t *testing.T) {
	c, peer := deliveryFixture(t)
	s := c.srv
	s.cfg = Config{MaxMessageBytes: 1 << 20, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}.WithDefaults()
	s.log = s.cfg.Logger
	s.bufs.New = func() any { b := make([]byte, 0, s.cfg.ReadBufferBytes); return &b }
	s.wheel = wheel.New(time.Hour, func(*conn) {})
	defer s.wheel.Close()
	c.state = stateOpen

	const declared = 1000000
	head := []byte{0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}
	binary.BigEndian.PutUint64(head[2:10], declared)
	unix.Write(peer, head)
	c.read()
	if len(c.rbuf) != len(head) || cap(c.rbuf) > 64 {
		t.Fatalf("after a header alone: %d bytes held in a buffer of %d", len(c.rbuf), cap(c.rbuf))
	}
	sent := len(head)
	for _, chunk := range []int{3000, 10000, 50000} {
		unix.Write(peer, make([]byte, chunk))
		sent += chunk
		c.read()
		if len(c.rbuf) != sent || cap(c.rbuf) > 2*sent+s.cfg.ReadBufferBytes {
			t.Fatalf("after %d bytes of the frame: %d held in a buffer of %d", sent, len(c.rbuf), cap(c.rbuf))
		}
	}
}
