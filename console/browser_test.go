package console_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/server"
	"github.com/wsify/wsify/server/servertest"
)

const (
	chromium   = "/usr/bin/chromium"
	script     = "e2e/console.mjs"
	playwright = "e2e/node_modules/playwright-core/package.json"
)

// TestConsoleInChromium opens the console in headless Chromium, once on the
// public port and once on an admin address (where /ws lives on another
// port): the page joins "news", receives a POST /broadcast from this test,
// broadcasts itself and sees its own message, and is screenshotted.
func TestConsoleInChromium(t *testing.T) {
	node := browserDeps(t)
	for _, admin := range []bool{false, true} {
		t.Run(fmt.Sprintf("admin=%v", admin), func(t *testing.T) {
			s := startServer(t, admin)
			operator := s.Addr()
			if admin {
				operator = s.AdminAddr()
			}
			shot := filepath.Join(t.TempDir(), "console.png")
			runConsole(t, node, "http://"+operator.String()+"/", shot)
			if got := s.Stats().Published; got != 2 {
				t.Fatalf("server published %d messages, want 2 (POST /broadcast and the console's)", got)
			}
			checkScreenshot(t, shot)
			keepScreenshot(t, shot, admin)
		})
	}
}

// TestConsoleRecoversAfterAReconnect: on a server keeping history the
// console shows offsets, and after a disconnect joins again from the last
// offset it saw, showing the publication it missed.
func TestConsoleRecoversAfterAReconnect(t *testing.T) {
	node := browserDeps(t)
	s := servertest.Start(t, server.Config{HistorySize: 10})
	shot := filepath.Join(t.TempDir(), "console.png")
	runConsole(t, node, "http://"+s.Addr().String()+"/", shot, "recover")
	if got := s.Stats().Published; got != 2 {
		t.Fatalf("server published %d messages, want 2", got)
	}
	checkScreenshot(t, shot)
}

// TestConsoleShowsIdentityAndPresence: behind an authorizer that names
// each connection's user, the console shows the identity the server gave
// it (whoami), and a channel's presence: itself and another client, bob.
func TestConsoleShowsIdentityAndPresence(t *testing.T) {
	node := browserDeps(t)
	authz := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			Command string
			Args    struct{ Query map[string][]string }
		}
		if json.NewDecoder(r.Body).Decode(&m) == nil && m.Command == "connect" && len(m.Args.Query["user"]) == 1 {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"user": m.Args.Query["user"][0], "info": map[string]string{"via": "test"}})
		}
	}))
	t.Cleanup(authz.Close)
	s := servertest.Start(t, server.Config{Presence: true, Auth: auth.Config{URL: authz.URL}})
	bob, _, err := websocket.DefaultDialer.Dial("ws://"+s.Addr().String()+"/ws?user=bob", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bob.Close() })
	if err := bob.WriteMessage(websocket.TextMessage, []byte(`{"command":"join","args":{"channel":"news"},"id":1}`)); err != nil {
		t.Fatal(err)
	}
	if _, m, err := bob.ReadMessage(); err != nil || string(m) != `{"id":1,"ok":true}` {
		t.Fatalf("bob's join: %s %v", m, err)
	}
	shot := filepath.Join(t.TempDir(), "console.png")
	runConsole(t, node, "http://"+s.Addr().String()+"/", shot, "presence")
	checkScreenshot(t, shot)
}

// browserDeps fails, rather than skips, when the browser stack is missing:
// a green run must mean the console was really driven.
func browserDeps(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is missing: run `make deps`")
	}
	for _, f := range []string{chromium, playwright} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s is missing: run `make deps`", f)
		}
	}
	return node
}

func startServer(t *testing.T, admin bool) *server.Server {
	t.Helper()
	var cfg server.Config
	if admin {
		cfg.AdminAddr = "127.0.0.1:0"
	}
	return servertest.Start(t, cfg)
}

// runConsole runs the Node script and answers its "joined" line with a
// POST /broadcast to the page's origin.
func runConsole(t *testing.T, node, url, shot string, mode ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{script, url, shot}, mode...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, out, url)
	if err := cmd.Wait(); err != nil || !slices.Contains(lines, "done") {
		t.Fatalf("console script: %v (stdout %q)\n%s", err, lines, stderr.String())
	}
}

func readLines(t *testing.T, out io.Reader, url string) []string {
	t.Helper()
	var lines []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if sc.Text() == "joined" {
			publish(t, url+"broadcast", `{"channel":"news","content":{"from":"go"}}`)
		}
	}
	return lines
}

func publish(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("POST /broadcast: %s", resp.Status)
	}
}

// checkScreenshot decodes the PNG and wants a rendered page: many distinct
// colors (text, chart lines, buttons) and a good share of pixels that are
// not the background.
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	colors, background, total := histogram(img)
	if len(colors) < 100 {
		t.Errorf("screenshot has %d distinct colors, want at least 100: blank page?", len(colors))
	}
	if fg := total - colors[background]; fg*20 < total {
		t.Errorf("screenshot: %d of %d pixels differ from the background, want at least 5%%", fg, total)
	}
}

func histogram(img image.Image) (colors map[color.RGBA]int, top color.RGBA, total int) {
	colors = map[color.RGBA]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			colors[c]++
			if colors[c] > colors[top] {
				top = c
			}
		}
	}
	return colors, top, b.Dx() * b.Dy()
}

// keepScreenshot copies the screenshot to $WSIFY_SCREENSHOT_DIR when set,
// for a person to look at.
func keepScreenshot(t *testing.T, path string, admin bool) {
	dir := os.Getenv("WSIFY_SCREENSHOT_DIR")
	if dir == "" {
		return
	}
	b, err := os.ReadFile(path)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, fmt.Sprintf("console-admin-%v.png", admin)), b, 0o644)
	}
	if err != nil {
		t.Error(err)
	}
}
