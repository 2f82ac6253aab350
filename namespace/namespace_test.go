package namespace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestJSONAndTOMLReadAlikeAndOverrideTheDefaultsPerField(t *testing.T) {
	def := Options{HistorySize: 10, HistoryTTL: time.Minute}
	files := map[string]string{
		"ns.json": `{"namespaces":{"chat":{"history_size":100,"presence":true},"quiet":{"history_size":0},"long":{"history_ttl":"1h","join_leave":true}}}`,
		"ns.toml": "# comment\n[namespaces.chat]\nhistory_size = 100 # kept\npresence = true\n\n[namespaces.quiet]\nhistory_size = 0\n[namespaces.\"long\"]\nhistory_ttl = \"1h\"\njoin_leave = true\n",
	}
	for name, body := range files {
		f, err := Read(write(t, name, body))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tab := NewTable(def, f)
		cases := map[string]Options{
			"news":     def,
			"other:1":  def,
			"chat:42":  {HistorySize: 100, HistoryTTL: time.Minute, Presence: true},
			"quiet:x":  {HistoryTTL: time.Minute},
			"long:a:b": {HistorySize: 10, HistoryTTL: time.Hour, JoinLeave: true},
			"chat":     def, // no ':': the default namespace
		}
		for ch, want := range cases {
			if got := tab.Lookup([]byte(ch)); got != want {
				t.Errorf("%s: Lookup(%q) = %+v, want %+v", name, ch, got, want)
			}
		}
		if tab.Lookup([]byte("quiet:x")).History() {
			t.Errorf("%s: history_size 0 keeps history", name)
		}
	}
}

func TestInvalidFilesAreRefusedWithTheirReason(t *testing.T) {
	cases := map[string]string{
		"a.json": `{"namespaces":{"chat":{"history_sise":1}}}`,
		"b.json": `{"namespaces":{"chat":{"history_size":-1}}}`,
		"c.json": `{"namespaces":{"chat":{"history_ttl":"soon"}}}`,
		"d.json": `{"namespaces":{"a:b":{}}}`,
		"e.json": `{"namespaces":`,
		"f.toml": "[namespaces.chat]\nhistory_size = many\n",
		"g.toml": "history_size = 1\n",
		"h.toml": "[chat]\nhistory_size = 1\n",
		"i.toml": "[namespaces.chat]\ncolour = \"red\"\n",
		"j.toml": "[namespaces.chat]\npresence = yes\n",
		"k.toml": "[namespaces.chat]\n[namespaces.chat]\n",
	}
	for name, body := range cases {
		if _, err := Read(write(t, name, body)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want a refusal naming the file", name, err)
		}
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("a missing file was accepted")
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	f, err := Read(write(t, "ns.json", `{"namespaces":{"chat":{"history_size":1}}}`))
	if err != nil {
		t.Fatal(err)
	}
	tab := NewTable(Options{}, f)
	ch := []byte("chat:1")
	if n := testing.AllocsPerRun(100, func() { tab.Lookup(ch) }); n != 0 {
		t.Fatalf("Lookup allocates %v times", n)
	}
}

func TestAnyPresence(t *testing.T) {
	var none *Table
	if none.AnyPresence() || NewTable(Options{HistorySize: 5, HistoryTTL: time.Minute}, nil).AnyPresence() {
		t.Fatal("presence on without any namespace asking for it")
	}
	for _, o := range []Options{{Presence: true}, {JoinLeave: true}} {
		if !NewTable(o, nil).AnyPresence() {
			t.Fatalf("default %+v: no presence", o)
		}
		on := true
		f := &File{Namespaces: map[string]Fields{"chat": {Presence: &on}}}
		if !NewTable(Options{}, f).AnyPresence() || NewTable(Options{}, f).AnyHistory() {
			t.Fatal("a namespace with presence: not seen, or taken for history")
		}
	}
}
