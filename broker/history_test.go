package broker_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/internal/brokertest"
	"github.com/wsify/wsify/internal/testutil"
)

type heard struct {
	channel string
	offset  uint64
	content string
}

// TestRedisHistory: offsets count from 1 in one epoch across nodes, the
// subscribed node hears each publication with its offset once confirmed,
// the history is trimmed to its size, a name with braces is one channel,
// and a publication under an idempotency key is made once.
func TestRedisHistory(t *testing.T) {
	r := brokertest.StartRedis(t)
	testHistory(t, broker.Config{Driver: "redis", URL: r.URL()}, []string{"news", "a}{b:c"})
}

// TestClusterHistory: the same on a Redis Cluster, with channels on every
// master, names whose hash tag is only part of the name, and a name
// starting with '}', whose channel key has no hash tag at all.
func TestClusterHistory(t *testing.T) {
	c := brokertest.StartCluster(t, 3, 0)
	testHistory(t, clusterConfig(c), append(spread(c, 1), "a}{b:c", "}x", "{}"))
}

func testHistory(t *testing.T, cfg broker.Config, channels []string) {
	got := make(chan heard, 100)
	a, err := broker.Open(cfg, broker.Handlers{Publication: func(ch []byte, o uint64, c []byte) { got <- heard{string(ch), o, string(c)} }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := broker.Open(cfg, broker.Handlers{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	testutil.Eventually(t, "both up", func() bool { return a.Health().Up && b.Health().Up })
	ha, hb := a.(broker.Historian), b.(broker.Historian)
	hear := func(want heard) {
		t.Helper()
		select {
		case h := <-got:
			if h != want {
				t.Fatalf("heard %+v, want %+v", h, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%+v not heard", want)
		}
	}
	ret := broker.Retention{Size: 3, TTL: time.Minute}
	for _, ch := range channels {
		a.Subscribe([]byte(ch))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := ha.WaitSubscribed(ctx, []byte(ch)); err != nil {
			t.Fatal(err)
		}
		cancel()
		var epoch string
		for i := 1; i <= 5; i++ {
			pos, err := hb.PublishAt([]byte(ch), []byte(fmt.Sprint(i)), ret)
			if err != nil || pos.Offset != uint64(i) || (epoch != "" && pos.Epoch != epoch) {
				t.Fatalf("%s: publication %d at %+v: %v", ch, i, pos, err)
			}
			epoch = pos.Epoch
			hear(heard{ch, uint64(i), fmt.Sprint(i)})
		}
		pos, kept, err := ha.ReadHistory([]byte(ch), ret)
		if err != nil || pos.Offset != 5 || pos.Epoch != epoch || fmt.Sprint(kept) != "[{3 [51]} {4 [52]} {5 [53]}]" {
			t.Fatalf("%s: history %+v %v: %v", ch, pos, kept, err)
		}

		first, again, err := ha.PublishOnce([]byte(ch), []byte("once"), ret, "k-1", time.Minute)
		if err != nil || again || first.Offset != 6 {
			t.Fatalf("%s: first publication under a key at %+v (replayed %v): %v", ch, first, again, err)
		}
		hear(heard{ch, 6, "once"})
		pos, again, err = hb.PublishOnce([]byte(ch), []byte("once"), ret, "k-1", time.Minute)
		if err != nil || !again || pos != first {
			t.Fatalf("%s: the same key on another node: %+v (replayed %v), want %+v replayed: %v", ch, pos, again, first, err)
		}
		if pos, again, err = hb.PublishOnce([]byte(ch), []byte("other"), ret, "k-2", time.Minute); err != nil || again || pos.Offset != 7 {
			t.Fatalf("%s: another key: %+v (replayed %v): %v", ch, pos, again, err)
		}
		hear(heard{ch, 7, "other"})
	}
	select {
	case h := <-got:
		t.Fatalf("heard %+v more", h)
	case <-time.After(150 * time.Millisecond):
	}
}

// TestRedisHistoryListLostUnderALiveHash: the list of a history that
// publications were made to is lost (evicted) while its hash lives: the
// next access starts one new epoch, which the accesses after it keep,
// and offsets go on from where they were.
func TestRedisHistoryListLostUnderALiveHash(t *testing.T) {
	r := brokertest.StartRedis(t)
	b, err := broker.Open(broker.Config{Driver: "redis", URL: r.URL()}, broker.Handlers{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	testutil.Eventually(t, "up", func() bool { return b.Health().Up })
	h := b.(broker.Historian)
	ret := broker.Retention{Size: 10, TTL: time.Minute}
	before, err := h.PublishAt([]byte("news"), []byte("1"), ret)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(&redis.Options{Addr: strings.TrimPrefix(r.URL(), "redis://")})
	defer rc.Close()
	if n, err := rc.Del(context.Background(), "{wsify:news}:h").Result(); n != 1 || err != nil {
		t.Fatalf("DEL: %d %v", n, err)
	}
	first, _, err := h.ReadHistory([]byte("news"), ret)
	if err != nil || first.Epoch == before.Epoch {
		t.Fatalf("after the list was lost: %+v (before %+v): %v", first, before, err)
	}
	for range 2 {
		if again, _, err := h.ReadHistory([]byte("news"), ret); err != nil || again != first {
			t.Fatalf("read again: %+v, want %+v: %v", again, first, err)
		}
	}
	if next, err := h.PublishAt([]byte("news"), []byte("2"), ret); err != nil || next.Epoch != first.Epoch || next.Offset != 2 {
		t.Fatalf("next publication %+v, want offset 2 in %s: %v", next, first.Epoch, err)
	}
}
