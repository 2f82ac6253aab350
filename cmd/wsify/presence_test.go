package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/internal/brokertest"
	"github.com/wsify/wsify/internal/testutil"
)

// TestPresenceForgetsAKilledNode: three wsify processes share a real
// Redis, with presence on and a real authorizer naming the users. The
// members of a node killed with SIGKILL, which can say nothing on its way
// out, stop counting within the presence TTL (README: Presence), while
// the live nodes' members, refreshed, keep counting past it.
func TestPresenceForgetsAKilledNode(t *testing.T) {
	const ttl = 2 * time.Second
	r := brokertest.StartRedis(t)
	users := identityAuthorizer(t)
	env := []string{"WSIFY_BROKER=redis", "WSIFY_BROKER_URL=" + r.URL(), "WSIFY_PRESENCE=true",
		"WSIFY_PRESENCE_TTL=" + ttl.String(), "WSIFY_AUTHORIZER_URL=" + users}
	nodes := []*node{startNode(t, env...), startNode(t, env...), startNode(t, env...)}
	for _, n := range nodes {
		n.waitHealthy(t)
	}
	for i, as := range []string{"alice", "bob", "alice", "carol", "dave"} {
		joinAs(t, nodes[min(i, 2)], as, "room")
	}
	stats := func(n *node) string {
		code, body := getBody(t, "http://"+n.addr+"/presence_stats?channel=room")
		if code != 200 {
			t.Fatalf("GET /presence_stats: %d %s", code, body)
		}
		return body
	}
	testutil.Eventually(t, "every member counted", func() bool { return stats(nodes[0]) == `{"ok":true,"clients":5,"users":4}` })

	nodes[2].cmd.Process.Kill() // SIGKILL: no leave, no last write
	killed := time.Now()
	testutil.EventuallyWithin(t, 4*ttl, "the killed node's members gone", func() bool {
		return stats(nodes[0]) == `{"ok":true,"clients":2,"users":2}`
	})
	took := time.Since(killed)
	t.Logf("the killed node's members stopped counting %v after the kill (TTL %v)", took.Round(time.Millisecond), ttl)
	if took > ttl+1500*time.Millisecond {
		t.Fatalf("they counted %v after the kill: more than the TTL (%v) and the polling's slack", took, ttl)
	}
	// The live nodes refresh: their members count past the TTL.
	for end := time.Now().Add(2 * ttl); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if got := stats(nodes[1]); got != `{"ok":true,"clients":2,"users":2}` {
			t.Fatalf("live members, %v after the kill: %s", time.Since(killed), got)
		}
	}
}

// Presence on a broker that cannot keep it stops start-up with a reason.
func TestPresenceSettingsStopStartupOnNATS(t *testing.T) {
	for _, env := range []string{"WSIFY_PRESENCE=true", "WSIFY_JOIN_LEAVE=true"} {
		checkStartupFails(t, []string{"--listen-addr", "127.0.0.1:0"}, []string{env, "WSIFY_BROKER=nats"}, "not available with the nats broker")
	}
	checkStartupFails(t, []string{"--listen-addr", "127.0.0.1:0"}, []string{"WSIFY_PRESENCE_TTL=500ms"}, "presence TTL 500ms: want at least 1s")
}

// identityAuthorizer answers a connect with the identity {"user":<as>},
// <as> the connection's "as" query parameter, and allows every command.
func identityAuthorizer(t *testing.T) string {
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var m struct {
			Command string
			Args    struct{ Query map[string][]string }
		}
		json.NewDecoder(req.Body).Decode(&m)
		if as := m.Args.Query["as"]; m.Command == "connect" && len(as) == 1 {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"user":%q}`, as[0])
		}
	}))
	t.Cleanup(a.Close)
	return a.URL
}

// joinAs connects to n as user and joins channel, kept open for the test.
func joinAs(t *testing.T, n *node, user, channel string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	c, _, err := d.Dial("ws://"+n.addr+"/ws?as="+user, nil)
	if err != nil {
		t.Fatalf("dial as %s: %v", user, err)
	}
	t.Cleanup(func() { c.Close() })
	c.WriteMessage(websocket.TextMessage, []byte(`{"command":"join","args":{"channel":"`+channel+`"},"id":1}`))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, p, err := c.ReadMessage(); err != nil || string(p) != `{"id":1,"ok":true}` {
		t.Fatalf("join as %s: %s %v", user, p, err)
	}
	return c
}

func (n *node) waitHealthy(t *testing.T) {
	t.Helper()
	testutil.Eventually(t, "healthz 200 on "+n.addr, func() bool {
		code, _ := getBody(t, "http://"+n.addr+"/healthz")
		return code == 200
	})
}

func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
