package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/server"
)

// TestMetricsCountAScriptedSession runs a known session against a server
// with a real authorizer and checks every wsify counter against it. The
// operator endpoints are on an admin address, so the public port accepts
// exactly the session's WebSocket connections.
func TestMetricsCountAScriptedSession(t *testing.T) {
	authz := httptest.NewServer(http.HandlerFunc(denyBadTokenAndSecret))
	defer authz.Close()
	s := start(t, server.Config{AdminAddr: "127.0.0.1:0", Auth: auth.Config{URL: authz.URL}})
	admin := "http://" + s.AdminAddr().String()

	a, b, c := mustDialQuery(t, s, "token=ok"), mustDialQuery(t, s, "token=ok"), mustDialQuery(t, s, "token=ok")
	if _, err := dialQuery(s, "token=bad"); statusOf(err) != http.StatusForbidden {
		t.Fatalf("token=bad: want a 403 handshake, got %v", err)
	}
	joinSync(t, a, "news")
	joinSync(t, b, "news")
	joinSync(t, c, "other")
	send(t, a, `{"command":"broadcast","args":{"channel":"news","content":1}}`)
	expect(t, a, `{"channel":"news","content":1}`)
	expect(t, b, `{"channel":"news","content":1}`)
	send(t, c, `{"command":"dance","args":{}}`)
	if code := errorCode(t, recv(t, c)); code != "unknown_command" {
		t.Fatalf("dance: %s", code)
	}
	send(t, c, `{"command":"join","args":{"channel":"  "}}`)
	if code := errorCode(t, recv(t, c)); code != "bad_channel" {
		t.Fatalf("blank channel: %s", code)
	}
	send(t, a, `{"command":"join","args":{"channel":"secret"}}`)
	if code := errorCode(t, recv(t, a)); code != "not_authorized" {
		t.Fatalf("secret: %s", code)
	}
	if status, body := post(t, admin+"/broadcast", "application/json", `{"channel":"news","content":2}`); status != http.StatusCreated {
		t.Fatalf("POST /broadcast: %d %s", status, body)
	}
	expect(t, a, `{"channel":"news","content":2}`)
	expect(t, b, `{"channel":"news","content":2}`)
	closeNormally(t, b)
	c.NetConn().Close() // dropped without a close frame

	m := scrapeUntil(t, admin+"/metrics", "wsify_sockets", 1)
	want := map[string]float64{
		"wsify_connections_open":                                   1,
		"wsify_sockets":                                            1,
		"wsify_connections_accepted_total":                         4,
		`wsify_connections_closed_total{code="1000"}`:              1,
		`wsify_connections_closed_total{code="1006"}`:              1,
		`wsify_handshakes_rejected_total{reason="auth_denied"}`:    1,
		"wsify_channels":                                           1,
		"wsify_messages_published_total":                           2,
		"wsify_deliveries_total":                                   4,
		`wsify_commands_total{command="join",result="ok"}`:         3,
		`wsify_commands_total{command="join",result="denied"}`:     1,
		`wsify_commands_total{command="join",result="invalid"}`:    1,
		`wsify_commands_total{command="unknown",result="invalid"}`: 1,
		`wsify_commands_total{command="broadcast",result="ok"}`:    1,
		`wsify_authorizer_calls_total{verdict="allowed"}`:          7, // 3 connects, 3 joins, 1 broadcast
		`wsify_authorizer_calls_total{verdict="denied"}`:           2, // token=bad, secret
		`wsify_authorizer_duration_seconds_bucket{le="+Inf"}`:      9,
		"wsify_authorizer_duration_seconds_count":                  9,
		"wsify_broker_up":                                          1,
	}
	checkSeries(t, m, want, "wsify_")
	checkHistogram(t, m, "wsify_authorizer_duration_seconds")
	for _, name := range []string{"go_goroutines", "process_open_fds"} {
		if m[name] <= 0 {
			t.Errorf("%s = %v, want > 0", name, m[name])
		}
	}
}

// denyBadTokenAndSecret is the session's authorizer: it refuses connections
// with token=bad and any command on channel "secret".
func denyBadTokenAndSecret(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Command string
		Args    struct {
			Channel string
			Query   map[string][]string
		}
	}
	json.NewDecoder(r.Body).Decode(&req)
	if req.Args.Channel == "secret" || strings.Join(req.Args.Query["token"], "") == "bad" {
		w.WriteHeader(http.StatusForbidden)
	}
}

// closeNormally sends close 1000 and waits for the server's echo.
func closeNormally(t *testing.T, c *websocket.Conn) {
	t.Helper()
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
	if err := c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	expectClose(t, c, websocket.CloseNormalClosure)
}

// checkSeries compares every series whose name starts with prefix with
// want, where a series missing from want must be 0.
func checkSeries(t *testing.T, got, want map[string]float64, prefix string) {
	t.Helper()
	for series, v := range got {
		if strings.HasPrefix(series, prefix) && !strings.Contains(series, "_bucket") &&
			!strings.HasSuffix(series, "_sum") && v != want[series] {
			t.Errorf("%s = %v, want %v", series, v, want[series])
		}
	}
	for series := range want {
		if _, ok := got[series]; !ok {
			t.Errorf("%s missing", series)
		}
	}
}

// checkHistogram wants cumulative buckets that never decrease, a +Inf
// bucket equal to the count and a positive sum when anything was counted.
func checkHistogram(t *testing.T, m map[string]float64, name string) {
	t.Helper()
	prev := 0.0
	for _, le := range []string{"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"} {
		v, ok := m[fmt.Sprintf("%s_bucket{le=%q}", name, le)]
		if !ok || v < prev {
			t.Errorf("%s bucket le=%s: %v (present %v), previous %v", name, le, v, ok, prev)
		}
		prev = v
	}
	if prev != m[name+"_count"] || (prev > 0 && m[name+"_sum"] <= 0) {
		t.Errorf("%s: +Inf %v, count %v, sum %v", name, prev, m[name+"_count"], m[name+"_sum"])
	}
}

// scrapeUntil scrapes until series reaches want (closes finish after the
// client sees them), then returns that scrape.
func scrapeUntil(t *testing.T, url, series string, want float64) map[string]float64 {
	t.Helper()
	var m map[string]float64
	eventually(t, fmt.Sprintf("%s = %v", series, want), func() bool {
		m = scrape(t, url)
		return m[series] == want
	})
	return m
}

// scrape fetches url and parses the Prometheus text format strictly enough
// to catch a malformed exposition: one TYPE per family, before its samples.
func scrape(t testing.TB, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET %s: %s, Content-Type %q", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	return parseExposition(t, resp.Body)
}

func parseExposition(t testing.TB, r io.Reader) map[string]float64 {
	t.Helper()
	types := map[string]string{}
	series := map[string]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if typ, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, kind, _ := strings.Cut(typ, " ")
			if types[name] != "" {
				t.Fatalf("second TYPE line for %s", name)
			}
			types[name] = kind
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		name, v := parseSample(t, line)
		if _, dup := series[name]; dup {
			t.Fatalf("series %s twice", name)
		}
		if !typed(types, name) {
			t.Fatalf("sample before its TYPE line: %s", line)
		}
		series[name] = v
	}
	return series
}

func parseSample(t testing.TB, line string) (string, float64) {
	t.Helper()
	i := strings.LastIndexByte(line, ' ')
	v, err := strconv.ParseFloat(line[i+1:], 64)
	if i < 0 || err != nil {
		t.Fatalf("bad sample line %q", line)
	}
	return line[:i], v
}

// typed reports whether a TYPE line names the series' family: its name,
// or for a histogram or summary the name less _bucket, _sum or _count.
func typed(types map[string]string, series string) bool {
	name, _, _ := strings.Cut(series, "{")
	if types[name] != "" {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && types[base] != "" {
			return true
		}
	}
	return false
}
