package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestHistorySettings(t *testing.T) {
	o, err := parseOptions([]string{"--history-ttl", "2m"}, mapEnv("WSIFY_HISTORY_SIZE=50", "WSIFY_HISTORY_MAX_BYTES=0", "WSIFY_NAMESPACES=/ns.toml"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := o.server
	if c.HistorySize != 50 || c.HistoryTTL != 2*time.Minute || c.HistoryMaxBytes >= 0 || c.NamespacesFile != "/ns.toml" {
		t.Fatalf("size %d ttl %s max bytes %d namespaces %q", c.HistorySize, c.HistoryTTL, c.HistoryMaxBytes, c.NamespacesFile)
	}
	o, err = parseOptions(nil, mapEnv(), io.Discard)
	if err != nil || o.server.HistorySize >= 0 || o.server.HistoryTTL != 5*time.Minute || o.server.HistoryMaxBytes != 64<<20 {
		t.Fatalf("defaults: %v size %d ttl %s max %d", err, o.server.HistorySize, o.server.HistoryTTL, o.server.HistoryMaxBytes)
	}
}

func TestIdempotencySetting(t *testing.T) {
	for env, want := range map[string]time.Duration{"": 5 * time.Minute, "WSIFY_IDEMPOTENCY_TTL=1h": time.Hour, "WSIFY_IDEMPOTENCY_TTL=0": -1} {
		o, err := parseOptions(nil, mapEnv(env), io.Discard)
		if got := o.server.IdempotencyTTL; err != nil || (got != want && !(want < 0 && got < 0)) {
			t.Errorf("%q: %v %v, want %v", env, got, err, want)
		}
	}
}

// An invalid namespaces file, and history on a broker that cannot keep it,
// stop start-up with a message that says why.
func TestBadHistorySettingsStopStartup(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "ns.toml")
	os.WriteFile(bad, []byte("[namespaces.chat]\nhistory_size = lots\n"), 0o600)
	checkStartupFails(t, []string{"--listen-addr", "127.0.0.1:0"}, []string{"WSIFY_NAMESPACES=" + bad}, "ns.toml: line 2: history_size")
	checkStartupFails(t, []string{"--listen-addr", "127.0.0.1:0"}, []string{"WSIFY_HISTORY_SIZE=10", "WSIFY_BROKER=nats"}, "use the redis broker for history")
}
