package hub_test

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsify/wsify/hub"
)

type clock struct{ t atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *clock) advance(d time.Duration) { c.t.Add(int64(d)) }

func historyHub(size int, ttl time.Duration, maxBytes int64) (*hub.Hub, *clock) {
	c := &clock{}
	c.t.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	h := hub.New(hub.Config{
		Retention: func(name []byte) hub.Retention {
			if name[0] == 'h' {
				return hub.Retention{Size: size, TTL: ttl}
			}
			return hub.Retention{}
		},
		MaxHistoryBytes: maxBytes, Epoch: "e", Now: c.now,
	})
	return h, c
}

func frameOf(offset uint64) *hub.Message {
	return hub.NewMessage([]byte(strconv.FormatUint(offset, 10)), nil)
}

func publishN(t *testing.T, h *hub.Hub, name string, n int) hub.Position {
	t.Helper()
	var pos hub.Position
	for range n {
		var ok bool
		if pos, _, ok = h.PublishAt([]byte(name), frameOf); !ok {
			t.Fatalf("%s keeps no history", name)
		}
	}
	return pos
}

func got(s *memSub) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.got))
	for i, f := range s.got {
		out[i] = string(f)
	}
	return out
}

func TestOffsetsCountFromOneAndAJoinRecoversWhatItMissed(t *testing.T) {
	h, _ := historyHub(10, time.Minute, 0)
	if _, _, ok := h.PublishAt([]byte("plain"), frameOf); ok {
		t.Fatal("a channel without retention took a publication with an offset")
	}
	pos := publishN(t, h, "hist", 5)
	if pos.Offset != 5 || pos.Epoch == "" {
		t.Fatalf("position %+v", pos)
	}
	s := &memSub{record: true}
	var replied hub.Position
	var recovered bool
	first, ok := h.JoinAt([]byte("hist"), s, &hub.Position{Offset: 2, Epoch: pos.Epoch}, func(p hub.Position, r bool, missed []*hub.Message) {
		replied, recovered = p, r
		replay(s, missed)
	})
	if !first || !ok || !recovered || replied != pos {
		t.Fatalf("join: first %v ok %v recovered %v at %+v", first, ok, recovered, replied)
	}
	publishN(t, h, "hist", 1)
	s.Flush()
	if g := fmt.Sprint(got(s)); g != "[3 4 5 6]" {
		t.Fatalf("delivered %s", g)
	}
	if h.Channels() != 1 {
		t.Fatalf("%d channels", h.Channels())
	}
	for name, since := range map[string]hub.Position{
		"another epoch":   {Offset: 2, Epoch: "x"},
		"from the future": {Offset: 9, Epoch: pos.Epoch},
	} {
		s2 := &memSub{record: true}
		h.JoinAt([]byte("hist"), s2, &since, func(_ hub.Position, r bool, missed []*hub.Message) { recovered = r; replay(s2, missed) })
		s2.Flush()
		if recovered || len(got(s2)) != 0 {
			t.Errorf("%s: recovered %v, replayed %v", name, recovered, got(s2))
		}
	}
}

func TestHistoryIsBoundedBySizeAndTTL(t *testing.T) {
	h, c := historyHub(3, time.Minute, 0)
	pos := publishN(t, h, "hist", 5)
	var offsets []uint64
	var frames []string
	read := func(since *hub.Position, limit int) bool {
		var rec bool
		offsets, frames = nil, nil
		h.History([]byte("hist"), since, limit, func(pubs []*hub.Message, first uint64, r bool) {
			rec = r
			for i, m := range pubs {
				offsets = append(offsets, first+uint64(i))
				frames = append(frames, string(m.Frame))
			}
		})
		return rec
	}
	read(nil, -1)
	if fmt.Sprint(offsets, frames) != "[3 4 5] [3 4 5]" {
		t.Fatalf("kept %v %v", offsets, frames)
	}
	read(nil, 2)
	if fmt.Sprint(offsets) != "[4 5]" {
		t.Fatalf("latest 2: %v", offsets)
	}
	if !read(&hub.Position{Offset: 2, Epoch: pos.Epoch}, 1) || fmt.Sprint(offsets) != "[3]" {
		t.Fatalf("after 2, limit 1: %v", offsets)
	}
	if read(&hub.Position{Offset: 1, Epoch: pos.Epoch}, -1) || offsets != nil {
		t.Fatalf("publication 2 was trimmed, yet after 1 gave %v", offsets)
	}
	c.advance(30 * time.Second)
	publishN(t, h, "hist", 1)
	c.advance(31 * time.Second)
	read(nil, -1)
	if fmt.Sprint(offsets) != "[6]" {
		t.Fatalf("after the TTL of 3..5: %v", offsets)
	}
	c.advance(time.Minute)
	h.Sweep()
	if p, _ := h.Position([]byte("hist")); p.Offset != 0 || p.Epoch == pos.Epoch {
		t.Fatalf("an expired, unjoined history survived the sweep: %+v", p)
	}
}

func TestTheMemoryBoundDropsTheOldestHistoriesAndChangesTheirEpochs(t *testing.T) {
	h, c := historyHub(100, time.Hour, 4000)
	s := &memSub{record: true}
	h.JoinAt([]byte("hold"), s, nil, func(hub.Position, bool, []*hub.Message) {})
	old := publishN(t, h, "hold", 10)
	c.advance(time.Second)
	publishN(t, h, "hnew", 10)
	if h.HistoriesDropped() != 0 {
		t.Fatalf("dropped %d under the bound (%d bytes)", h.HistoriesDropped(), h.HistoryBytes())
	}
	c.advance(time.Second)
	publishN(t, h, "hnew", 80)
	if h.HistoriesDropped() == 0 || h.HistoryBytes() > 4000 {
		t.Fatalf("dropped %d, %d bytes", h.HistoriesDropped(), h.HistoryBytes())
	}
	p, _ := h.Position([]byte("hold"))
	if p.Epoch == old.Epoch || p.Offset != old.Offset {
		t.Fatalf("the oldest history was not dropped with a new epoch: %+v, was %+v", p, old)
	}
	if next := publishN(t, h, "hold", 1); next.Offset != 11 {
		t.Fatalf("offsets restarted after a drop: %+v", next)
	}
}

// TestAJoinDuringPublicationsMissesNothingAndGetsNothingTwice races
// recovering joins against a publisher: each joiner must see every offset
// after the one it named exactly once, in order.
func TestAJoinDuringPublicationsMissesNothingAndGetsNothingTwice(t *testing.T) {
	h, _ := historyHub(10000, time.Hour, 0)
	const total = 2000
	epoch := publishN(t, h, "hist", 50).Epoch
	var wg sync.WaitGroup
	wg.Go(func() { publishN(t, h, "hist", total-50) })
	subs := make([]*memSub, 20)
	for i := range subs {
		subs[i] = &memSub{record: true}
		var recovered bool
		h.JoinAt([]byte("hist"), subs[i], &hub.Position{Offset: uint64(i), Epoch: epoch}, func(_ hub.Position, r bool, missed []*hub.Message) { recovered = r; replay(subs[i], missed) })
		if !recovered {
			t.Fatalf("joiner %d not recovered", i)
		}
	}
	wg.Wait()
	for i, s := range subs {
		s.Flush()
		g := got(s)
		if len(g) != total-i {
			t.Fatalf("joiner %d got %d publications, want %d", i, len(g), total-i)
		}
		for j, f := range g {
			if f != strconv.Itoa(i+j+1) {
				t.Fatalf("joiner %d: publication %d is %s", i, j, f)
			}
		}
	}
}

func replay(s *memSub, missed []*hub.Message) {
	for _, m := range missed {
		s.Enqueue(m)
	}
}
