package interop

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wsify/wsify/server"
	"github.com/wsify/wsify/server/servertest"
)

// client is one third-party client: how to check it is installed, the
// interpreter and the scripts it runs over ws:// and over wss://, and the
// last line it must print.
type client struct {
	name           string
	installed      func() error
	run            string // interpreter
	script, secure string // under clients/
	closed         string
}

// command runs the client's ws:// script, or its wss:// one when secure.
func (c client) command(url, channel string, secure bool) *exec.Cmd {
	script := c.script
	if secure {
		script = c.secure
	}
	return exec.Command(c.run, "clients/"+script, url, channel)
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
		run:       "node", script: "chromium.js", secure: "secure_chromium.js",
		closed: "closed 1000 clean",
	},
	{
		name:      "python-websockets",
		installed: all(program(python), pythonModule("websockets")),
		run:       python, script: "python_websockets.py", secure: "secure_python.py",
		closed: "closed 1000",
	},
	{
		name:      "node-ws",
		installed: all(program("node"), nodeModule("ws")),
		run:       "node", script: "node_ws.js", secure: "secure_node_ws.js",
		closed: "closed 1000",
	},
}

func TestThirdPartyClientsJoinReceiveAndCloseCleanly(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	t.Run("clients", func(t *testing.T) {
		for _, c := range clients {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				if err := c.installed(); err != nil {
					t.Fatalf("%s is not installed (%v): run `make deps`", c.name, err)
				}
				exercise(t, s, c)
			})
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for st := s.Stats(); st.Open != 0 || st.Sockets != 0 || st.Channels != 0; st = s.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("the server still holds %+v after every client closed", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exercise runs c: it must print "joined", then the broadcast this test
// posts, then the close code the server answered its 1000 with.
func exercise(t *testing.T, s *server.Server, c client) {
	channel := "interop-" + c.name
	cmd := c.command(fmt.Sprintf("ws://%s/ws", s.Addr()), channel, false)
	out := runScript(t, cmd)
	out.expect(t, "joined")
	content := fmt.Sprintf(`{"to":%q,"text":"héllo","n":[1,2.5,null,true]}`, c.name)
	broadcast(t, s, channel, content)
	out.expect(t, fmt.Sprintf(`received {"channel":%q,"content":%s}`, channel, content))
	out.expect(t, c.closed)
	if err := out.wait(); err != nil {
		t.Fatalf("%s: %v\nstderr:\n%s", c.name, err, out.stderr.String())
	}
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

// expect reads the next line and compares it with want. Chromium may take
// a while to start on a busy machine, hence the long wait.
func (sc *script) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case got, ok := <-sc.lines:
		if !ok {
			t.Fatalf("%s ended before printing %q\nstderr:\n%s", sc.cmd, want, sc.stderr.String())
		}
		if got != want {
			t.Fatalf("%s printed\n  %s\nwant\n  %s\nstderr:\n%s", sc.cmd, got, want, sc.stderr.String())
		}
	case <-time.After(45 * time.Second):
		t.Fatalf("%s printed nothing for 45s, waiting for %q\nstderr:\n%s", sc.cmd, want, sc.stderr.String())
	}
}

func (sc *script) wait() error {
	for line := range sc.lines {
		return fmt.Errorf("unexpected output %q", line)
	}
	return sc.cmd.Wait()
}

// broadcast posts content to channel through POST /broadcast.
func broadcast(t *testing.T, s *server.Server, channel, content string) {
	t.Helper()
	body := fmt.Sprintf(`{"channel":%q,"content":%s}`, channel, content)
	hc := http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Post(fmt.Sprintf("http://%s/broadcast", s.Addr()), "application/json", strings.NewReader(body))
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
