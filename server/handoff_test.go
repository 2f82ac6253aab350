package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/events"
	"github.com/wsify/wsify/internal/brokertest"
	"github.com/wsify/wsify/server"
	"github.com/wsify/wsify/server/servertest"
)

// takeOver starts a server that takes old's sockets over on path and
// waits until old has handed everything over.
func takeOver(t testing.TB, old *server.Server, path string, cfg server.Config) *server.Server {
	t.Helper()
	cfg.TakeoverFrom, cfg.ControlSocket = path, path
	s := start(t, cfg)
	select {
	case <-old.HandedOver():
	case <-time.After(30 * time.Second):
		t.Fatal("the old server did not finish the handoff")
	}
	return s
}

func controlPath(t testing.TB) string { return filepath.Join(t.TempDir(), "control.sock") }

// TestHandoffKeepsConnections: a new server takes the listener and joined
// connections of a running one; the clients stay connected, keep their
// channels, and get publications made on the new one.
func TestHandoffKeepsConnections(t *testing.T) {
	path := controlPath(t)
	old := start(t, server.Config{ControlSocket: path})
	clients := make([]*websocket.Conn, 20)
	for i := range clients {
		clients[i] = dial(t, old)
		joinSync(t, clients[i], "a")
	}
	nu := takeOver(t, old, path, server.Config{})
	if nu.Addr() != old.Addr() {
		t.Fatalf("the new server listens on %v, the old one did on %v", nu.Addr(), old.Addr())
	}
	postToChannel(t, nu, "a", `"after"`)
	for _, c := range clients {
		expect(t, c, `{"channel":"a","content":"after"}`)
	}
	send(t, clients[0], `{"command":"broadcast","args":{"channel":"a","content":1},"id":"b"}`)
	for _, c := range clients {
		expect(t, c, `{"channel":"a","content":1}`)
	}
	expect(t, clients[0], fmt.Sprintf(`{"id":"b","ok":true,"receivers":%d}`, len(clients)))
	fresh := dial(t, nu)
	joinSync(t, fresh, "a")
	if h := nu.Stats().Handoff; h.Taken != uint64(len(clients)) {
		t.Fatalf("the new server counts %d connections taken over, want %d", h.Taken, len(clients))
	}
	if _, body := get(t, httpURL(nu, "/metrics")); !strings.Contains(body, `wsify_handoff_connections_total{direction="taken"} 20`) {
		t.Fatal("/metrics does not count the connections taken over")
	}
}

// TestHandoffMidFrame: a connection handed over with half a frame read
// and one with the first fragments of a message read finish them on the
// new server, which runs both commands once.
func TestHandoffMidFrame(t *testing.T) {
	path := controlPath(t)
	old := start(t, server.Config{ControlSocket: path})
	half := rawDial(t, old)
	half.write(frame(opText, `{"command":"join","args":{"channel":"a"},"id":"j"}`))
	half.expectText(`{"id":"j","ok":true}`)
	bc := frame(opText, `{"command":"broadcast","args":{"channel":"a","content":"whole"},"id":"b"}`)
	cut := len(bc) / 2
	// One write: the server reads the ping and the half frame together, so
	// the pong says the half frame is read.
	half.write(append(frame(opPing, "p"), bc[:cut]...))
	half.expectFrame(opPong, "p")

	frag := rawDial(t, old)
	frag.write(frame(opText, `{"command":"join","args":{"channel":"a"},"id":"j"}`))
	frag.expectText(`{"id":"j","ok":true}`)
	pieces := fragments(opText, `{"command":"broadcast","args":{"channel":"a","content":"pieces"},"id":"f"}`, 20, 40)
	frag.write(pieces[0], pieces[1], frame(opPing, "q")) // a ping may come between fragments
	frag.expectFrame(opPong, "q")

	takeOver(t, old, path, server.Config{})
	if _, unparsed, _, fragmented := server.HandoffCounts(old); unparsed == 0 || fragmented != 1 {
		t.Fatalf("handed over %d bytes unparsed and %d messages begun: the test did not cut a frame and a message", unparsed, fragmented)
	}
	half.write(bc[cut:])
	half.expectText(`{"channel":"a","content":"whole"}`)
	half.expectText(`{"id":"b","ok":true,"receivers":2}`)
	frag.expectText(`{"channel":"a","content":"whole"}`)
	frag.write(pieces[2])
	frag.expectText(`{"channel":"a","content":"pieces"}`)
	frag.expectText(`{"id":"f","ok":true,"receivers":2}`)
	half.expectText(`{"channel":"a","content":"pieces"}`)
}

// TestHandoffHalfWrittenOutbox: a subscriber that does not read has
// publications queued and a frame half written when it is handed over;
// once it reads it gets every one, whole, once, in order, then those of
// the new server.
func TestHandoffHalfWrittenOutbox(t *testing.T) {
	path := controlPath(t)
	old := start(t, server.Config{ControlSocket: path, OutboxBytes: 32 << 20})
	slow := dialSmallWindow(t, old)
	slow.write(frame(opText, `{"command":"join","args":{"channel":"slow"},"id":"j"}`))
	slow.expectText(`{"id":"j","ok":true}`)
	const n = 128 // of about 60 KB: more than the kernel's buffers hold
	pad := strings.Repeat("x", 60000)
	msg := func(i int) string { return fmt.Sprintf(`{"i":%d,"pad":%q}`, i, pad) }
	for i := range n {
		postToChannel(t, old, "slow", msg(i))
	}
	nu := takeOver(t, old, path, server.Config{OutboxBytes: 32 << 20})
	if _, _, unsent, _ := server.HandoffCounts(old); unsent == 0 {
		t.Fatal("nothing was left unsent at the handoff: the test did not fill the socket")
	}
	postToChannel(t, nu, "slow", msg(n))
	for i := range n + 1 {
		slow.expectText(`{"channel":"slow","content":` + msg(i) + `}`)
	}
}

// TestHandoffPublicationsInFlight: publications made while the handoff
// runs, by POST on fresh connections that land on either server and by
// clients broadcasting from connections handed over at any moment, reach
// every subscriber once and in order, and no connection closes and no
// POST or upgrade fails.
func TestHandoffPublicationsInFlight(t *testing.T) {
	defer server.SlowHandoff(5, 10*time.Millisecond)() // 20 batches over 200ms at least
	path := controlPath(t)
	old := start(t, server.Config{ControlSocket: path})
	const subs, active = 100, 10
	subscribers := liveSubscribers(t, old, subs, active)
	addr := old.Addr().String()
	p := startPoster(t, "post", addr, "live", 5*time.Millisecond)
	up := startUpgrader(t, addr, 5*time.Millisecond)
	eventually(t, "publications before the handoff", func() bool { return p.sent() >= 40 })
	takeOver(t, old, path, server.Config{})
	at := p.sent()
	eventually(t, "publications after the handoff", func() bool { return p.sent() >= at+40 })
	want := stopPublishers(t, p, up, subscribers[:active])
	for i, s := range subscribers {
		s.waitFor(t, want, fmt.Sprintf("subscriber %d", i))
	}
	t.Logf("publications: %v; %d by POST before the handoff ended; %d upgrades", want, at, up.n.Load())
}

// TestHandoffKeepsFilters: publications narrowed with except (POSTs) and
// to (the broadcasts of the connection handed over last, which go on while
// the others already wait in the new process) reach every subscriber but
// the one they leave out, exactly once and in order: the filter travels
// with them, and the connection keeps its id.
func TestHandoffKeepsFilters(t *testing.T) {
	defer server.SlowHandoff(5, 10*time.Millisecond)()
	a := newPresenceAuthorizer(t)
	path := controlPath(t)
	cfg := server.Config{Auth: auth.Config{URL: a.srv.URL}}
	withSocket := cfg
	withSocket.ControlSocket = path
	old := start(t, withSocket)
	var subs []*subscriber
	var excluded string
	for i := range 100 {
		as := "u"
		if i == 0 {
			as = "x" // left out of every publication
		}
		c := mustDialQuery(t, old, "as="+as)
		joinSync(t, c, "live")
		if i == 0 {
			send(t, c, `{"command":"whoami","args":{},"id":"w"}`)
			var me struct{ Client string }
			if err := json.Unmarshal([]byte(recv(t, c)), &me); err != nil || me.Client == "" {
				t.Fatalf("whoami: %v", err)
			}
			excluded = me.Client
		}
		subs = append(subs, watch(t, c))
	}
	last := subs[len(subs)-1]
	go broadcastEveryWith(t, last.c, "to-u", `,"to":["u"]`, 2*time.Millisecond, last)
	addr := old.Addr().String()
	p := startPosterWith(t, "except-x", addr, "live", `,"except":`+strconv.Quote(excluded), 5*time.Millisecond)
	eventually(t, "publications before the handoff", func() bool { return p.sent() >= 20 })
	takeOver(t, old, path, cfg)
	at := p.sent()
	eventually(t, "publications after the handoff", func() bool { return p.sent() >= at+20 })
	p.halt()
	if p.err != nil {
		t.Fatal(p.err)
	}
	last.mu.Lock()
	last.stopSending = true
	last.mu.Unlock()
	<-last.stopped
	want := map[string]int{"except-x": int(p.sent()), "to-u": last.sent}
	for i, s := range subs[1:] {
		s.waitFor(t, want, fmt.Sprintf("subscriber %d", i+1))
	}
	if code, body := post(t, "http://"+addr+"/broadcast", "application/json", `{"channel":"live","content":{"p":"marker","i":0}}`); code != 201 {
		t.Fatalf("marker: %d %s", code, body)
	}
	subs[0].waitFor(t, map[string]int{"marker": 1}, "the subscriber left out (nothing narrowed, then the marker)")
	body := `{"client":` + strconv.Quote(excluded) + `}`
	if code, answer := post(t, "http://"+addr+"/disconnect", "application/json", body); code != 200 || answer != `{"ok":true,"disconnected":1}` {
		t.Fatalf("POST /disconnect of a connection taken over, by its id: %d %s", code, answer)
	}
}

// TestHandoffDrainsTLSConnections: TLS connections cannot change process
// (their crypto state is the old one's); in a handoff they get the gentle
// drain: what was queued, then close 1001 with a reconnect delay within
// the drain period. The new process serves TLS on the same listener.
func TestHandoffDrainsTLSConnections(t *testing.T) {
	const period = 500 * time.Millisecond
	path := controlPath(t)
	cfg := server.Config{ControlSocket: path, DrainPeriod: period}
	old := startTLS(t, cfg)
	clients := make([]*websocket.Conn, 5)
	for i := range clients {
		clients[i] = dialWSS(t, old)
		joinSync(t, clients[i], "a")
	}
	postTLS(t, old, "a", `"queued"`)
	began := time.Now()
	results := make(chan drained, len(clients))
	for _, c := range clients {
		go func() { results <- readUntilClose(c, began) }()
	}
	c := servertest.SelfSigned(t)
	cfg.TLSCertFile, cfg.TLSKeyFile = c.CertFile, c.KeyFile
	nu := takeOver(t, old, path, cfg)
	for range clients {
		r := <-results
		if r.err != nil || r.code != websocket.CloseGoingAway || r.received != 1 {
			t.Fatalf("a TLS client got %d publications, then close %d %q (%v)", r.received, r.code, r.reason, r.err)
		}
		var reason struct {
			DelayMS int64 `json:"delay_ms"`
		}
		if err := json.Unmarshal([]byte(r.reason), &reason); err != nil || reason.DelayMS < 0 || reason.DelayMS > period.Milliseconds() {
			t.Fatalf("close reason %q: want a delay_ms from 0 to %d", r.reason, period.Milliseconds())
		}
	}
	if conns, _, _, _ := server.HandoffCounts(old); conns != 0 {
		t.Fatalf("%d TLS connections handed over", conns)
	}
	fresh := dialWSS(t, nu)
	joinSync(t, fresh, "a")
	postTLS(t, nu, "a", `"new"`)
	expect(t, fresh, `{"channel":"a","content":"new"}`)
}

// postTLS publishes by POST /broadcast over https and wants 201.
func postTLS(t testing.TB, s *server.Server, channel, content string) {
	t.Helper()
	body := fmt.Sprintf(`{"channel":%q,"content":%s}`, channel, content)
	resp, err := httpsClient(t).Post(fmt.Sprintf("https://%s/broadcast", s.Addr()), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("POST /broadcast: %s", resp.Status)
	}
}

// TestHandoffWithRedis: with a networked broker, the publications of
// another node made all along the handoff, those of the old and the new
// process, and the clients' broadcasts, reach every subscriber once and
// in order, across the switch from the old process's subscription to the
// new one's.
func TestHandoffWithRedis(t *testing.T) {
	defer server.SlowHandoff(5, 10*time.Millisecond)()
	r := brokertest.StartRedis(t)
	bcfg := broker.Config{Driver: "redis", URL: r.URL()}
	path := controlPath(t)
	old := start(t, server.Config{ControlSocket: path, Broker: bcfg})
	other := start(t, server.Config{Broker: bcfg})
	const subs, active = 60, 6
	subscribers := liveSubscribers(t, old, subs, active)
	remote := startPoster(t, "remote", other.Addr().String(), "live", 2*time.Millisecond)
	local := startPoster(t, "post", old.Addr().String(), "live", 5*time.Millisecond)
	up := startUpgrader(t, old.Addr().String(), 5*time.Millisecond)
	eventually(t, "publications before the handoff", func() bool { return remote.sent() >= 50 && local.sent() >= 20 })
	takeOver(t, old, path, server.Config{Broker: bcfg})
	at := remote.sent()
	eventually(t, "publications after the handoff", func() bool { return remote.sent() >= at+100 })
	remote.halt()
	if remote.err != nil {
		t.Fatal(remote.err)
	}
	want := stopPublishers(t, local, up, subscribers[:active])
	want["remote"] = int(remote.n.Load())
	for i, s := range subscribers {
		s.waitFor(t, want, fmt.Sprintf("subscriber %d", i))
	}
	t.Logf("publications: %v", want)
}

// TestHandoffKeepsHistory: a memory history moves with its epoch,
// offsets and kept publications: the new process numbers on, and a client
// recovers there from an offset the old one gave.
func TestHandoffKeepsHistory(t *testing.T) {
	path := controlPath(t)
	old := historyServer(t, server.Config{ControlSocket: path})
	c := dial(t, old)
	p := joinAt(t, c, "news", "")
	for i := 1; i <= 2; i++ {
		postAt(t, old, "news", fmt.Sprint(i))
		expect(t, c, fmt.Sprintf(`{"channel":"news","offset":%d,"content":%d}`, i, i))
	}
	nu := takeOver(t, old, path, server.Config{HistorySize: 100, HistoryTTL: time.Minute})
	if q := postAt(t, nu, "news", `3`); q.Offset != 3 || q.Epoch != p.Epoch {
		t.Fatalf("the new process published at %d in %q, want 3 in %q", q.Offset, q.Epoch, p.Epoch)
	}
	expect(t, c, `{"channel":"news","offset":3,"content":3}`)
	d := dial(t, nu)
	if r := joinAt(t, d, "news", sinceOf(1, p.Epoch)); r.Recovered == nil || !*r.Recovered || r.Offset != 3 || r.Epoch != p.Epoch {
		t.Fatalf("recovering join on the new process: %+v", r)
	}
	for i := 2; i <= 3; i++ {
		expect(t, d, fmt.Sprintf(`{"channel":"news","offset":%d,"content":%d}`, i, i))
	}
}

// TestHandoffKeepsIdentityAndCompression: a connection handed over keeps
// its client id and the authorizer's identity, which its later commands
// carry to the authorizer and its lifecycle events to the webhook (no
// disconnect, no second connect), and its permessage-deflate.
func TestHandoffKeepsIdentityAndCompression(t *testing.T) {
	var mu sync.Mutex
	var seen []string // client id and user of every command body
	authz := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			Command string
			Client  struct{ ID, User string }
		}
		json.NewDecoder(r.Body).Decode(&m)
		if m.Command == "connect" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"user":"alice","info":{"name":"Alice"}}`)
			return
		}
		mu.Lock()
		seen = append(seen, m.Client.ID+" "+m.Client.User)
		mu.Unlock()
	}))
	t.Cleanup(authz.Close)
	e := newEventEndpoint(t, nil)
	path := controlPath(t)
	cfg := server.Config{Auth: auth.Config{URL: authz.URL}, Compression: true,
		Events: events.Config{URL: e.srv.URL, MaxDelay: 10 * time.Millisecond, Grace: -1}}
	oldCfg := cfg
	oldCfg.ControlSocket = path
	old := start(t, oldCfg)
	r := rawDialTCP(t, old)
	r.handshake("Sec-WebSocket-Extensions: permessage-deflate")
	r.write(frame(opText, `{"command":"join","args":{"channel":"a"},"id":"j"}`))
	r.expectText(`{"id":"j","ok":true}`)
	nu := takeOver(t, old, path, cfg)
	r.write(frame(opText, `{"command":"join","args":{"channel":"b"},"id":"j"}`))
	r.expectText(`{"id":"j","ok":true}`)
	mu.Lock()
	if len(seen) != 2 || seen[0] != seen[1] || !strings.HasSuffix(seen[0], " alice") {
		t.Fatalf("the authorizer saw the commands of %q, want one client id, user alice", seen)
	}
	mu.Unlock()
	eventually(t, "the connect and the two joins", func() bool { evs, _, _ := e.all(); return len(evs) >= 3 })
	evs, _, _ := e.all()
	if len(evs) != 3 || evs[0].Kind != events.Connect || evs[2].Kind != events.Join || evs[2].Channel != "b" ||
		evs[2].Client != evs[0].Client || evs[2].User != "alice" {
		t.Fatalf("events %+v: want a connect, then joins of a and b by the same client, user alice", evs)
	}
	content := `"` + strings.Repeat("compressible ", 100) + `"`
	postToChannel(t, nu, "b", content)
	if b0, _, err := r.readWireFrame(); err != nil || b0&0x40 == 0 {
		t.Fatalf("a publication on the new process came without RSV1 (first byte %#x, %v): not compressed", b0, err)
	}
}

// TestHandoffPassesTheAdminListener: the admin address's socket goes to
// the new process, which serves the operator endpoints on it.
func TestHandoffPassesTheAdminListener(t *testing.T) {
	path := controlPath(t)
	old := start(t, server.Config{ControlSocket: path, AdminAddr: "127.0.0.1:0"})
	nu := takeOver(t, old, path, server.Config{AdminAddr: "127.0.0.1:0"})
	if nu.AdminAddr() != old.AdminAddr() {
		t.Fatalf("the new process's admin address is %v, the old one's was %v", nu.AdminAddr(), old.AdminAddr())
	}
	if code, _ := get(t, fmt.Sprintf("http://%s/stats", nu.AdminAddr())); code != http.StatusOK {
		t.Fatalf("GET /stats on the admin address: %d", code)
	}
}

// TestHandoffKeepsPresence: the connections handed over stay present in
// their channels, and nobody hears them leave or join again.
func TestHandoffKeepsPresence(t *testing.T) {
	path := controlPath(t)
	old := start(t, server.Config{ControlSocket: path, Presence: true})
	a, b := dial(t, old), dial(t, old)
	joinSync(t, a, "room")
	joinSync(t, b, "room")
	nu := takeOver(t, old, path, server.Config{Presence: true})
	c := dial(t, nu)
	joinSync(t, c, "room")
	send(t, c, `{"command":"presence_stats","args":{"channel":"room"},"id":"p"}`)
	if got := recv(t, c); !strings.Contains(got, `"clients":3`) {
		t.Fatalf("presence_stats after the handoff: %s, want 3 clients", got)
	}
}
