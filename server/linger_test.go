package server_test

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/wsify/wsify/server"
)

// TestCloseCodeSurvivesAPeerStillSending: the server closes with 1009 while
// the client keeps writing. Closing a socket with unread input makes the
// kernel send a reset, which can destroy the close frame before the client
// reads it; the server must drain instead, so the client reads 1009.
func TestCloseCodeSurvivesAPeerStillSending(t *testing.T) {
	s := start(t, server.Config{MaxMessageBytes: 1024})
	for range 5 {
		r := rawDial(t, s)
		var burst []byte
		for i := range 300 {
			burst = append(burst, frame(opText, fmt.Sprintf(`{"command":"join","args":{"channel":"c"},"id":%d}`, i))...)
		}
		r.write(append(burst, frameSpec{op: opText, length: 1 << 20}.encode()...))
		stop := make(chan struct{})
		go keepSending(r, stop)
		time.Sleep(50 * time.Millisecond) // the server has closed; its replies wait unread
		for i := range 300 {
			r.expectText(fmt.Sprintf(`{"id":%d,"ok":true}`, i))
		}
		r.expectClose(1009)
		close(stop)
	}
	stillServes(t, s)
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
