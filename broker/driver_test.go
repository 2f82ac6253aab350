package broker_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/internal/brokertest"
	"github.com/wsify/wsify/internal/testutil"
)

// rig is one kind of broker under test: how to reach it, stop it, start it
// again, and count the subscriptions it holds for a channel.
type rig struct {
	cfg         broker.Config
	stop, start func()
	subs        func(channel string) int
}

func TestRedisDriver(t *testing.T) {
	r := brokertest.StartRedis(t)
	testDriver(t, rig{
		cfg:  broker.Config{Driver: "redis", URL: r.URL(), MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond},
		stop: r.Stop, start: r.Start,
		subs: func(ch string) int { return r.NumSub("wsify:" + ch) },
	})
}

func TestNATSDriver(t *testing.T) {
	n := brokertest.StartNATS(t)
	testDriver(t, rig{
		cfg:  broker.Config{Driver: "nats", URL: n.URL(), MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond},
		stop: n.Stop, start: n.Start,
		subs: func(ch string) int { return len(n.Subscribers(natsSubject(ch))) },
	})
}

func natsSubject(ch string) string { return "wsify.c." + ch }

// TestRedisUnansweredPublicationsMarkItDown: with Redis stuck (SIGSTOP),
// each publication fails within the timeout, the third in a row takes the
// broker down without waiting for the ping, later ones fail at once, and
// it comes back up by itself when Redis answers again.
func TestRedisUnansweredPublicationsMarkItDown(t *testing.T) {
	r := brokertest.StartRedis(t)
	const timeout = 200 * time.Millisecond
	a := open(t, broker.Config{Driver: "redis", URL: r.URL(), Timeout: timeout,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	a.waitUp(t)
	mustPublish(t, a, "f", "warm") // a pooled connection, as in steady use
	r.Pause()
	for i := range 3 {
		if !a.b.Health().Up {
			t.Fatalf("down after %d unanswered publications; want 3", i)
		}
		publishFails(t, a, timeout+500*time.Millisecond)
	}
	began := time.Now()
	h := a.nextState(t)
	if took := time.Since(began); h.Up || !strings.Contains(h.Reason, "3 publications in a row unanswered") || took > time.Second {
		t.Fatalf("want down for unanswered publications at once, got %+v after %v", h, took)
	}
	publishFails(t, a, 50*time.Millisecond)
	r.Resume()
	if h := a.nextState(t); !h.Up {
		t.Fatalf("want up once Redis answers, got %+v", h)
	}
	mustPublish(t, a, "f", "after")
	if st := a.b.Stats(); st.Downs != 1 || st.Refused != 4 {
		t.Fatalf("stats %+v", st)
	}
}

// publishFails checks that a publication fails as unavailable within d.
func publishFails(t *testing.T, n *node, d time.Duration) {
	t.Helper()
	began := time.Now()
	err := n.b.Publish([]byte("f"), []byte("x"))
	if took := time.Since(began); !errors.Is(err, broker.ErrUnavailable) || took > d {
		t.Fatalf("publish: %v after %v; want unavailable within %v", err, took, d)
	}
}

func TestMemoryDriver(t *testing.T) {
	a := open(t, broker.Config{URL: "memory://" + t.Name()})
	b := open(t, broker.Config{URL: "memory://" + t.Name()})
	private := open(t, broker.Config{})
	a.b.Subscribe([]byte("room"))
	private.b.Subscribe([]byte("room"))
	mustPublish(t, b, "room", "1")
	a.expect(t, "room", "1")
	mustPublish(t, a, "room", "own")
	a.Unsubscribe("room")
	mustPublish(t, b, "room", "2")
	a.expectNothing(t)
	private.expectNothing(t)
	if st := a.b.Stats(); st.Received != 1 || st.Subscriptions != 0 || !st.Up {
		t.Fatalf("stats %+v", st)
	}
}

func testDriver(t *testing.T, r rig) {
	a, b := open(t, r.cfg), open(t, r.cfg)
	a.waitUp(t)
	b.waitUp(t)
	t.Run("delivery", func(t *testing.T) { testDelivery(t, r, a, b) })
	t.Run("any channel name", func(t *testing.T) { testOddNames(t, a, b) })
	t.Run("outage", func(t *testing.T) { testOutage(t, r, a, b) })
}

// testDelivery: another node's publication arrives once; a node's own does
// not come back; an unsubscribed channel is dropped on the broker.
func testDelivery(t *testing.T, r rig, a, b *node) {
	a.Subscribe("room")
	testutil.Eventually(t, "a's subscription on the broker", func() bool { return r.subs("room") == 1 })
	mustPublish(t, b, "room", "from b")
	a.expect(t, "room", "from b")
	mustPublish(t, a, "room", "from a")
	mustPublish(t, b, "room", "marker")
	a.expect(t, "room", "marker")
	a.expectNothing(t)
	b.expectNothing(t)
	a.Unsubscribe("room")
	testutil.Eventually(t, "a's subscription dropped", func() bool { return r.subs("room") == 0 })
	mustPublish(t, b, "room", "late")
	a.expectNothing(t)
}

func testOddNames(t *testing.T, a, b *node) {
	for _, name := range []string{"news.sport", "a b/c", "*", "é"} {
		a.Subscribe(name)
		testutil.Eventually(t, "subscription to "+name, func() bool {
			mustPublish(t, b, name, "probe")
			return a.tryExpect(name, "probe")
		})
		a.Unsubscribe(name)
	}
	a.drain()
}

// testOutage: while the broker is away both nodes say so once, refuse
// publications, and keep wishes made meanwhile; when it is back they
// report up only with every wanted subscription in place.
func testOutage(t *testing.T, r rig, a, b *node) {
	a.Subscribe("f")
	b.Subscribe("f")
	testutil.Eventually(t, "both subscribed", func() bool { return r.subs("f") == 2 })
	r.stop()
	for _, n := range []*node{a, b} {
		if h := n.nextState(t); h.Up || h.Reason == "" {
			t.Fatalf("want down with a reason, got %+v", h)
		}
		if err := n.b.Publish([]byte("f"), []byte("x")); !errors.Is(err, broker.ErrUnavailable) {
			t.Fatalf("publish while down: %v", err)
		}
	}
	a.Subscribe("g")
	b.Unsubscribe("f")
	r.start()
	for _, n := range []*node{a, b} {
		if h := n.nextState(t); !h.Up {
			t.Fatalf("want up, got %+v", h)
		}
	}
	if f, g := r.subs("f"), r.subs("g"); f != 1 || g != 1 {
		t.Fatalf("up before the subscriptions were back: f=%d g=%d", f, g)
	}
	mustPublish(t, b, "f", "after")
	a.expect(t, "f", "after")
	mustPublish(t, b, "g", "after")
	a.expect(t, "g", "after")
	if st := a.b.Stats(); st.Downs != 1 || st.Refused == 0 {
		t.Fatalf("stats %+v", st)
	}
	a.noMoreStates(t)
}

type msg struct{ channel, frame string }

// node is a broker with its handlers' calls recorded.
type node struct {
	b      broker.Broker
	msgs   chan msg
	states chan broker.Health
}

func open(t *testing.T, cfg broker.Config) *node {
	t.Helper()
	n := &node{msgs: make(chan msg, 100), states: make(chan broker.Health, 100)}
	b, err := broker.Open(cfg, broker.Handlers{
		Message: func(ch, frame []byte) { n.msgs <- msg{string(ch), string(frame)} },
		State:   func(h broker.Health) { n.states <- h },
	})
	if err != nil {
		t.Fatal(err)
	}
	n.b = b
	t.Cleanup(func() { b.Close() })
	return n
}

func (n *node) Subscribe(ch string)   { n.b.Subscribe([]byte(ch)) }
func (n *node) Unsubscribe(ch string) { n.b.Unsubscribe([]byte(ch)) }

func (n *node) waitUp(t *testing.T) {
	t.Helper()
	if h := n.nextState(t); !h.Up {
		t.Fatalf("first state: %+v", h)
	}
}

func (n *node) nextState(t *testing.T) broker.Health {
	t.Helper()
	select {
	case h := <-n.states:
		return h
	case <-time.After(10 * time.Second):
		t.Fatal("no state change within 10s")
	}
	return broker.Health{}
}

func (n *node) noMoreStates(t *testing.T) {
	t.Helper()
	select {
	case h := <-n.states:
		t.Fatalf("unexpected state change %+v", h)
	default:
	}
}

func (n *node) expect(t *testing.T, ch, frame string) {
	t.Helper()
	select {
	case m := <-n.msgs:
		if m != (msg{ch, frame}) {
			t.Fatalf("got %+v, want %s %s", m, ch, frame)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("nothing on %s within 5s", ch)
	}
}

// tryExpect reports whether the next message, if any comes soon, is frame.
func (n *node) tryExpect(ch, frame string) bool {
	select {
	case m := <-n.msgs:
		return m == msg{ch, frame}
	case <-time.After(50 * time.Millisecond):
		return false
	}
}

func (n *node) drain() {
	for {
		select {
		case <-n.msgs:
		case <-time.After(100 * time.Millisecond):
			return
		}
	}
}

// expectNothing checks that no message comes in a short quiet period.
func (n *node) expectNothing(t *testing.T) {
	t.Helper()
	select {
	case m := <-n.msgs:
		t.Fatalf("unexpected message %+v", m)
	case <-time.After(150 * time.Millisecond):
	}
}

func mustPublish(t *testing.T, n *node, ch, frame string) {
	t.Helper()
	if err := n.b.Publish([]byte(ch), []byte(frame)); err != nil {
		t.Fatal(fmt.Errorf("publish %s: %w", ch, err))
	}
}

// openControlled is open with the Filtered and Control handlers too: a
// filtered publication arrives as frame "<filter>|<frame>", a control
// message on channel "!control".
func openControlled(t *testing.T, cfg broker.Config) *node {
	t.Helper()
	n := &node{msgs: make(chan msg, 100), states: make(chan broker.Health, 100)}
	b, err := broker.Open(cfg, broker.Handlers{
		Message:  func(ch, frame []byte) { n.msgs <- msg{string(ch), string(frame)} },
		Filtered: func(ch, filter, frame []byte) { n.msgs <- msg{string(ch), string(filter) + "|" + string(frame)} },
		Control:  func(p []byte) { n.msgs <- msg{"!control", string(p)} },
		State:    func(h broker.Health) { n.states <- h },
	})
	if err != nil {
		t.Fatal(err)
	}
	n.b = b
	t.Cleanup(func() { b.Close() })
	return n
}

// testFilteredAndControl: a filtered publication reaches the other node
// with its filter, an unfiltered one as before; a control message reaches
// every other node that wants them, on no client channel, and not its
// sender; the control channel is not counted as a subscription.
func testFilteredAndControl(t *testing.T, cfg broker.Config, wait bool) {
	a, b, c := openControlled(t, cfg), openControlled(t, cfg), openControlled(t, cfg)
	if wait {
		a.waitUp(t)
		b.waitUp(t)
		c.waitUp(t)
	}
	a.Subscribe("room")
	testutil.Eventually(t, "a subscribed", func() bool {
		b.b.Publish([]byte("room"), []byte("probe"))
		return a.tryExpect("room", "probe")
	})
	a.drain()
	if err := b.b.PublishFiltered([]byte("room"), []byte("\x01\x00"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	a.expect(t, "room", "\x01\x00|x")
	if err := b.b.PublishFiltered([]byte("room"), []byte{}, []byte("y")); err != nil {
		t.Fatal(err)
	}
	a.expect(t, "room", "|y")
	mustPublish(t, b, "room", "z")
	a.expect(t, "room", "z")
	if err := b.b.Control([]byte(`{"kick":1}`)); err != nil {
		t.Fatal(err)
	}
	a.expect(t, "!control", `{"kick":1}`)
	c.expect(t, "!control", `{"kick":1}`)
	b.expectNothing(t)
	c.expectNothing(t)
	if st := a.b.Stats(); st.Subscriptions != 1 {
		t.Fatalf("a counts %d subscriptions, want 1 (the control channel is not one)", st.Subscriptions)
	}
	if st := b.b.Stats(); st.Subscriptions != 0 {
		t.Fatalf("b counts %d subscriptions, want 0", st.Subscriptions)
	}
}

func TestFilteredAndControlMemory(t *testing.T) {
	testFilteredAndControl(t, broker.Config{URL: "memory://" + t.Name()}, false)
}

func TestFilteredAndControlRedis(t *testing.T) {
	r := brokertest.StartRedis(t)
	testFilteredAndControl(t, broker.Config{Driver: "redis", URL: r.URL()}, true)
}

func TestFilteredAndControlNATS(t *testing.T) {
	n := brokertest.StartNATS(t)
	testFilteredAndControl(t, broker.Config{Driver: "nats", URL: n.URL()}, true)
}

func TestFilteredAndControlRedisCluster(t *testing.T) {
	c := brokertest.StartCluster(t, 3, 0)
	testFilteredAndControl(t, clusterConfig(c), true)
}
