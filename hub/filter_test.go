package hub_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/wsify/wsify/hub"
)

// whoSub is a subscriber that knows who it is and checks itself against
// a publication's filter, as a connection does.
type whoSub struct {
	memSub
	id, user string
}

func (s *whoSub) Enqueue(m *hub.Message) bool {
	if f := m.Filter; f != nil && (!f.AdmitsUser(s.user) || string(f.Except()) == s.id) {
		m.Skip()
		return false
	}
	return s.memSub.Enqueue(m)
}

func users(names ...string) [][]byte {
	out := make([][]byte, len(names))
	for i, n := range names {
		out[i] = []byte(n)
	}
	return out
}

// TestPublishFilteredCountsWhoItReached: a filtered publication reaches
// the subscribers the filter admits, and the count says how many, for
// short user lists (scanned) and long ones (hashed); no filter reaches all.
func TestPublishFilteredCountsWhoItReached(t *testing.T) {
	h := hub.New(hub.Config{})
	subs := []*whoSub{{id: "n-1", user: "alice"}, {id: "n-2", user: "alice"}, {id: "n-3", user: "bob"}, {id: "n-4"}}
	for _, s := range subs {
		s.record = true
		h.Join([]byte("c"), s)
	}
	long := users("x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "bob")
	for _, c := range []struct {
		f    *hub.Filter
		want []int // indexes of the subs that get it
	}{
		{nil, []int{0, 1, 2, 3}},
		{hub.NewFilter(true, users("alice"), nil), []int{0, 1}},
		{hub.NewFilter(true, users("alice"), []byte("n-2")), []int{0}},
		{hub.NewFilter(false, nil, []byte("n-3")), []int{0, 1, 3}},
		{hub.NewFilter(true, nil, nil), nil},
		{hub.NewFilter(true, long, nil), []int{2}},
	} {
		before := make([]int, len(subs))
		for i, s := range subs {
			before[i] = len(s.delivered())
		}
		if n := h.PublishFiltered([]byte("c"), []byte("x"), c.f); n != len(c.want) {
			t.Errorf("filter %+v: reached %d, want %d", c.f, n, len(c.want))
		}
		for i, s := range subs {
			got := len(s.delivered()) - before[i]
			want := 0
			for _, j := range c.want {
				if j == i {
					want = 1
				}
			}
			if got != want {
				t.Errorf("filter %+v: subscriber %d got %d frames, want %d", c.f, i, got, want)
			}
		}
	}
}

func TestFilterEncodingRoundTrip(t *testing.T) {
	for _, f := range []*hub.Filter{
		hub.NewFilter(false, nil, []byte("n-7")),
		hub.NewFilter(true, nil, nil),
		hub.NewFilter(true, users("alice", "", "b\x00b"), []byte("n-1")),
		hub.NewFilter(true, users(fmt.Sprint(make([]int, 300))), nil),
	} {
		g, err := hub.ParseFilter(f.Encoded())
		if err != nil {
			t.Fatalf("%q: %v", f.Encoded(), err)
		}
		if !bytes.Equal(g.Encoded(), f.Encoded()) || !bytes.Equal(g.Except(), f.Except()) {
			t.Fatalf("%q parsed to %q", f.Encoded(), g.Encoded())
		}
		for _, u := range []string{"alice", "", "b\x00b", "bob"} {
			if g.AdmitsUser(u) != f.AdmitsUser(u) {
				t.Fatalf("%q: admits %q: %v, the original %v", f.Encoded(), u, g.AdmitsUser(u), f.AdmitsUser(u))
			}
		}
	}
	for _, bad := range []string{"", "\x01", "\x02\x00\x00\x00", "\x01\x02\x00\x00", "\x01\x00\x05ab\x00", "\x01\x01\x00\x03\x01a", "\x01\x00\x00\x00x"} {
		if _, err := hub.ParseFilter([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// FuzzParseFilter: any bytes from another node either parse to a filter
// that carries them unchanged (Encoded) and whose excluded id lies within
// them, or are refused; none crashes.
func FuzzParseFilter(f *testing.F) {
	f.Add(hub.NewFilter(true, users("alice", "bob"), []byte("n-1")).Encoded(), "alice")
	f.Add(hub.NewFilter(true, users("a", "b", "c", "d", "e", "f", "g", "h", "i"), nil).Encoded(), "i")
	f.Add(hub.NewFilter(false, nil, []byte("n-2")).Encoded(), "")
	f.Fuzz(func(t *testing.T, p []byte, user string) {
		g, err := hub.ParseFilter(p)
		if err != nil {
			return
		}
		if !bytes.Equal(g.Encoded(), p) || !bytes.Contains(p, g.Except()) {
			t.Fatalf("%q: encoded %q, except %q", p, g.Encoded(), g.Except())
		}
		g.AdmitsUser(user)
	})
}
