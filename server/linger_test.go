package server_test

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/server"
)

// TestCloseCodeSurvivesAPeerStillSending: the server closes with 1009 while
// the client keeps writing. Closing a socket with unread input makes the
// kernel send a reset, which can destroy the close frame before the client
// reads it; the server must drain instead, so the client reads 1009.
func TestCloseCodeSurvivesAPeerStillSending(t *testing.T) {
	s := start(t, server.Config{MaxMessageBytes: 1024})
	for range 5 {
		// the client reads only once the server has closed, so its
		// replies wait unread while the client keeps sending
		expect1009WhileSending(rawDial(t, s), 300, closedOnceMore(s, websocket.CloseMessageTooBig))
	}
	stillServes(t, s)
}

// closedOnceMore reports, when called, whether s has closed one more
// connection with code than when closedOnceMore was called.
func closedOnceMore(s *server.Server, code int) func() bool {
	label := strconv.Itoa(code)
	before := s.Stats().ClosedBy[label]
	return func() bool { return s.Stats().ClosedBy[label] > before }
}

// expect1009WhileSending writes n joins and a frame far over a 1024-byte
// message limit at once, keeps writing junk, and once serverClosed holds
// (at once when nil) wants the n replies, then close 1009.
func expect1009WhileSending(r *rawConn, n int, serverClosed func() bool) {
	r.t.Helper()
	var burst []byte
	for i := range n {
		burst = append(burst, frame(opText, joinCmd("c", fmt.Sprint(i)))...)
	}
	r.write(append(burst, frameSpec{op: opText, length: 1 << 20}.encode()...))
	stop := make(chan struct{})
	defer close(stop)
	go keepSending(r, stop)
	if serverClosed != nil {
		eventually(r.t, "the server to close with 1009", serverClosed)
	}
	for i := range n {
		r.expectText(okReply(fmt.Sprint(i)))
	}
	r.expectClose(1009)
}

// keepSending writes junk until stop or a write error, for at most 2s.
func keepSending(r *rawConn, stop <-chan struct{}) {
	junk := make([]byte, 16<<10)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		select {
		case <-stop:
			return
		default:
		}
		r.nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := r.nc.Write(junk); err != nil && !isTimeout(err) {
			return
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
