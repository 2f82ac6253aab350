package interop

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wsify/wsify/server"
	"github.com/wsify/wsify/server/servertest"
)

// The third-party clients run their scripts over wss:// with
// permessage-deflate: each must accept the test's certificate, negotiate
// compression (the server imposes no context takeover both ways, which
// Chromium and Python do not offer), read a compressed broadcast and send
// a compressed one of its own.
func TestThirdPartyClientsOverTLSWithCompression(t *testing.T) {
	cert := servertest.SelfSigned(t)
	s := servertest.Start(t, server.Config{TLSCertFile: cert.CertFile, TLSKeyFile: cert.KeyFile, Compression: true})
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			exerciseSecure(t, s, c, cert)
		})
	}
}

func exerciseSecure(t *testing.T, s *server.Server, c client, cert servertest.Cert) {
	channel := "secure-" + c.name
	content := compressibleContent(c.name)
	out := c.start(t, fmt.Sprintf("wss://%s/ws", s.Addr()), channel, cert.CertFile, content)
	out.expectPrefix(t, "extensions permessage-deflate")
	out.expect(t, "joined")
	broadcast(t, fmt.Sprintf("https://%s", s.Addr()), cert.Pool, channel, content)
	want := fmt.Sprintf(`{"channel":%q,"content":%s}`, channel, content)
	out.expect(t, "received "+want)
	out.expect(t, "echoed "+want)
	out.finish(t, c)
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
