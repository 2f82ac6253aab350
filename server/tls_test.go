package server_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/server"
	"github.com/wsify/wsify/server/servertest"
)

func TestTLSJoinBroadcastRoundTrip(t *testing.T) {
	s := startTLS(t, server.Config{})
	a, b := dialWSS(t, s), dialWSS(t, s)
	ch := freshChannel("tls")
	joinSync(t, a, ch)
	joinSync(t, b, ch)
	send(t, a, broadcastCmd(ch, `{"n":1}`))
	expect(t, a, delivery(ch, `{"n":1}`))
	expect(t, b, delivery(ch, `{"n":1}`))
	send(t, b, `{"command":"leave","args":{"channel":"`+ch+`"},"id":7}`)
	expect(t, b, `{"id":7,"ok":true}`)
}

func TestTLS12ClientRoundTrip(t *testing.T) {
	s := startTLS(t, server.Config{})
	c := dialWSS(t, s, func(d *websocket.Dialer) { d.TLSClientConfig.MaxVersion = tls.VersionTLS12 })
	ch := freshChannel("tls12")
	joinSync(t, c, ch)
	send(t, c, broadcastCmd(ch, `"twelve"`))
	expect(t, c, delivery(ch, `"twelve"`))
}

// Requests that are not an upgrade go to fasthttp over the same TLS
// connection, keep-alive included. (Not /healthz: the event loop answers
// a lone health check itself and closes.)
func TestTLSKeepAliveHTTPSRequests(t *testing.T) {
	s := startTLS(t, server.Config{})
	tr := &http.Transport{TLSClientConfig: clientTLS(t), MaxConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Timeout: 5 * time.Second, Transport: tr}
	for range 3 {
		if resp, _ := do(t, http.MethodGet, "https://"+s.Addr().String()+"/stats", "", "", hc); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /stats: %d", resp.StatusCode)
		}
	}
	if n := s.Stats().Accepted; n != 1 {
		t.Fatalf("%d connections accepted for 3 keep-alive requests, want 1", n)
	}
}

func TestTLSPostBroadcastOverHTTPS(t *testing.T) {
	s := startTLS(t, server.Config{})
	sub := dialWSS(t, s)
	ch := freshChannel("https")
	joinSync(t, sub, ch)
	hc, base := httpsClient(t), "https://"+s.Addr().String()
	resp, body := do(t, http.MethodPost, base+"/broadcast", "application/json", fmt.Sprintf(`{"channel":%q,"content":"hi"}`, ch), hc)
	if resp.StatusCode != http.StatusCreated || body != `{"ok":true,"receivers":1}` {
		t.Fatalf("POST /broadcast over https: %d %s", resp.StatusCode, body)
	}
	expect(t, sub, delivery(ch, `"hi"`))
	if resp, body := do(t, http.MethodGet, base+"/healthz", "", "", hc); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz over https: %d %s", resp.StatusCode, body)
	}
}

// A client that speaks plain TCP to the TLS port is dropped: a plain HTTP
// request gets a plain 400, anything else the door; TLS clients go on.
func TestTLSPlainClientsAreDroppedWithoutHurtingOthers(t *testing.T) {
	s := startTLS(t, server.Config{})
	ok := dialWSS(t, s)
	ch := freshChannel("plain")
	joinSync(t, ok, ch)

	r := rawDialTCP(t, s)
	r.write(handshakeRequest(s.Addr().String()))
	r.nc.SetReadDeadline(time.Now().Add(rawTimeout))
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain upgrade request on the TLS port: %v %v", resp, err)
	}
	if body, _ := io.ReadAll(resp.Body); !strings.Contains(string(body), "TLS") {
		t.Fatalf("400 body %q does not say the port speaks TLS", body)
	}
	r.expectEOF()

	g := rawDialTCP(t, s)
	g.write([]byte{0x16, 0x09, 0x09, 0, 0, 1, 2, 3}) // a handshake record of no TLS version
	g.expectEOF()
	z := rawDialTCP(t, s)
	z.write([]byte("\x00\x01garbage"))
	z.expectEOF()

	send(t, ok, broadcastCmd(ch, `"still here"`))
	expect(t, ok, delivery(ch, `"still here"`))
}

// Stalled handshakes, more of them than workers and handshake slots, hold
// no slot: other clients complete theirs meanwhile, and the stallers are
// dropped at the handshake timeout with their goroutines gone.
func TestTLSStalledHandshakesHoldNoSlotAndAreDropped(t *testing.T) {
	s := startTLS(t, server.Config{Workers: 2, TLSHandshakes: 1, HandshakeTimeout: 3 * time.Second})
	hello := clientHello(t)
	g0 := runtime.NumGoroutine()
	var stallers []*rawConn
	for i := range 9 {
		r := rawDialTCP(t, s)
		switch i % 3 {
		case 0: // connects and sends nothing
		case 1: // half a ClientHello
			r.write(hello[:len(hello)/2])
		case 2: // a whole ClientHello, then silence: the handshake waits
			r.write(hello)
		}
		stallers = append(stallers, r)
	}
	eventually(t, "the stallers to be accepted", func() bool { return s.Stats().Sockets == len(stallers) })

	c := dialWSS(t, s)
	ch := freshChannel("stall")
	joinSync(t, c, ch)
	if n := s.Stats().Sockets; n != len(stallers)+1 {
		t.Fatalf("%d sockets while a client was served, want the %d stallers still held too", n, len(stallers))
	}

	eventually(t, "the stallers to be dropped", func() bool { return s.Stats().Sockets == 1 })
	for _, r := range stallers {
		r.nc.SetReadDeadline(time.Now().Add(rawTimeout))
		if _, err := io.Copy(io.Discard, r.nc); err != nil && !isClosed(err) {
			t.Fatalf("staller not closed: %v", err)
		}
	}
	eventually(t, "the handshake goroutines to end", func() bool { return runtime.NumGoroutine() <= g0 })
	send(t, c, broadcastCmd(ch, `1`))
	expect(t, c, delivery(ch, `1`))
}

// Messages of 64 KiB and around the TLS record size go both ways.
func TestTLSBigMessagesBothWays(t *testing.T) {
	s := startTLS(t, server.Config{MaxMessageBytes: 1 << 20})
	a, b := dialWSS(t, s), dialWSS(t, s)
	ch := freshChannel("big")
	joinSync(t, a, ch)
	joinSync(t, b, ch)
	for _, n := range []int{1, 4095, 4096, 16383, 16384, 16385, 64 << 10, 200 << 10} {
		content := `"` + strings.Repeat(string(rune('a'+n%26)), n) + `"`
		send(t, a, broadcastCmd(ch, content))
		expect(t, a, delivery(ch, content))
		expect(t, b, delivery(ch, content))
	}
}

// Fragmented messages, with a ping between fragments, reassemble over TLS,
// small and large.
func TestTLSFragmentedFrames(t *testing.T) {
	s := startTLS(t, server.Config{MaxMessageBytes: 1 << 20})
	r := rawDialTLS(t, s)
	ch := freshChannel("frag")
	rawJoin(r, ch)
	for _, size := range []int{3, 40 << 10} {
		content := `"` + strings.Repeat("f", size) + `"`
		msg := broadcastCmd(ch, content)
		third := len(msg) / 3
		parts := fragments(opText, msg, third, 2*third)
		r.write(parts[0], frame(opPing, "between"), parts[1], parts[2])
		r.expectFrame(opPong, "between")
		r.expectText(delivery(ch, content))
	}
	r.write(frame(opClose, string(closeBody(1000, ""))))
	r.expectClose(1000)
}

// A TLS subscriber that does not read is closed at the outbox limit, which
// counts its ciphertext, and the publisher never waits for it.
func TestTLSSlowConsumerIsClosed(t *testing.T) {
	s := startTLS(t, server.Config{OutboxBytes: 128 << 10})
	r := newRawConn(t, dialTLSSmallWindow(t, s))
	r.handshake()
	ch := freshChannel("slow")
	rawJoin(r, ch)
	content := []byte(`"` + strings.Repeat("s", 4000) + `"`)
	for i := 0; s.Stats().SlowConsumers == 0; i++ {
		if i > 20000 {
			t.Fatal("the subscriber that does not read was never closed")
		}
		s.Publish([]byte(ch), content)
	}
	eventually(t, "the slow consumer to go", func() bool { return s.Stats().Sockets == 0 })
	servesClient(t, dialWSS(t, s))
}

// The authorizer pauses a connection per command; a TLS record holding many
// commands leaves some decrypted in crypto/tls, where no epoll event will
// announce them. They must still all run, in order.
func TestTLSCommandsBufferedInCryptoTLSRunAfterPauses(t *testing.T) {
	a := newAuthorizer(t, func(*authRequest) int { return http.StatusOK })
	cfg := a.config(2 * time.Second)
	cfg.MaxChannels, cfg.JoinRateLimit = -1, -1 // 150 channels at once: this test is about TLS, not limits
	s := startTLS(t, cfg)
	r := rawDialTLS(t, s)
	var burst bytes.Buffer
	const n = 150
	for i := range n {
		burst.Write(frame(opText, joinCmd(fmt.Sprintf("c%d", i), fmt.Sprint(i))))
	}
	if burst.Len() < 8<<10 || burst.Len() > 16<<10 {
		t.Fatalf("burst of %d bytes: want it above the read buffer and within one TLS record", burst.Len())
	}
	r.write(burst.Bytes())
	for i := range n {
		r.expectText(okReply(fmt.Sprint(i)))
	}
}

// A close the server starts reaches a TLS client whole, its replies
// before it, even while the client keeps sending.
func TestTLSServerCloseReachesAClientStillSending(t *testing.T) {
	s := startTLS(t, server.Config{MaxMessageBytes: 1024})
	expect1009WhileSending(rawDialTLS(t, s), 100, nil)
}

func TestTLSShutdownCloses1001(t *testing.T) {
	s := startTLS(t, server.Config{})
	c := dialWSS(t, s)
	joinSync(t, c, freshChannel("bye"))
	go s.Shutdown(t.Context())
	expectClose(t, c, websocket.CloseGoingAway)
}

// dialTLSSmallWindow is a TLS connection with a 4 KiB receive buffer set
// before connect.
func dialTLSSmallWindow(t testing.TB, s *server.Server) *tls.Conn {
	t.Helper()
	raw := dialSmallWindowTCP(t, s)
	c := tls.Client(raw, &tls.Config{RootCAs: servertest.SelfSigned(t).Pool, ServerName: "127.0.0.1"})
	c.SetDeadline(time.Now().Add(rawTimeout))
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Time{})
	return c
}
