package server_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/wsify/wsify/server"
)

// TestHealthzAnswersWhileHTTPSlotsAreFull fills every fasthttp slot with
// idle keep-alive connections: other requests get 503, but a health probe
// must still hear 200, and on a connection that is then closed.
func TestHealthzAnswersWhileHTTPSlotsAreFull(t *testing.T) {
	s := start(t, server.Config{MaxHTTPConns: 8})
	for range 8 {
		expectKeepAliveGet(t, s, nil, "/stats", http.StatusOK)
	}
	expectKeepAliveGet(t, s, nil, "/stats", http.StatusServiceUnavailable) // the slots are full
	nc, resp := keepAliveGet(t, s, nil, "/healthz")
	if resp.status != http.StatusOK || resp.body != `{"status":"ok"}` || !resp.close {
		t.Fatalf("GET /healthz with the HTTP slots full: %d %q close=%v, want 200 {\"status\":\"ok\"} and a close",
			resp.status, resp.body, resp.close)
	}
	expectEOF(t, nc)
}

// TestDefaultHTTPIdleTimeoutIsShort: an idle keep-alive connection may
// hold its slot no longer than a new one may wait for its first request.
func TestDefaultHTTPIdleTimeoutIsShort(t *testing.T) {
	c := server.Config{}.WithDefaults()
	if c.HTTPIdleTimeout > c.HandshakeTimeout {
		t.Fatalf("default HTTP idle timeout %s, above the handshake timeout %s", c.HTTPIdleTimeout, c.HandshakeTimeout)
	}
}

// TestIdleKeepAliveFreesItsSlot: past the idle timeout the server closes
// an idle keep-alive connection and its slot serves the next client.
func TestIdleKeepAliveFreesItsSlot(t *testing.T) {
	s := start(t, server.Config{MaxHTTPConns: 2, HTTPIdleTimeout: 200 * time.Millisecond})
	a, _ := expectKeepAliveGet(t, s, nil, "/stats", http.StatusOK)
	b, _ := expectKeepAliveGet(t, s, nil, "/stats", http.StatusOK)
	expectKeepAliveGet(t, s, nil, "/stats", http.StatusServiceUnavailable)
	expectEOF(t, a)
	expectEOF(t, b)
	eventually(t, "a slot free again", func() bool {
		_, resp := keepAliveGet(t, s, nil, "/stats")
		return resp.status == http.StatusOK
	})
}

// TestOneAddressCannotTakeEveryHTTPSlot: past the default cap of 64
// connections per client address, the next one from that address gets
// 429, while another address and health probes are still served.
func TestOneAddressCannotTakeEveryHTTPSlot(t *testing.T) {
	const perIP = 64 // Config.MaxHTTPConnsPerIP's default
	s := start(t, server.Config{MaxHTTPConns: 4 * perIP})
	for range perIP {
		expectKeepAliveGet(t, s, nil, "/stats", http.StatusOK)
	}
	expectKeepAliveGet(t, s, nil, "/stats", http.StatusTooManyRequests)
	expectKeepAliveGet(t, s, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, "/stats", http.StatusOK)
	expectKeepAliveGet(t, s, nil, "/healthz", http.StatusOK)
}

type slotResponse struct {
	status int
	body   string
	close  bool
}

// keepAliveGet sends GET path on a new connection from local (nil: any
// address) and reads the answer, leaving the connection open (and, when
// the server keeps it alive, idle) until the test ends.
func keepAliveGet(t testing.TB, s *server.Server, local net.Addr, path string) (net.Conn, slotResponse) {
	t.Helper()
	d := net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}
	nc, err := d.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if _, err := io.WriteString(nc, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(nc), &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return nc, slotResponse{resp.StatusCode, string(b), resp.Close}
}

func expectKeepAliveGet(t testing.TB, s *server.Server, local net.Addr, path string, want int) (net.Conn, slotResponse) {
	t.Helper()
	nc, resp := keepAliveGet(t, s, local, path)
	if resp.status != want {
		t.Fatalf("GET %s: %d %.80q, want %d", path, resp.status, resp.body, want)
	}
	return nc, resp
}

// expectEOF waits for the server to close nc.
func expectEOF(t testing.TB, nc net.Conn) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := nc.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("want the server's close, got %d bytes, %v", n, err)
	}
}
