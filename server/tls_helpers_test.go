package server_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/server"
)

// testCert is a self-signed certificate for 127.0.0.1, made once per test
// binary, in PEM files as the server reads them.
type testCert struct {
	certFile, keyFile string
	pool              *x509.CertPool
}

var (
	certOnce sync.Once
	cert     testCert
	certErr  error
)

func selfSigned(t testing.TB) testCert {
	t.Helper()
	certOnce.Do(func() { cert, certErr = makeCert() })
	if certErr != nil {
		t.Fatal(certErr)
	}
	return cert
}

func makeCert() (testCert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return testCert{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wsify test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return testCert{}, err
	}
	return writeCert(der, key)
}

func writeCert(der []byte, key *ecdsa.PrivateKey) (testCert, error) {
	dir, err := os.MkdirTemp("", "wsify-tls")
	if err != nil {
		return testCert{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return testCert{}, err
	}
	c := testCert{certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem"), pool: x509.NewCertPool()}
	leaf, _ := x509.ParseCertificate(der)
	c.pool.AddCert(leaf)
	err = os.WriteFile(c.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	if err == nil {
		err = os.WriteFile(c.keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	}
	return c, err
}

// startTLS runs a server whose listener speaks TLS only.
func startTLS(t testing.TB, cfg server.Config) *server.Server {
	t.Helper()
	c := selfSigned(t)
	cfg.TLSCertFile, cfg.TLSKeyFile = c.certFile, c.keyFile
	return start(t, cfg)
}

func clientTLS(t testing.TB) *tls.Config {
	return &tls.Config{RootCAs: selfSigned(t).pool}
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
	r := &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
	r.write(handshakeRequest(s.Addr().String()))
	r.expectUpgrade()
	return r
}

// clientHello returns the bytes of a real ClientHello, as crypto/tls would
// send them to the server.
func clientHello(t testing.TB) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	go tls.Client(a, &tls.Config{ServerName: "localhost", RootCAs: selfSigned(t).pool}).Handshake()
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
