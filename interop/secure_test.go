package interop

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsify/wsify/server"
	"github.com/wsify/wsify/server/servertest"
)

// The third-party clients run their secure scripts over wss:// with
// permessage-deflate: each must accept the test's certificate, negotiate
// compression (the server imposes no context takeover both ways, which
// Chromium and Python do not offer), read a compressed broadcast and send
// a compressed one of its own.
func TestThirdPartyClientsOverTLSWithCompression(t *testing.T) {
	cert := servertest.SelfSigned(t)
	s := servertest.Start(t, server.Config{TLSCertFile: cert.CertFile, TLSKeyFile: cert.KeyFile, Compression: true})
	for _, c := range clients { // their secure scripts
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if err := c.installed(); err != nil {
				t.Fatalf("%s is not installed (%v): run `make deps`", c.name, err)
			}
			exerciseSecure(t, s, c, cert.CertFile, cert.Pool)
		})
	}
}

func exerciseSecure(t *testing.T, s *server.Server, c client, certFile string, pool *x509.CertPool) {
	channel := "secure-" + c.name
	content := compressibleContent(c.name)
	cmd := c.command(fmt.Sprintf("wss://%s/ws", s.Addr()), channel, true)
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
