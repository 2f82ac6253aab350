package interop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsify/wsify/server"
)

// secureClients run the same third-party clients over wss:// with
// permessage-deflate: each must accept the test's certificate, negotiate
// compression (the server imposes no context takeover both ways, which
// Chromium and Python do not offer), read a compressed broadcast and send
// a compressed one of its own.
var secureClients = []client{
	{
		name:      "chromium",
		installed: all(program(chromiumPath()), program("node"), nodeModule("playwright-core")),
		command: func(url, channel string) *exec.Cmd {
			return exec.Command("node", "clients/secure_chromium.js", url, channel)
		},
		closed: "closed 1000 clean",
	},
	{
		name:      "python-websockets",
		installed: all(program(python), pythonModule("websockets")),
		command: func(url, channel string) *exec.Cmd {
			return exec.Command(python, "clients/secure_python.py", url, channel)
		},
		closed: "closed 1000",
	},
	{
		name:      "node-ws",
		installed: all(program("node"), nodeModule("ws")),
		command: func(url, channel string) *exec.Cmd {
			return exec.Command("node", "clients/secure_node_ws.js", url, channel)
		},
		closed: "closed 1000",
	},
}

func TestThirdPartyClientsOverTLSWithCompression(t *testing.T) {
	certFile, keyFile, pool := testCertificate(t)
	s := startSecureServer(t, certFile, keyFile)
	for _, c := range secureClients {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if err := c.installed(); err != nil {
				t.Fatalf("%s is not installed (%v): run `make deps`", c.name, err)
			}
			exerciseSecure(t, s, c, certFile, pool)
		})
	}
}

func exerciseSecure(t *testing.T, s *server.Server, c client, certFile string, pool *x509.CertPool) {
	channel := "secure-" + c.name
	content := compressibleContent(c.name)
	cmd := c.command(fmt.Sprintf("wss://%s/ws", s.Addr()), channel)
	cmd.Args = append(cmd.Args, certFile, content)
	out := runScript(t, cmd)
	out.expectPrefix(t, "extensions permessage-deflate")
	out.expect(t, "joined")
	broadcastTLS(t, s, pool, channel, content)
	want := fmt.Sprintf(`{"channel":%q,"content":%s}`, channel, content)
	out.expect(t, "received "+want)
	out.expect(t, "echoed "+want)
	out.expect(t, c.closed)
	if err := out.wait(); err != nil {
		t.Fatalf("%s: %v\nstderr:\n%s", c.name, err, out.stderr.String())
	}
}

// compressibleContent is JSON well over the size the server compresses,
// with non-ASCII text so UTF-8 goes through deflate both ways.
func compressibleContent(name string) string {
	items := make([]string, 40)
	for i := range items {
		items[i] = fmt.Sprintf(`{"to":%q,"text":"héllo wörld","n":%d}`, name, i)
	}
	return "[" + strings.Join(items, ",") + "]"
}

func (sc *script) expectPrefix(t *testing.T, prefix string) {
	t.Helper()
	select {
	case got, ok := <-sc.lines:
		if !ok || !strings.HasPrefix(got, prefix) {
			t.Fatalf("%s printed %q (open %v), want a line starting %q\nstderr:\n%s", sc.cmd, got, ok, prefix, sc.stderr.String())
		}
	case <-time.After(45 * time.Second):
		t.Fatalf("%s printed nothing for 45s, waiting for %q\nstderr:\n%s", sc.cmd, prefix, sc.stderr.String())
	}
}

// broadcastTLS posts content to channel through POST /broadcast over https.
func broadcastTLS(t *testing.T, s *server.Server, pool *x509.CertPool, channel, content string) {
	t.Helper()
	hc := http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
	body := fmt.Sprintf(`{"channel":%q,"content":%s}`, channel, content)
	resp, err := hc.Post(fmt.Sprintf("https://%s/broadcast", s.Addr()), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST /broadcast: %d %s", resp.StatusCode, b)
	}
}

func startSecureServer(t *testing.T, certFile, keyFile string) *server.Server {
	t.Helper()
	s, err := server.New(server.Config{Addr: "127.0.0.1:0", TLSCertFile: certFile, TLSKeyFile: keyFile,
		Compression: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s
}

// testCertificate writes a self-signed certificate for 127.0.0.1 and its
// key as PEM files and returns them with a pool that trusts it.
func testCertificate(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wsify interop"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	leaf, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(leaf)
	return certFile, keyFile, pool
}
