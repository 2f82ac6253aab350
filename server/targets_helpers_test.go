package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/server"
)

// whoAuthorizer is a real HTTP authorizer that names each connection
// after its "user" query parameter (none: anonymous) and records the
// commands it is asked about; it refuses any whose "to" lists mallory.
type whoAuthorizer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []whoCommand // guarded by mu
}

// whoCommand is a command body as the authorizer read it.
type whoCommand struct {
	Command string
	Args    struct {
		Channel string
		To      *[]string
		Echo    *bool
	}
	Client auth.ClientInfo
	Raw    string
}

func newWhoAuthorizer(t testing.TB) *whoAuthorizer {
	a := &whoAuthorizer{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m struct {
			Command string
			Args    struct{ Query map[string][]string }
		}
		json.Unmarshal(b, &m)
		if m.Command == "connect" {
			if u := m.Args.Query["user"]; len(u) > 0 {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"user":%q}`, u[0])
			}
			return
		}
		var c whoCommand
		json.Unmarshal(b, &c)
		c.Raw = string(b)
		a.mu.Lock()
		a.seen = append(a.seen, c)
		a.mu.Unlock()
		if c.Args.To != nil && slices.Contains(*c.Args.To, "mallory") {
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *whoAuthorizer) config(cfg server.Config) server.Config {
	cfg.Auth = auth.Config{URL: a.srv.URL}
	return cfg
}

// last is the latest command the authorizer was asked about.
func (a *whoAuthorizer) last() whoCommand {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seen[len(a.seen)-1]
}

// targetPeer is a client whose messages a goroutine reads as they come, like
// peer, and which keeps how the server closed it.
type targetPeer struct {
	*peer
	id     string // its client id, as the authorizer saw it
	closed chan *websocket.CloseError
}

var whoamiSeq atomic.Int64

// dialTarget connects to s as user ("": anonymous) and learns the client id
// the server gave the connection from the authorizer's next body.
func dialTarget(t testing.TB, a *whoAuthorizer, s *server.Server, user string) *targetPeer {
	t.Helper()
	query := ""
	if user != "" {
		query = "user=" + user
	}
	c := mustDialQuery(t, s, query)
	m := &targetPeer{peer: &peer{Conn: c, in: make(chan string, 256)}, closed: make(chan *websocket.CloseError, 1)}
	go func() {
		defer close(m.in)
		for {
			_, p, err := c.ReadMessage()
			if err != nil {
				if ce, ok := err.(*websocket.CloseError); ok {
					m.closed <- ce
				}
				return
			}
			m.in <- string(p)
		}
	}()
	whoami := fmt.Sprintf("whoami-%d", whoamiSeq.Add(1))
	m.join(t, whoami)
	if c := a.last(); c.Args.Channel == whoami {
		m.id = c.Client.ID
	}
	if m.id == "" || a.last().Client.User != user {
		t.Fatalf("the authorizer did not see %s's join as %q: %+v", whoami, user, a.last())
	}
	m.leave(t, whoami)
	return m
}

// expectClosed waits for the server's close, skipping what arrives
// before it, and checks its code and reason.
func (m *targetPeer) expectClosed(t testing.TB, code int, reason string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-m.in:
		case <-deadline:
			t.Fatalf("not closed within 5s; want %d", code)
		}
	}
	select {
	case ce := <-m.closed:
		if ce.Code != code || ce.Text != reason {
			t.Fatalf("closed with %d %q, want %d %q", ce.Code, ce.Text, code, reason)
		}
	default:
		t.Fatalf("connection ended without a close frame, want %d", code)
	}
}

// postJSON posts body to path on s and returns the status and body.
func postJSON(t testing.TB, s *server.Server, path, body string) (int, string) {
	t.Helper()
	return post(t, httpURL(s, path), "application/json", body)
}
