package server_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/server"
	"github.com/wsify/wsify/server/servertest"
)

// startTLS runs a server whose listener speaks TLS only.
func startTLS(t testing.TB, cfg server.Config) *server.Server {
	t.Helper()
	c := servertest.SelfSigned(t)
	cfg.TLSCertFile, cfg.TLSKeyFile = c.CertFile, c.KeyFile
	return start(t, cfg)
}

func clientTLS(t testing.TB) *tls.Config {
	return &tls.Config{RootCAs: servertest.SelfSigned(t).Pool}
}

// dialWSS opens a wss:// client with gorilla/websocket.
func dialWSS(t testing.TB, s *server.Server, opts ...func(*websocket.Dialer)) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, TLSClientConfig: clientTLS(t)}
	for _, o := range opts {
		o(&d)
	}
	c, resp, err := d.Dial(fmt.Sprintf("wss://%s/ws", s.Addr()), nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		t.Fatalf("dial wss: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// httpsClient trusts the test certificate and keeps no idle connections.
func httpsClient(t testing.TB) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: clientTLS(t), DisableKeepAlives: true}}
}

// rawDialTLS connects over TLS and completes the WebSocket handshake by
// hand, so the raw frame helpers run over TLS.
func rawDialTLS(t testing.TB, s *server.Server) *rawConn {
	t.Helper()
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.Addr().String(), clientTLS(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	r := newRawConn(t, nc)
	r.handshake()
	return r
}

// clientHello returns the bytes of a real ClientHello, as crypto/tls would
// send them to the server.
func clientHello(t testing.TB) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	go tls.Client(a, &tls.Config{ServerName: "localhost", RootCAs: servertest.SelfSigned(t).Pool}).Handshake()
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hello []byte
	buf := make([]byte, 4096)
	for len(hello) < 5 || len(hello) < 5+(int(hello[3])<<8|int(hello[4])) {
		n, err := b.Read(buf)
		if err != nil {
			t.Fatalf("capture ClientHello: %v", err)
		}
		hello = append(hello, buf[:n]...)
	}
	b.Close()
	return hello
}

// dialSmallWindowTCP connects with a 4 KiB receive buffer set before
// connect, so the kernel cannot hide a client that does not read.
func dialSmallWindowTCP(t testing.TB, s *server.Server) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	nc, err := d.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}
