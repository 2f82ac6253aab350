package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wsify/wsify/internal/brokertest"
)

// TestKeySlotMatchesRedis: the slot this driver computes for a channel key
// is the one the cluster gives it, hash tags and their odd cases included.
func TestKeySlotMatchesRedis(t *testing.T) {
	cc := brokertest.StartCluster(t, 3, 0).Client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keys := []string{"", "a", "wsify:{room}", "wsify:{room}:history", "{}x", "x{}{y}", "a{b}c{d}", "{é}", "x{", "}{"}
	for i := range 200 {
		keys = append(keys, fmt.Sprintf("wsify:{channel-%d}", i))
	}
	for _, k := range keys {
		want, err := cc.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := keySlot(k); int64(got) != want {
			t.Fatalf("slot of %q: %d, Redis says %d", k, got, want)
		}
	}
	if keySlot("wsify:{room}") != keySlot("wsify:{room}:presence") {
		t.Fatal("a channel's later keys must share its slot")
	}
}

func TestParseClusterURL(t *testing.T) {
	u, err := parseClusterURL("redis-cluster://us%40r:p%3Aw@h1:7000,[::1]:7001,h3")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(u.seeds) != "[h1:7000 [::1]:7001 h3:6379]" || u.user != "us@r" || u.password != "p:w" {
		t.Fatalf("%+v", u)
	}
	if u, err := parseClusterURL("redis://127.0.0.1:7000,127.0.0.1:7001"); err != nil || len(u.seeds) != 2 {
		t.Fatalf("redis:// with a list: %+v %v", u, err)
	}
	for _, bad := range []string{"http://h:1", "redis-cluster://", "redis-cluster://h:1/2", "redis-cluster://h:1?x=1", "redis-cluster://h:1,,h:2"} {
		if _, err := parseClusterURL(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
	if err := (Config{Driver: "redis-cluster", Prefix: "a{b}"}).Validate(); err == nil {
		t.Error("a prefix with a hash tag of its own would put every channel in one slot")
	}
	c := Config{Driver: "redis-cluster", URL: "redis-cluster://SECRETUSER:SECRETPW@h1:1,h2:2"}
	if got := c.RedactedURL(); got != "redis-cluster://xxxxx@h1:1,h2:2" {
		t.Fatalf("redacted: %s", got)
	}
}
