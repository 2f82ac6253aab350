package interop

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wsify/wsify/internal/testutil"
	"github.com/wsify/wsify/server"
	"github.com/wsify/wsify/server/servertest"
)

// client is one third-party client: how to check it is installed, the
// interpreter and the script it runs, and the last line it must print.
type client struct {
	name      string
	installed func() error
	run       string // interpreter
	script    string // under clients/
	closed    string
}

// start runs the client's script on url and channel; the wss:// run adds
// the CA file and the content the script broadcasts itself.
func (c client) start(t *testing.T, url, channel string, secureArgs ...string) *script {
	t.Helper()
	if err := c.installed(); err != nil {
		t.Fatalf("%s is not installed (%v): run `make deps`", c.name, err)
	}
	return runScript(t, exec.Command(c.run, append([]string{"clients/" + c.script, url, channel}, secureArgs...)...))
}

// python is Debian's interpreter, which sees Debian's python3-websockets
// whatever other python3 comes first on PATH.
const python = "/usr/bin/python3"

func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

var clients = []client{
	{
		name:      "chromium",
		installed: all(program(chromiumPath()), program("node"), nodeModule("playwright-core")),
		run:       "node", script: "chromium.js",
		closed: "closed 1000 clean",
	},
	{
		name:      "python-websockets",
		installed: all(program(python), pythonModule("websockets")),
		run:       python, script: "python_websockets.py",
		closed: "closed 1000",
	},
	{
		name:      "node-ws",
		installed: all(program("node"), nodeModule("ws")),
		run:       "node", script: "node_ws.js",
		closed: "closed 1000",
	},
}

func TestThirdPartyClientsJoinReceiveAndCloseCleanly(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	t.Run("clients", func(t *testing.T) {
		for _, c := range clients {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				exercise(t, s, c)
			})
		}
	})
	var st server.Stats
	released := func() bool { st = s.Stats(); return st.Open == 0 && st.Sockets == 0 && st.Channels == 0 }
	if !testutil.Poll(testutil.Timeout, released) {
		t.Fatalf("the server still holds %+v after every client closed", st)
	}
}

// exercise runs c: it must print "joined", then the broadcast this test
// posts, then the close code the server answered its 1000 with.
func exercise(t *testing.T, s *server.Server, c client) {
	channel := "interop-" + c.name
	out := c.start(t, fmt.Sprintf("ws://%s/ws", s.Addr()), channel)
	out.expect(t, "joined")
	content := fmt.Sprintf(`{"to":%q,"text":"héllo","n":[1,2.5,null,true]}`, c.name)
	broadcast(t, fmt.Sprintf("http://%s", s.Addr()), nil, channel, content)
	out.expect(t, fmt.Sprintf(`received {"channel":%q,"content":%s}`, channel, content))
	out.finish(t, c)
}

// script is a running client script and its output, line by line.
type script struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *servertest.SyncBuffer
}

func runScript(t *testing.T, cmd *exec.Cmd) *script {
	t.Helper()
	sc := &script{cmd: cmd, lines: make(chan string, 16), stderr: &servertest.SyncBuffer{}}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = sc.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd, err)
	}
	go sc.scan(stdout)
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return sc
}

func (sc *script) scan(r io.Reader) {
	defer close(sc.lines)
	in := bufio.NewScanner(r)
	for in.Scan() {
		sc.lines <- in.Text()
	}
}

// next reads the next line; awaited describes it for the failure messages.
// Chromium may take a while to start on a busy machine, hence the long
// wait.
func (sc *script) next(t *testing.T, awaited string) string {
	t.Helper()
	select {
	case got, ok := <-sc.lines:
		if !ok {
			t.Fatalf("%s ended before printing %s\nstderr:\n%s", sc.cmd, awaited, sc.stderr.String())
		}
		return got
	case <-time.After(45 * time.Second):
		t.Fatalf("%s printed nothing for 45s, waiting for %s\nstderr:\n%s", sc.cmd, awaited, sc.stderr.String())
	}
	return ""
}

// expect reads the next line and compares it with want.
func (sc *script) expect(t *testing.T, want string) {
	t.Helper()
	if got := sc.next(t, fmt.Sprintf("%q", want)); got != want {
		t.Fatalf("%s printed\n  %s\nwant\n  %s\nstderr:\n%s", sc.cmd, got, want, sc.stderr.String())
	}
}

// expectPrefix reads the next line and wants it to start with prefix.
func (sc *script) expectPrefix(t *testing.T, prefix string) {
	t.Helper()
	if got := sc.next(t, fmt.Sprintf("a line starting %q", prefix)); !strings.HasPrefix(got, prefix) {
		t.Fatalf("%s printed %q, want a line starting %q\nstderr:\n%s", sc.cmd, got, prefix, sc.stderr.String())
	}
}

// finish wants c's close line, then the script's end with nothing more
// printed and exit status 0.
func (sc *script) finish(t *testing.T, c client) {
	t.Helper()
	sc.expect(t, c.closed)
	for line := range sc.lines {
		t.Fatalf("%s: unexpected output %q\nstderr:\n%s", c.name, line, sc.stderr.String())
	}
	if err := sc.cmd.Wait(); err != nil {
		t.Fatalf("%s: %v\nstderr:\n%s", c.name, err, sc.stderr.String())
	}
}

// broadcast posts content to channel through POST /broadcast at base,
// http://host:port or https://host:port with pool trusting its certificate.
func broadcast(t *testing.T, base string, pool *x509.CertPool, channel, content string) {
	t.Helper()
	body := fmt.Sprintf(`{"channel":%q,"content":%s}`, channel, content)
	hc := http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
	resp, err := hc.Post(base+"/broadcast", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST /broadcast: %d %s", resp.StatusCode, b)
	}
}

// Installation checks: each returns an error naming what is missing.

func all(checks ...func() error) func() error {
	return func() error {
		for _, c := range checks {
			if err := c(); err != nil {
				return err
			}
		}
		return nil
	}
}

func program(name string) func() error {
	return func() error {
		_, err := exec.LookPath(name)
		return err
	}
}

func nodeModule(name string) func() error {
	return func() error {
		if _, err := os.Stat("node_modules/" + name + "/package.json"); err != nil {
			return fmt.Errorf("npm package %s missing in interop/node_modules", name)
		}
		return nil
	}
}

func pythonModule(name string) func() error {
	return func() error {
		if out, err := exec.Command(python, "-c", "import "+name).CombinedOutput(); err != nil {
			return fmt.Errorf("%s cannot import %s: %s", python, name, bytes.TrimSpace(out))
		}
		return nil
	}
}
