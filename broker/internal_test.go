package broker

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestEnvelopeRoundTripAndRefusals(t *testing.T) {
	node, _ := newNodeID()
	frame := []byte("\x81\x02hi")
	p := appendEnvelope(nil, node, nil, frame)
	if want := 2 + nodeIDLen + len(frame); len(p) != want || p[0] != 'w' {
		t.Fatalf("len %d, want %d", len(p), want)
	}
	id, filter, got, ok := openEnvelope(p)
	if !ok || !bytes.Equal(id, node[:]) || !bytes.Equal(got, frame) || filter != nil {
		t.Fatalf("open: %x %q %q %v", id, filter, got, ok)
	}
	for _, f := range [][]byte{{}, []byte("\x01\x00\x00\x00"), bytes.Repeat([]byte("u"), 70000)} {
		p := appendEnvelope(nil, node, f, frame)
		if want := 2 + nodeIDLen + 4 + len(f) + len(frame); len(p) != want || p[0] != 'f' {
			t.Fatalf("filtered: len %d, want %d", len(p), want)
		}
		id, filter, got, ok := openEnvelope(p)
		if !ok || !bytes.Equal(id, node[:]) || !bytes.Equal(got, frame) || filter == nil || !bytes.Equal(filter, f) {
			t.Fatalf("open filtered: %x %q %q %v", id, filter, got, ok)
		}
	}
	for _, bad := range [][]byte{nil, {'w'}, []byte("hello"), {'w', 8, 1, 2}, appendEnvelope(nil, node, nil, nil),
		appendEnvelope(nil, node, []byte("x"), nil), {'f', 0, 0, 0, 0, 9, 'x'}, {'f', 0, 0, 0}, {'f', 0, 0xff, 0xff, 0xff, 0xff, 'x'}} {
		if _, _, _, ok := openEnvelope(bad); ok {
			t.Errorf("accepted %q", bad)
		}
	}
}

// FuzzOpenEnvelope: whatever a broker hands a node, openEnvelope refuses
// it or splits it into parts that wrap back into the same bytes.
func FuzzOpenEnvelope(f *testing.F) {
	node, _ := newNodeID()
	f.Add(appendEnvelope(nil, node, nil, []byte("\x81\x01x")))
	f.Add(appendEnvelope(nil, node, []byte("\x01\x01\x00\x00"), []byte("\x81\x01x")))
	f.Fuzz(func(t *testing.T, p []byte) {
		id, filter, frame, ok := openEnvelope(p)
		if !ok || len(id) != nodeIDLen {
			return
		}
		again := appendEnvelope(nil, nodeID(id), filter, frame)
		if !bytes.Equal(again, p) {
			t.Fatalf("%q opened to %q %q %q, which wrap to %q", p, id, filter, frame, again)
		}
	})
}

func TestCountersSkipOwnAndMalformed(t *testing.T) {
	self, _ := newNodeID()
	other, _ := newNodeID()
	var c counters
	if _, _, ok := c.accept(self, appendEnvelope(nil, self, nil, []byte("x"))); ok {
		t.Fatal("own publication accepted")
	}
	if _, _, ok := c.accept(self, []byte("junk")); ok {
		t.Fatal("junk accepted")
	}
	if _, f, ok := c.accept(self, appendEnvelope(nil, other, nil, []byte("x"))); !ok || string(f) != "x" {
		t.Fatal("other node's publication refused")
	}
	if c.own.Load() != 1 || c.dropped.Load() != 1 || c.received.Load() != 1 {
		t.Fatalf("own %d dropped %d received %d", c.own.Load(), c.dropped.Load(), c.received.Load())
	}
}

func TestSubjectsRoundTripAnyChannelName(t *testing.T) {
	n := &natsBroker{cfg: Config{Prefix: "wsify"}}
	for _, name := range []string{"news", "a-b_C9", "news.sport", "x y", "*", ">", "é", "c.x", "b.eA"} {
		subj := n.subject([]byte(name))
		got, ok := n.channelOf(subj)
		if !ok || string(got) != name {
			t.Errorf("%q -> %q -> %q %v", name, subj, got, ok)
		}
	}
	if got := n.subject([]byte("news")); got != "wsify.c.news" {
		t.Errorf("plain name: %q", got)
	}
	if n.subject([]byte("c.x")) == n.subject([]byte("x")) {
		t.Error("two names share a subject")
	}
}

func TestWishlistKeepsLatestWishAndReplaysAll(t *testing.T) {
	w := newWishlist()
	w.set([]byte("a"), true)
	w.set([]byte("b"), true)
	w.set([]byte("b"), false)
	sub, unsub := w.changes()
	if !slices.Equal(sub, []string{"a"}) || !slices.Equal(unsub, []string{"b"}) {
		t.Fatalf("sub %v unsub %v", sub, unsub)
	}
	if sub, unsub := w.changes(); len(sub)+len(unsub) != 0 {
		t.Fatalf("changes drained twice: %v %v", sub, unsub)
	}
	w.set([]byte("c"), true)
	all := w.all()
	slices.Sort(all)
	if !slices.Equal(all, []string{"a", "c"}) {
		t.Fatalf("all %v", all)
	}
	if sub, _ := w.changes(); len(sub) != 0 {
		t.Fatal("all must absorb pending changes")
	}
}

func TestConfigDefaultsAndValidation(t *testing.T) {
	if c := (Config{}).WithDefaults(); c.Driver != "memory" || c.URL != "" || c.Prefix != "wsify" {
		t.Fatalf("zero config: %+v", c)
	}
	if c := (Config{Driver: "redis"}).WithDefaults(); c.URL != "redis://127.0.0.1:6379" {
		t.Fatalf("redis default URL %q", c.URL)
	}
	for _, ok := range []Config{{}, {Driver: "memory", URL: "memory://x"}, {Driver: "nats", URL: "nats://a:1,nats://b:2"},
		{Driver: "redis", URL: "rediss://u:p@h:1/2"}} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	for _, bad := range []Config{{Driver: "kafka"}, {Driver: "redis", URL: "nats://x"}, {Driver: "nats", URL: "redis://x"},
		{Driver: "nats", Prefix: "a..b"}, {Driver: "nats", Prefix: "a*"}, {MinBackoff: -1}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestNATSWritesGiveUpWithinTheTimeout: nats.go's default lets a stuck
// server hold every Publish for a minute.
func TestNATSWritesGiveUpWithinTheTimeout(t *testing.T) {
	n := &natsBroker{cfg: Config{Driver: "nats", Timeout: 300 * time.Millisecond}.WithDefaults()}
	o := nats.GetDefaultOptions()
	for _, opt := range n.options() {
		if err := opt(&o); err != nil {
			t.Fatal(err)
		}
	}
	if o.FlusherTimeout != 300*time.Millisecond || !o.ReconnectOnFlusherError {
		t.Fatalf("flusher timeout %v, reconnect on flusher error %v; want 300ms, true", o.FlusherTimeout, o.ReconnectOnFlusherError)
	}
}
