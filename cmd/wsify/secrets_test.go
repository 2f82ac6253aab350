package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wsify/wsify/server/servertest"
)

// TestBadURLsAreNotPrinted: a refused URL is named by its setting, never
// printed with its credentials, whether it came from a flag or a variable.
func TestBadURLsAreNotPrinted(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{nil, "WSIFY_AUTHORIZER_URL=ftp://SECRETUSER:SECRETPW@127.0.0.1:1", "WSIFY_AUTHORIZER_URL"},
		{[]string{"--authorizer-url", "ftp://SECRETUSER:SECRETPW@127.0.0.1:1"}, "", "authorizer-url"},
		{[]string{"--broker", "redis"}, "WSIFY_BROKER_URL=http://SECRETUSER:SECRETPW@127.0.0.1:1", "broker URL"},
		{[]string{"--broker", "redis", "--broker-url", "redis://SECRETUSER:SECRETPW@127.0.0.1:port"}, "", "broker URL"},
		{[]string{"--broker", "nats", "--broker-url", "nats://127.0.0.1:1,ftp://SECRETTOKEN@127.0.0.1:2"}, "", "broker URL"},
		{[]string{"--broker", "redis-cluster", "--broker-url", "redis-cluster://SECRETUSER:SECRETPW@127.0.0.1:1,127.0.0.1:2/0"}, "", "broker URL"},
		{[]string{"--broker", "redis-cluster"}, "WSIFY_BROKER_URL=http://SECRETUSER:SECRETPW@127.0.0.1:1,127.0.0.1:2", "broker URL"},
	} {
		cmd := exec.Command(binary, append([]string{"--listen-addr", "127.0.0.1:0"}, tc.args...)...)
		cmd.Env = append(os.Environ(), tc.env)
		out, err := cmd.CombinedOutput()
		if code := exitCode(err); code == 0 || !strings.Contains(string(out), tc.want) || strings.Contains(string(out), "SECRET") {
			t.Errorf("%q %q: exit %d, output %q; want a failure naming %q without the credentials", tc.args, tc.env, code, out, tc.want)
		}
	}
}

// TestBrokerCredentialsNotPrinted runs the binary on a redis URL with
// credentials and the broker down: nothing it logs or serves shows them.
func TestBrokerCredentialsNotPrinted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	logs := &servertest.SyncBuffer{}
	cmd := exec.Command(binary, "--listen-addr", "127.0.0.1:0", "--log-level", "debug", "--broker", "redis")
	cmd.Env = append(os.Environ(), "WSIFY_BROKER_URL=redis://SECRETUSER:SECRETPW@"+closed+"/0")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := waitLog(t, logs, listening.FindStringSubmatch)
	waitLog(t, logs, regexp.MustCompile(`broker down`).FindStringSubmatch)
	for _, path := range []string{"/healthz", "/stats", "/metrics"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "SECRET") {
			t.Errorf("GET %s shows the credentials: %s", path, body)
		}
	}
	if strings.Contains(logs.String(), "SECRET") {
		t.Errorf("the logs show the credentials:\n%s", logs)
	}
}

// waitLog polls the log until find matches, and returns the match's last
// group.
func waitLog(t *testing.T, logs *servertest.SyncBuffer, find func(string) []string) string {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := find(logs.String()); len(m) > 0 {
			return m[len(m)-1]
		}
	}
	t.Fatalf("log never matched:\n%s", logs)
	return ""
}
