package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/protocol"
	"github.com/wsify/wsify/server"
)

// outsider opens a broker on the same bus as a node, to publish to it
// directly as another node would.
func outsider(t *testing.T, cfg broker.Config) broker.Broker {
	t.Helper()
	b, err := broker.Open(cfg, broker.Handlers{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestFramesFromTheBrokerAreForwardedAsIsAndJunkIsDropped(t *testing.T) {
	cfg := broker.Config{URL: "memory://" + t.Name()}
	s := start(t, server.Config{Broker: cfg})
	other := outsider(t, cfg)
	p := dialPeer(t, s)
	p.join(t, "n")
	for _, junk := range []string{"", "hello", "\x81\x05hi", "\x82\x02hi", "\x81\x82abcdhi"} {
		if err := other.Publish([]byte("n"), []byte(junk)); err != nil {
			t.Fatal(err)
		}
	}
	frame := protocol.BroadcastFrame([]byte("n"), []byte(`{"from":"elsewhere"}`))
	other.Publish([]byte("n"), frame)
	p.expect(t, `{"channel":"n","content":{"from":"elsewhere"}}`)
	quiet(t, p)
}

// TestBrokerSubscriptionFollowsJoinsAndLeavesRacingOnOneChannel: clients on
// several workers join and leave one channel at once; whenever they are
// done, the node wants the channel from the broker exactly when it has a
// local subscriber. Unsubscribe is slowed down, so a join that empties
// nothing but follows a last leave on another worker would overtake that
// leave's Unsubscribe if join and leave were not serialized per channel.
func TestBrokerSubscriptionFollowsJoinsAndLeavesRacingOnOneChannel(t *testing.T) {
	defer server.SlowBrokerUnsubscribe(time.Millisecond)()
	cfg := broker.Config{URL: "memory://" + t.Name()}
	s := start(t, server.Config{Broker: cfg, Workers: 4})
	peers := make([]*peer, 6)
	for i := range peers {
		peers[i] = dialPeer(t, s)
	}
	for round := range 10 {
		var wg sync.WaitGroup
		errs := make(chan error, len(peers))
		for i, p := range peers {
			wg.Go(func() { errs <- churn(p, 10+(i+round)%2) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		subs, channels := s.BrokerStats().Subscriptions, s.Stats().Channels
		if subs != channels {
			t.Fatalf("round %d: broker wants %d channels, hub has %d", round, subs, channels)
		}
	}
	peers[0].join(t, "hot")
	outsider(t, cfg).Publish([]byte("hot"), protocol.BroadcastFrame([]byte("hot"), []byte("1")))
	peers[0].expect(t, `{"channel":"hot","content":1}`)
}

// churn joins and leaves "hot" n times, ending joined when n is odd.
func churn(p *peer, n int) error {
	for i := range n {
		cmd := map[bool]string{true: "join", false: "leave"}[i%2 == 0]
		msg := fmt.Sprintf(`{"command":%q,"args":{"channel":"hot"},"id":%d}`, cmd, i)
		if err := p.WriteMessage(1, []byte(msg)); err != nil {
			return err
		}
		if got, want := <-p.in, fmt.Sprintf(`{"id":%d,"ok":true}`, i); got != want {
			return fmt.Errorf("got %s, want %s", got, want)
		}
	}
	return nil
}

func TestStatsAndHealthShowTheBroker(t *testing.T) {
	s := start(t, server.Config{})
	if code, body := get(t, httpURL(s, "/healthz")); code != http.StatusOK || body != `{"status":"ok"}` {
		t.Fatalf("healthz %d %s", code, body)
	}
	p := dialPeer(t, s)
	p.join(t, "a")
	_, body := get(t, httpURL(s, "/stats"))
	var st server.Stats
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if b := st.Broker; b.Driver != "memory" || !b.Up || b.Subscriptions != 1 || b.Node == "" {
		t.Fatalf("broker in /stats: %+v", b)
	}
}
