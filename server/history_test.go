package server_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/server"
)

// position is the offset and epoch members of a reply or answer.
type position struct {
	ID        any    `json:"id"`
	OK        bool   `json:"ok"`
	Offset    uint64 `json:"offset"`
	Epoch     string `json:"epoch"`
	Recovered *bool  `json:"recovered"`
}

func decodePosition(t testing.TB, msg string) position {
	t.Helper()
	var p position
	if err := json.Unmarshal([]byte(msg), &p); err != nil || !p.OK {
		t.Fatalf("not an ok reply: %s", msg)
	}
	return p
}

// historyServer keeps 100 publications for a minute in every channel.
func historyServer(t testing.TB, cfg server.Config) *server.Server {
	t.Helper()
	if cfg.HistorySize == 0 {
		cfg.HistorySize = 100
	}
	if cfg.HistoryTTL == 0 {
		cfg.HistoryTTL = time.Minute
	}
	return start(t, cfg)
}

func joinAt(t testing.TB, c *websocket.Conn, channel string, since string) position {
	t.Helper()
	args := fmt.Sprintf(`"channel":%q`, channel)
	if since != "" {
		args += `,"since":` + since
	}
	send(t, c, `{"command":"join","args":{`+args+`},"id":"j"}`)
	return decodePosition(t, recv(t, c))
}

func sinceOf(offset uint64, epoch string) string {
	return fmt.Sprintf(`{"offset":%d,"epoch":%q}`, offset, epoch)
}

func postAt(t testing.TB, s *server.Server, channel, content string) position {
	t.Helper()
	code, body := post(t, httpURL(s, "/broadcast"), "application/json", fmt.Sprintf(`{"channel":%q,"content":%s}`, channel, content))
	if code != 201 {
		t.Fatalf("POST /broadcast: %d %s", code, body)
	}
	return decodePosition(t, body)
}

func TestWithoutHistoryTheWireIsAsBefore(t *testing.T) {
	s := start(t, server.Config{})
	c := dial(t, s)
	joinSync(t, c, "news")
	send(t, c, `{"command":"join","args":{"channel":"other","since":{"offset":3,"epoch":"x"}},"id":2}`)
	expect(t, c, `{"id":2,"ok":true,"recovered":false}`)
	if code, body := post(t, httpURL(s, "/broadcast"), "application/json", `{"channel":"news","content":1}`); code != 201 || body != `{"ok":true}` {
		t.Fatalf("POST: %d %s", code, body)
	}
	expect(t, c, `{"channel":"news","content":1}`)
	send(t, c, `{"command":"history","args":{"channel":"news"},"id":3}`)
	expect(t, c, `{"id":3,"error":{"code":"not_enabled","message":"this channel keeps no history"}}`)
	if code, _ := get(t, httpURL(s, "/history?channel=news")); code != 404 {
		t.Fatalf("GET /history without history: %d", code)
	}
	if strings.Contains(fmt.Sprint(scrape(t, httpURL(s, "/metrics"))), "wsify_history") {
		t.Fatal("history metrics without history")
	}
}

func TestPublicationsCarryOffsetsAndEveryAnswerThePosition(t *testing.T) {
	s := historyServer(t, server.Config{})
	c := dial(t, s)
	p := joinAt(t, c, "news", "")
	if p.Offset != 0 || p.Epoch == "" || p.Recovered != nil {
		t.Fatalf("join of an empty history: %+v", p)
	}
	if got := postAt(t, s, "news", `{"a":1}`); got.Offset != 1 || got.Epoch != p.Epoch {
		t.Fatalf("POST answer %+v", got)
	}
	expect(t, c, `{"channel":"news","offset":1,"content":{"a":1}}`)
	send(t, c, `{"command":"broadcast","args":{"channel":"news","content":"b"},"id":5}`)
	expect(t, c, `{"channel":"news","offset":2,"content":"b"}`)
	expect(t, c, fmt.Sprintf(`{"id":5,"ok":true,"offset":2,"epoch":%q}`, p.Epoch))
	send(t, c, `{"command":"join","args":{"channel":"news"},"id":6}`) // joined already
	expect(t, c, fmt.Sprintf(`{"id":6,"ok":true,"offset":2,"epoch":%q}`, p.Epoch))
	other := dial(t, s)
	if q := joinAt(t, other, "news", ""); q.Offset != 2 || q.Epoch != p.Epoch {
		t.Fatalf("second join %+v", q)
	}
}

func TestAReconnectingClientRecoversExactlyWhatItMissed(t *testing.T) {
	s := historyServer(t, server.Config{})
	c := dial(t, s)
	p := joinAt(t, c, "news", "")
	postAt(t, s, "news", `1`)
	expect(t, c, `{"channel":"news","offset":1,"content":1}`)
	c.Close()
	for i := 2; i <= 4; i++ {
		postAt(t, s, "news", fmt.Sprint(i))
	}
	c = dial(t, s)
	r := joinAt(t, c, "news", sinceOf(1, p.Epoch))
	if r.Recovered == nil || !*r.Recovered || r.Offset != 4 || r.Epoch != p.Epoch {
		t.Fatalf("recovering join: %+v", r)
	}
	for i := 2; i <= 4; i++ {
		expect(t, c, fmt.Sprintf(`{"channel":"news","offset":%d,"content":%d}`, i, i))
	}
	postAt(t, s, "news", `5`)
	expect(t, c, `{"channel":"news","offset":5,"content":5}`)

	for i, since := range []string{sinceOf(1, "nope"), sinceOf(9, p.Epoch)} {
		name := []string{"another epoch", "from the future"}[i]
		c := dial(t, s)
		r := joinAt(t, c, "news", since)
		if r.Recovered == nil || *r.Recovered || r.Offset != uint64(5+i) || r.Epoch != p.Epoch {
			t.Fatalf("%s: %+v", name, r)
		}
		postAt(t, s, "news", `"live"`)
		if got := recv(t, c); !strings.Contains(got, `"content":"live"`) {
			t.Fatalf("%s: replayed %s", name, got)
		}
	}
}

func TestARestartedMemoryEngineHasANewEpoch(t *testing.T) {
	s1 := historyServer(t, server.Config{})
	old := postAt(t, s1, "news", `1`)
	s2 := historyServer(t, server.Config{})
	c := dial(t, s2)
	r := joinAt(t, c, "news", sinceOf(old.Offset, old.Epoch))
	if r.Recovered == nil || *r.Recovered || r.Epoch == old.Epoch || r.Offset != 0 {
		t.Fatalf("join after a restart: %+v (before: %+v)", r, old)
	}
}

type historyAnswer struct {
	position
	Publications []struct {
		Offset  uint64          `json:"offset"`
		Content json.RawMessage `json:"content"`
	} `json:"publications"`
}

func (h historyAnswer) offsets() string {
	var out []string
	for _, p := range h.Publications {
		out = append(out, fmt.Sprintf("%d:%s", p.Offset, p.Content))
	}
	return strings.Join(out, " ")
}

func historyOf(t testing.TB, msg string) historyAnswer {
	t.Helper()
	var h historyAnswer
	if err := json.Unmarshal([]byte(msg), &h); err != nil || !h.OK {
		t.Fatalf("not a history answer: %s", msg)
	}
	return h
}

func TestHistoryCommandAndGETHistoryAnswerAlike(t *testing.T) {
	s := historyServer(t, server.Config{HistorySize: 3})
	var p position
	for i := 1; i <= 5; i++ {
		p = postAt(t, s, "news", fmt.Sprint(i))
	}
	c := dial(t, s)
	ask := func(args string) historyAnswer {
		send(t, c, `{"command":"history","args":{"channel":"news"`+args+`},"id":1}`)
		return historyOf(t, recv(t, c))
	}
	cases := map[string]string{
		"":                                "3:3 4:4 5:5",
		`,"limit":2`:                      "4:4 5:5",
		`,"limit":0`:                      "",
		`,"since":` + sinceOf(3, p.Epoch): "4:4 5:5",
		`,"limit":1,"since":` + sinceOf(2, p.Epoch): "3:3",
		`,"since":` + sinceOf(1, p.Epoch):           "", // 2 is gone: not recoverable
		`,"since":` + sinceOf(3, "other"):           "",
	}
	for args, want := range cases {
		h := ask(args)
		if got := h.offsets(); got != want || h.Offset != 5 || h.Epoch != p.Epoch {
			t.Errorf("history%s: %q at %d %s, want %q", args, got, h.Offset, h.Epoch, want)
		}
	}
	if h := ask(`,"since":` + sinceOf(1, p.Epoch)); h.Recovered == nil || *h.Recovered {
		t.Errorf("an unrecoverable since: %+v", h.position)
	}
	send(t, c, `{"command":"history","args":{"channel":"news","limit":-1},"id":1}`)
	if code := errorCode(t, recv(t, c)); code != "bad_command" {
		t.Fatalf("negative limit: %s", code)
	}

	q := url.Values{"channel": {"news"}, "limit": {"1"}, "since_offset": {"3"}, "epoch": {p.Epoch}}
	code, body := get(t, httpURL(s, "/history?"+q.Encode()))
	if h := historyOf(t, body); code != 200 || h.offsets() != "4:4" || h.Offset != 5 || h.ID != nil {
		t.Fatalf("GET /history: %d %s", code, body)
	}
	code, body = get(t, httpURL(s, "/history?channel=news"))
	if h := historyOf(t, body); code != 200 || h.offsets() != "3:3 4:4 5:5" {
		t.Fatalf("GET /history: %d %s", code, body)
	}
	for _, bad := range []string{"", "channel=news&limit=x", "channel=news&since_offset=1", "channel=news&since_offset=-1&epoch=e"} {
		if code, body := get(t, httpURL(s, "/history?"+bad)); code != 400 {
			t.Errorf("GET /history?%s: %d %s", bad, code, body)
		}
	}
}

func TestTheHistoryLimitHasAMaximum(t *testing.T) {
	s := historyServer(t, server.Config{HistorySize: 1500})
	for i := 1; i <= 1200; i++ {
		postAt(t, s, "big", "1")
	}
	c := dial(t, s)
	send(t, c, `{"command":"history","args":{"channel":"big","limit":100000},"id":1}`)
	if h := historyOf(t, recv(t, c)); len(h.Publications) != 1000 || h.Publications[0].Offset != 201 {
		t.Fatalf("limit over the maximum: %d publications from %d", len(h.Publications), h.Publications[0].Offset)
	}
}

func TestPublicationsExpireAfterTheTTL(t *testing.T) {
	s := historyServer(t, server.Config{HistoryTTL: 300 * time.Millisecond})
	p := postAt(t, s, "news", `1`)
	c := dial(t, s)
	eventually(t, "the publication expired", func() bool {
		send(t, c, `{"command":"history","args":{"channel":"news"},"id":1}`)
		return len(historyOf(t, recv(t, c)).Publications) == 0
	})
	r := joinAt(t, c, "news", sinceOf(0, p.Epoch))
	if r.Recovered != nil && *r.Recovered && r.Epoch == p.Epoch {
		t.Fatalf("recovered an expired publication: %+v", r)
	}
}

func TestTheMemoryBoundDropsTheOldestHistoryAndCountsIt(t *testing.T) {
	s := historyServer(t, server.Config{HistoryMaxBytes: 64 << 10})
	pad := fmt.Sprintf("%q", strings.Repeat("x", 4<<10))
	old := postAt(t, s, "old", pad)
	for range 20 {
		postAt(t, s, "new", pad)
	}
	m := scrape(t, httpURL(s, "/metrics"))
	if m["wsify_history_dropped_total"] < 1 || m["wsify_history_bytes"] > 64<<10 {
		t.Fatalf("dropped %v, %v bytes", m["wsify_history_dropped_total"], m["wsify_history_bytes"])
	}
	c := dial(t, s)
	r := joinAt(t, c, "old", sinceOf(0, old.Epoch))
	if r.Recovered == nil || *r.Recovered || r.Epoch == old.Epoch {
		t.Fatalf("a dropped history recovered: %+v", r)
	}
}

func TestNamespacesFileOverridesTheDefaultsPerNamespace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ns.toml")
	os.WriteFile(path, []byte("[namespaces.chat]\nhistory_size = 3\n[namespaces.quiet]\nhistory_size = 0\n"), 0o600)
	s := start(t, server.Config{HistorySize: 1, HistoryTTL: time.Minute, NamespacesFile: path})
	for i := 1; i <= 5; i++ {
		for _, ch := range []string{"news", "chat:1", "quiet:1"} {
			code, body := post(t, httpURL(s, "/broadcast"), "application/json", fmt.Sprintf(`{"channel":%q,"content":%d}`, ch, i))
			if code != 201 || (ch == "quiet:1") != (body == `{"ok":true}`) {
				t.Fatalf("POST %s: %d %s", ch, code, body)
			}
		}
	}
	c := dial(t, s)
	for ch, want := range map[string]string{"news": "5:5", "chat:1": "3:3 4:4 5:5"} {
		send(t, c, fmt.Sprintf(`{"command":"history","args":{"channel":%q},"id":1}`, ch))
		if got := historyOf(t, recv(t, c)).offsets(); got != want {
			t.Errorf("%s: %q, want %q", ch, got, want)
		}
	}

	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"namespaces":{"chat":{"history_size":"many"}}}`), 0o600)
	if _, err := server.New(server.Config{NamespacesFile: bad}); err == nil || !strings.Contains(err.Error(), "bad.json") {
		t.Fatalf("an invalid namespaces file: %v", err)
	}
}

func TestHistoryIsRefusedWithANetworkedBroker(t *testing.T) {
	for driver, want := range map[string]string{"nats": "use the redis broker"} {
		cfg := server.Config{HistorySize: 10}
		cfg.Broker.Driver = driver
		if _, err := server.New(cfg); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", driver, err)
		}
	}
}

// The authorizer sees a history command's limit and since, and a join's
// since, as the server decoded them, and what runs is what it saw.
func TestTheAuthorizerSeesLimitAndSince(t *testing.T) {
	pa := newPolicyAuthorizer(t, readStruct)
	s := historyServer(t, server.Config{Auth: auth.Config{URL: pa.srv.URL}})
	var p position
	for i := 1; i <= 3; i++ {
		p = postAt(t, s, "news", fmt.Sprint(i))
	}
	c := dial(t, s)
	send(t, c, `{"command":"history","args":{"channel":"news","limit":2,"limit":1,"since":{"offset":0,"offset":1,"epoch":"`+p.Epoch+`"}},"id":1}`)
	if h := historyOf(t, recv(t, c)); h.offsets() != "2:2" {
		t.Fatalf("ran %s", h.offsets())
	}
	want := fmt.Sprintf(`{"command":"history","args":{"channel":"news","limit":1,"since":{"offset":1,"epoch":%q}},"id":1,"client":`, p.Epoch)
	if _, raw := pa.last(); !strings.HasPrefix(raw, want) {
		t.Fatalf("authorizer saw %s\nwant %s...", raw, want)
	}
	send(t, c, `{"command":"join","args":{"channel":"news","limit":5,"since":{"epoch":"`+p.Epoch+`","offset":2}},"id":2}`)
	if r := decodePosition(t, recv(t, c)); r.Recovered == nil || !*r.Recovered {
		t.Fatalf("join: %+v", r)
	}
	expect(t, c, `{"channel":"news","offset":3,"content":3}`)
	want = fmt.Sprintf(`{"command":"join","args":{"channel":"news","since":{"offset":2,"epoch":%q}},"id":2,"client":`, p.Epoch)
	if _, raw := pa.last(); !strings.HasPrefix(raw, want) {
		t.Fatalf("authorizer saw %s\nwant %s...", raw, want)
	}
}
