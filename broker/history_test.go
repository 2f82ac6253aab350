package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

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
// the history is trimmed to its size, and a name with braces is one channel.
func TestRedisHistory(t *testing.T) {
	r := brokertest.StartRedis(t)
	got := make(chan heard, 100)
	cfg := broker.Config{Driver: "redis", URL: r.URL()}
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
	ret := broker.Retention{Size: 3, TTL: time.Minute}
	for _, ch := range []string{"news", "a}{b:c"} {
		a.Subscribe([]byte(ch))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := a.(broker.Historian).WaitSubscribed(ctx, []byte(ch)); err != nil {
			t.Fatal(err)
		}
		cancel()
		var epoch string
		for i := 1; i <= 5; i++ {
			pos, err := b.(broker.Historian).PublishAt([]byte(ch), []byte(fmt.Sprint(i)), ret)
			if err != nil || pos.Offset != uint64(i) || (epoch != "" && pos.Epoch != epoch) {
				t.Fatalf("%s: publication %d at %+v: %v", ch, i, pos, err)
			}
			epoch = pos.Epoch
			select {
			case h := <-got:
				if h != (heard{ch, uint64(i), fmt.Sprint(i)}) {
					t.Fatalf("heard %+v", h)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: publication %d not heard", ch, i)
			}
		}
		pos, kept, err := a.(broker.Historian).ReadHistory([]byte(ch), ret)
		if err != nil || pos.Offset != 5 || pos.Epoch != epoch || fmt.Sprint(kept) != "[{3 [51]} {4 [52]} {5 [53]}]" {
			t.Fatalf("%s: history %+v %v: %v", ch, pos, kept, err)
		}
	}
}
