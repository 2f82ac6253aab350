package server_test

import (
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/server"
	"github.com/wsify/wsify/server/servertest"
)

// The tests of protected mode need a client that is not loopback, and a
// test may only talk to loopback. So the server is told (RemoteClient) to
// take one loopback source, remoteIP, as remote, and the "remote" clients
// bind to it; the decision on real addresses of every kind is checked by
// TestLoopbackIsDecidedByTheAddressOnly.

const pubMsg = `{"channel":"p","content":1}`

// TestProtectedModeKeepsOperatorEndpointsToLoopback: by default, with no
// broadcast key and no admin address, a remote client gets 403 from every
// operator endpoint and can still connect and probe; loopback clients are
// served as before, and the start-up log says so once.
func TestProtectedModeKeepsOperatorEndpointsToLoopback(t *testing.T) {
	logs := &servertest.SyncBuffer{}
	s := startRemote(t, server.Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	remote, local := remoteBase(t, s), "http://127.0.0.1:"+strconv.Itoa(int(s.Addr().Port()))
	sub := mustDialURL(t, strings.Replace(remote, "http", "ws", 1)+"/ws")
	joinSync(t, sub, "p")
	for _, path := range []string{"/stats", "/metrics", "/", "/index.html", "/console.json", "/wsify.js"} {
		resp, body := do(t, http.MethodGet, remote+path, "", "", direct)
		expectProtected(t, "GET "+path, resp.StatusCode, body)
	}
	resp, body := do(t, http.MethodPost, remote+"/broadcast", "application/json", `{"channel":"p","content":"remote"}`, direct)
	expectProtected(t, "POST /broadcast", resp.StatusCode, body)
	resp, body = do(t, http.MethodGet, remote+"/healthz", "", "", direct)
	expectJSON(t, resp.StatusCode, body, http.StatusOK)
	for _, path := range []string{"/stats", "/metrics", "/", "/console.json"} {
		if status, _ := get(t, local+path); status != http.StatusOK {
			t.Errorf("loopback GET %s: %d, want 200", path, status)
		}
	}
	status, body := post(t, local+"/broadcast", "application/json", pubMsg)
	expectJSON(t, status, body, http.StatusCreated)
	expect(t, sub, pubMsg) // the first delivery: the remote POST published nothing
	if n := strings.Count(logs.String(), "protected mode"); n != 1 {
		t.Errorf("%d start-up lines about protected mode, want 1:\n%s", n, logs)
	}
}

// TestBroadcastKeyGuardsBroadcastFromAnywhere: with a key, POST /broadcast
// answers any client that has it, while /stats and /metrics stay loopback
// only.
func TestBroadcastKeyGuardsBroadcastFromAnywhere(t *testing.T) {
	s := startRemote(t, server.Config{BroadcastKey: "k"})
	remote := remoteBase(t, s)
	resp, body := do(t, http.MethodPost, remote+"/broadcast?key=k", "application/json", pubMsg, direct)
	expectJSON(t, resp.StatusCode, body, http.StatusCreated)
	resp, body = do(t, http.MethodPost, remote+"/broadcast", "application/json", pubMsg, direct)
	expectHTTPError(t, resp.StatusCode, body, http.StatusForbidden, "forbidden")
	if strings.Contains(body, "protected mode") {
		t.Errorf("a missing key refused as protected mode: %s", body)
	}
	for _, path := range []string{"/stats", "/metrics"} {
		resp, body := do(t, http.MethodGet, remote+path+"?key=k", "", "", direct)
		expectProtected(t, "GET "+path, resp.StatusCode, body)
	}
}

// TestOperatorPublicOpensTheEndpoints: the operator can open them all, and
// then the server says nothing about protected mode.
func TestOperatorPublicOpensTheEndpoints(t *testing.T) {
	logs := &servertest.SyncBuffer{}
	s := startRemote(t, server.Config{OperatorPublic: true, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	remote := remoteBase(t, s)
	for _, path := range []string{"/stats", "/metrics", "/", "/console.json"} {
		if resp, body := do(t, http.MethodGet, remote+path, "", "", direct); resp.StatusCode != http.StatusOK {
			t.Errorf("remote GET %s: %d %.80q, want 200", path, resp.StatusCode, body)
		}
	}
	resp, body := do(t, http.MethodPost, remote+"/broadcast", "application/json", pubMsg, direct)
	expectJSON(t, resp.StatusCode, body, http.StatusCreated)
	if strings.Contains(logs.String(), "protected mode") {
		t.Errorf("protected mode logged with the endpoints open:\n%s", logs)
	}
}

// TestAdminAddressIsNotProtected: an admin address is the operator's own
// choice of who may reach it.
func TestAdminAddressIsNotProtected(t *testing.T) {
	s := startRemote(t, server.Config{AdminAddr: "127.0.0.1:0"})
	admin := "http://" + s.AdminAddr().String()
	if resp, body := do(t, http.MethodGet, admin+"/stats", "", "", direct); resp.StatusCode != http.StatusOK {
		t.Fatalf("remote GET /stats on the admin address: %d %.80q", resp.StatusCode, body)
	}
	resp, body := do(t, http.MethodPost, admin+"/broadcast", "application/json", pubMsg, direct)
	expectJSON(t, resp.StatusCode, body, http.StatusCreated)
}

// remoteIP is the loopback source the tests' remote clients use.
const remoteIP = "127.0.0.9"

// startRemote starts a server that takes clients from remoteIP as remote.
func startRemote(t testing.TB, cfg server.Config) *server.Server {
	t.Helper()
	undo := server.RemoteClient(remoteIP)
	t.Cleanup(undo)
	return start(t, cfg)
}

// fromRemote dials from remoteIP.
var fromRemote = &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(remoteIP)}, Timeout: 5 * time.Second}

// direct is an HTTP client whose connections come from remoteIP, and never
// go through a proxy the environment may name.
var direct = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: fromRemote.DialContext}}

// remoteBase is the URL of s's port.
func remoteBase(t testing.TB, s *server.Server) string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(int(s.Addr().Port())))
}

func mustDialURL(t testing.TB, url string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, NetDial: fromRemote.Dial}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func expectProtected(t testing.TB, what string, status int, body string) {
	t.Helper()
	if status != http.StatusForbidden {
		t.Errorf("%s: %d %.80q, want 403", what, status, body)
		return
	}
	expectHTTPError(t, status, body, http.StatusForbidden, "forbidden")
	if !strings.Contains(body, "protected mode") || !strings.Contains(body, "WSIFY_OPERATOR_PUBLIC") {
		t.Errorf("%s: %s does not say how to open it", what, body)
	}
}
