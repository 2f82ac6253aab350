package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wsify/wsify/console"
	"github.com/wsify/wsify/server"
)

// TestAdminAddressTakesTheOperatorEndpoints checks the split: with an admin
// address, the public port keeps /ws and /healthz only.
func TestAdminAddressTakesTheOperatorEndpoints(t *testing.T) {
	s := start(t, server.Config{AdminAddr: "127.0.0.1:0"})
	public, admin := httpURL(s, ""), "http://"+s.AdminAddr().String()
	for _, path := range []string{"/metrics", "/stats", "/", "/console.json", "/wsify.js"} {
		if status, _ := get(t, public+path); status != http.StatusNotFound {
			t.Errorf("public GET %s: %d, want 404", path, status)
		}
		if status, _ := get(t, admin+path); status != http.StatusOK {
			t.Errorf("admin GET %s: %d, want 200", path, status)
		}
	}
	if status, _ := post(t, public+"/broadcast", "application/json", `{"channel":"x","content":1}`); status != http.StatusNotFound {
		t.Errorf("public POST /broadcast: %d, want 404", status)
	}
	if status, _ := post(t, admin+"/broadcast", "application/json", `{"channel":"x","content":1}`); status != http.StatusCreated {
		t.Errorf("admin POST /broadcast: %d, want 201", status)
	}
	for _, base := range []string{public, admin} {
		if status, _ := get(t, base+"/healthz"); status != http.StatusOK {
			t.Errorf("GET %s/healthz: %d", base, status)
		}
	}
	joinSync(t, dial(t, s), "still-here") // WebSockets stay on the public port
}

// TestConsoleKnowsThePublicPort: the page on the admin address must find
// /ws on the public port.
func TestConsoleKnowsThePublicPort(t *testing.T) {
	s := start(t, server.Config{AdminAddr: "127.0.0.1:0"})
	_, body := get(t, "http://"+s.AdminAddr().String()+"/console.json")
	var cfg struct {
		Port int    `json:"ws_port"`
		Path string `json:"ws_path"`
	}
	if err := json.Unmarshal([]byte(body), &cfg); err != nil || cfg.Port != int(s.Addr().Port()) || cfg.Path != "/ws" {
		t.Fatalf("console.json %s (%v), public port %d", body, err, s.Addr().Port())
	}
}

// TestOperatorEndpointsOnThePublicPortByDefault: without an admin address,
// one port serves everything, the console at /.
func TestOperatorEndpointsOnThePublicPortByDefault(t *testing.T) {
	s := start(t, server.Config{})
	status, page := get(t, httpURL(s, "/"))
	if status != http.StatusOK || !strings.Contains(page, "<title>wsify console</title>") {
		t.Fatalf("GET /: %d %.80q", status, page)
	}
	if m := scrape(t, httpURL(s, "/metrics")); m["wsify_broker_up"] != 1 {
		t.Fatalf("wsify_broker_up = %v", m["wsify_broker_up"])
	}
}

// TestClientModuleServedBesideTheConsole: the page imports the JavaScript
// client from /wsify.js, as a module (which browsers load only with a
// JavaScript content type).
func TestClientModuleServedBesideTheConsole(t *testing.T) {
	s := start(t, server.Config{})
	resp, err := http.Get(httpURL(s, "/wsify.js"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") ||
		!bytes.Equal(body, console.Client) || !bytes.Contains(body, []byte("export class Client")) {
		t.Fatalf("GET /wsify.js: %d %q %.80q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

func TestBadAdminAddressFailsStart(t *testing.T) {
	s, err := server.New(server.Config{Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:-1"})
	if err == nil {
		err = s.Start()
	}
	if err == nil || !strings.Contains(err.Error(), "admin") {
		t.Fatalf("want an admin address error, got %v", err)
	}
}
