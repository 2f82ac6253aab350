package server_test

import (
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/server"
	"github.com/wsify/wsify/server/servertest"
)

// brokerURLs are broker URLs of every documented form, each with its
// credentials spelled with SECRET, pointing at closed ports: a broker
// that is down is what shows its URL and its driver's error.
func brokerURLs(closed1, closed2 string) map[string][]string {
	return map[string][]string{
		"redis": {
			"redis://SECRETUSER:SECRETPW@" + closed1 + "/0",
			"redis://:SECRETPW@" + closed1,
			"redis://SECRETUSER:SECRET%40PW@" + closed1 + "/1?dial_timeout=1",
			"rediss://SECRETUSER:SECRETPW@" + closed1 + "/2",
			"unix://SECRETUSER:SECRETPW@/nonexistent/wsify-secret.sock",
		},
		"nats": {
			"nats://SECRETTOKEN@" + closed1,
			"nats://SECRETUSER:SECRETPW@" + closed1,
			"nats://" + closed1 + ",nats://SECRETUSER:SECRETPW@" + closed2,
			"nats://" + closed1 + ", tls://SECRETTOKEN@" + closed2,
			"tls://SECRETUSER:SECRETPW@" + closed1,
			"nats:SECRETTOKEN@" + closed1,
		},
	}
}

// TestBrokerCredentialsNeverShow runs a node on each URL with the broker
// down and reads everything it says: logs at debug level, /healthz,
// /stats and /metrics on the public port and the admin address.
func TestBrokerCredentialsNeverShow(t *testing.T) {
	closed1, closed2 := closedAddr(t), closedAddr(t)
	for driver, urls := range brokerURLs(closed1, closed2) {
		for _, u := range urls {
			t.Run(u, func(t *testing.T) {
				for _, admin := range []string{"", "127.0.0.1:0"} {
					checkNoSecret(t, broker.Config{Driver: driver, URL: u}, admin)
				}
			})
		}
	}
}

func checkNoSecret(t *testing.T, bc broker.Config, admin string) {
	logs := &servertest.SyncBuffer{}
	bc.Timeout, bc.MinBackoff, bc.MaxBackoff = 200*time.Millisecond, 10*time.Millisecond, 50*time.Millisecond
	s := start(t, server.Config{Broker: bc, AdminAddr: admin,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	eventually(t, "broker down logged", func() bool { return strings.Contains(logs.String(), "broker down") })
	eventually(t, "the driver's reason", func() bool {
		r := s.BrokerStats().Reason
		return r != "" && r != "connecting"
	})
	operator := httpURL(s, "")
	if admin != "" {
		operator = "http://" + s.AdminAddr().String()
	}
	seen := map[string]string{"logs": logs.String()}
	for _, url := range []string{httpURL(s, "/healthz"), operator + "/healthz", operator + "/stats", operator + "/metrics"} {
		_, seen[url] = get(t, url)
	}
	if body := seen[httpURL(s, "/healthz")]; !strings.Contains(body, `"reason":"broker down"`) {
		t.Errorf("public /healthz: %s, want the generic reason", body)
	}
	if !strings.Contains(seen[operator+"/stats"], "xxxxx") {
		t.Errorf("/stats does not show the redacted URL: %s", seen[operator+"/stats"])
	}
	for where, text := range seen {
		if strings.Contains(text, "SECRET") {
			t.Errorf("%s (admin %q) shows a credential of %s:\n%s", where, admin, bc.URL, text)
		}
	}
}

// TestBadBrokerURLHidesCredentials: a URL refused at start-up is named
// without its credentials.
func TestBadBrokerURLHidesCredentials(t *testing.T) {
	for _, bc := range []broker.Config{
		{Driver: "redis", URL: "http://SECRETUSER:SECRETPW@127.0.0.1:1"},
		{Driver: "redis", URL: "redis://SECRETUSER:SECRETPW@127.0.0.1:port"},
		{Driver: "redis", URL: "redis://SECRETUSER:SECRETPW@127.0.0.1:1,redis://127.0.0.1:2"},
		{Driver: "nats", URL: "nats://127.0.0.1:1,http://SECRETUSER:SECRETPW@127.0.0.1:2"},
		{Driver: "nats", URL: "ftp://SECRETTOKEN@127.0.0.1:1"},
	} {
		logs := &servertest.SyncBuffer{}
		_, err := servertest.TryStart(t, server.Config{Broker: bc, Logger: slog.New(slog.NewTextHandler(logs, nil))})
		if err == nil || strings.Contains(err.Error()+logs.String(), "SECRET") {
			t.Errorf("%s: start-up error %v, logs %q; want an error without the credentials", bc.URL, err, logs)
		}
	}
}

// closedAddr is a loopback address nobody listens on.
func closedAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
