package hub_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wsify/wsify/hub"
)

// joinLeaveSteps drives TestJoinLeave: each step joins or leaves, with the
// result it must report and the counts after it.
var joinLeaveSteps = []struct {
	why      string
	leave    bool
	channel  string
	sub      int
	want     bool
	channels int // h.Channels() after the step
	subs     int // h.Subscribers(channel) after the step
}{
	{"first join creates the channel", false, "a", 0, true, 1, 1},
	{"double join is a no-op", false, "a", 0, false, 1, 1},
	{"second subscriber is not first", false, "a", 1, false, 1, 2},
	{"first of another channel", false, "b", 1, true, 2, 1},
	{"leave by a stranger is a no-op", true, "a", 2, false, 2, 2},
	{"leave of an unknown channel creates nothing", true, "c", 0, false, 2, 0},
	{"leave of one of two keeps the channel", true, "a", 0, false, 2, 1},
	{"double leave is a no-op", true, "a", 0, false, 2, 1},
	{"last leave removes the channel", true, "a", 1, true, 1, 0},
	{"leave after removal is a no-op", true, "a", 1, false, 1, 0},
	{"rejoin is first again", false, "a", 0, true, 2, 1},
	{"last leave of b", true, "b", 1, true, 1, 0},
	{"last leave of a", true, "a", 0, true, 0, 0},
}

func TestJoinLeave(t *testing.T) {
	h := hub.New(hub.Config{})
	subs := newSubs(3, false)
	for _, st := range joinLeaveSteps {
		var got bool
		if st.leave {
			got = h.Leave([]byte(st.channel), subs[st.sub])
		} else {
			got = h.Join([]byte(st.channel), subs[st.sub])
		}
		if got != st.want || h.Channels() != st.channels || h.Subscribers([]byte(st.channel)) != st.subs {
			t.Fatalf("%s: got %v, %d channels, %d subscribers; want %v, %d, %d", st.why,
				got, h.Channels(), h.Subscribers([]byte(st.channel)), st.want, st.channels, st.subs)
		}
	}
}

// TestJoinCopiesName reuses the name buffer after Join, as the server does
// with its read buffer: the hub must have kept its own copy.
func TestJoinCopiesName(t *testing.T) {
	h := hub.New(hub.Config{})
	name := []byte("news")
	h.Join(name, &memSub{})
	copy(name, "xxxx")
	if h.Subscribers([]byte("news")) != 1 || h.Subscribers(name) != 0 {
		t.Fatal("the channel changed name with the caller's buffer")
	}
}

// TestJoinLeaveConcurrent joins and leaves at random from several
// goroutines sharing channels. Each channel must report as many firsts as
// lasts, and the hub must be empty once everyone has left.
func TestJoinLeaveConcurrent(t *testing.T) {
	const goroutines, ops, channels = 4, 3000, 16
	h := hub.New(hub.Config{})
	var firsts, lasts [channels]atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			if err := churn(h, r, ops, firsts[:], lasts[:]); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if h.Channels() != 0 {
		t.Errorf("%d channels left after everyone left", h.Channels())
	}
	for i := range channels {
		if f, l := firsts[i].Load(), lasts[i].Load(); f != l || f == 0 || h.Subscribers(channelName(i)) != 0 {
			t.Errorf("channel %d: %d firsts, %d lasts, %d subscribers", i, f, l, h.Subscribers(channelName(i)))
		}
	}
}

func channelName(i int) []byte { return fmt.Appendf(nil, "ch-%d", i) }

// churn makes ops random joins and leaves with 8 subscribers of its own,
// then leaves everything. It checks what it can know alone: joining twice
// and leaving what it never joined report false.
func churn(h *hub.Hub, r *rand.Rand, ops int, firsts, lasts []atomic.Int64) error {
	subs := newSubs(8, false)
	joined := make(map[[2]int]bool)
	for range ops {
		ch, s := r.IntN(len(firsts)), r.IntN(len(subs))
		key := [2]int{ch, s}
		if err := toggle(h, channelName(ch), subs[s], joined[key], firsts[ch:], lasts[ch:]); err != nil {
			return err
		}
		joined[key] = !joined[key]
	}
	for key, in := range joined {
		if in {
			if h.Leave(channelName(key[0]), subs[key[1]]) {
				lasts[key[0]].Add(1)
			}
		}
	}
	return nil
}

// toggle leaves name when in, joins it otherwise, counting firsts and lasts
// in first[0] and last[0]; a repeated join or leave must report false.
func toggle(h *hub.Hub, name []byte, s *memSub, in bool, first, last []atomic.Int64) error {
	if in {
		if h.Join(name, s) {
			return fmt.Errorf("%s: second join reported first", name)
		}
		if h.Leave(name, s) {
			last[0].Add(1)
		}
		return nil
	}
	if h.Leave(name, s) {
		return fmt.Errorf("%s: leave of a channel never joined reported last", name)
	}
	if h.Join(name, s) {
		first[0].Add(1)
	}
	return nil
}
