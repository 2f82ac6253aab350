package wheel

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The wheel's arithmetic is tested by driving expire with a clock of the
// test's own, on a wheel whose ticker (an hour) never runs during the
// test: every case is exact, whatever the machine's load. The tests at the
// end run the real clock and poll with a deadline instead.

const hour = int64(time.Hour)

// manual returns a wheel driven by hand and the start of its next tick.
func manual(t *testing.T) (*Wheel[int], time.Time) {
	w := New(time.Hour, func(int) { t.Error("the ticker fired during the test") })
	t.Cleanup(w.Close)
	return w, time.Unix(0, (w.last+1)*hour)
}

// at is tick i of the test's clock, plus a fraction of a tick.
func at(base time.Time, ticks float64) time.Time {
	return base.Add(time.Duration(ticks * float64(hour)))
}

func TestWheelSetClearArmed(t *testing.T) {
	w, base := manual(t)
	if w.Armed(1) {
		t.Fatal("armed before Set")
	}
	w.Set(1, at(base, 2))
	w.Set(2, at(base, 2))
	if !w.Armed(1) || !w.Armed(2) {
		t.Fatal("not armed after Set")
	}
	w.Clear(1)
	w.Clear(3) // never set: nothing to do
	if w.Armed(1) || !w.Armed(2) {
		t.Fatalf("after Clear(1): armed %v %v, want false true", w.Armed(1), w.Armed(2))
	}
	if due := w.expire(at(base, 5)); !slices.Equal(due, []int{2}) {
		t.Fatalf("due %v, want [2]: a cleared key fired, or a set one did not", due)
	}
	if w.Armed(2) {
		t.Fatal("still armed after firing")
	}
}

// TestWheelFiresOnceAtTheFirstTickAfterTheDeadline drives the clock in
// quarter ticks: a key fires at the first expire at or after its deadline,
// not before, never twice, and not later than a tick after it.
func TestWheelFiresOnceAtTheFirstTickAfterTheDeadline(t *testing.T) {
	for _, c := range []struct {
		name     string
		deadline float64 // in ticks from base
	}{
		{"at a tick", 3},
		{"early in a tick", 3.01},
		{"mid-tick", 3.5},
		{"late in a tick", 3.99},
		{"already past", -2},
		{"now", 0},
		{"after the wheel comes round", 64*2 + 3.5},
	} {
		w, base := manual(t)
		w.Set(7, at(base, c.deadline))
		var fired []float64
		for q := 0.0; q <= c.deadline+4; q += 0.25 {
			for range w.expire(at(base, q)) {
				fired = append(fired, q)
			}
		}
		if len(fired) != 1 {
			t.Errorf("%s: fired at %v, want once", c.name, fired)
			continue
		}
		if f := fired[0]; f < c.deadline || f > max(c.deadline, 0)+1 {
			t.Errorf("%s: deadline %v fired at %v: want within a tick after it", c.name, c.deadline, f)
		}
	}
}

// TestWheelLateDeadlineInItsTickIsNotSkipped: the clock looks at a tick
// before a deadline later in that tick has passed, then moves on; the key
// must fire at the next tick, not when the wheel comes round again.
func TestWheelLateDeadlineInItsTickIsNotSkipped(t *testing.T) {
	w, base := manual(t)
	w.Set(1, at(base, 1.75))
	if due := w.expire(at(base, 1.25)); len(due) != 0 {
		t.Fatalf("fired early: %v", due)
	}
	if due := w.expire(at(base, 2)); !slices.Equal(due, []int{1}) {
		t.Fatalf("at the next tick: due %v, want [1]", due)
	}
}

func TestWheelSetReplaces(t *testing.T) {
	w, base := manual(t)
	w.Set(1, at(base, 2))
	w.Set(1, at(base, 10)) // later
	w.Set(2, at(base, 10))
	w.Set(2, at(base, 2)) // earlier
	if due := w.expire(at(base, 5)); !slices.Equal(due, []int{2}) {
		t.Fatalf("by tick 5: due %v, want [2] (1's deadline moved to 10)", due)
	}
	if due := w.expire(at(base, 10)); !slices.Equal(due, []int{1}) {
		t.Fatalf("at tick 10: due %v, want [1], once", due)
	}
}

// TestWheelClockJump: a clock that jumps many ticks (a stalled ticker)
// fires everything due, once, and a tick of the wheel is visited once.
func TestWheelClockJump(t *testing.T) {
	w, base := manual(t)
	for k := range 200 {
		w.Set(k, at(base, float64(k)/2))
	}
	due := w.expire(at(base, 1000))
	slices.Sort(due)
	if len(due) != 200 || due[0] != 0 || due[199] != 199 {
		t.Fatalf("after a jump of 1000 ticks, %d of 200 keys fired", len(due))
	}
	if w.expire(at(base, 2000)) != nil {
		t.Fatal("fired again")
	}
}

// poll waits for cond, failing the test after a deadline that no machine
// under load should reach.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%s: not after 10s", what)
		}
	}
}

// TestWheelRealClock runs the wheel on its own ticker: a key fires after
// its deadline and only once, which a later key, set after it fired and
// fired itself, shows.
func TestWheelRealClock(t *testing.T) {
	var mu sync.Mutex
	firedAt := map[string][]time.Time{}
	const tick = 5 * time.Millisecond
	w := New(tick, func(k string) {
		mu.Lock()
		firedAt[k] = append(firedAt[k], time.Now())
		mu.Unlock()
	})
	defer w.Close()
	fired := func(k string) int { mu.Lock(); defer mu.Unlock(); return len(firedAt[k]) }
	deadline := time.Now().Add(3 * tick)
	w.Set("a", deadline)
	poll(t, "a firing", func() bool { return fired("a") > 0 })
	if w.Armed("a") {
		t.Error("armed after firing")
	}
	w.Set("b", time.Now().Add(4*tick))
	poll(t, "b firing", func() bool { return fired("b") > 0 })
	mu.Lock()
	defer mu.Unlock()
	if len(firedAt["a"]) != 1 || firedAt["a"][0].Before(deadline) {
		t.Fatalf("a, due %v, fired at %v: want once, not before", deadline, firedAt["a"])
	}
}

// TestTickingCloseWaits: Close returns only after the call under way, and
// no call starts after it.
func TestTickingCloseWaits(t *testing.T) {
	var calls atomic.Int64
	inCall, release := make(chan struct{}), make(chan struct{})
	tk := StartTicking(time.Millisecond, func(time.Time) {
		if calls.Add(1) == 1 {
			close(inCall)
			<-release
		}
	})
	<-inCall
	closed := make(chan struct{})
	go func() { tk.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned during a call")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	poll(t, "Close", func() bool {
		select {
		case <-closed:
			return true
		default:
			return false
		}
	})
	n := calls.Load()
	time.Sleep(20 * time.Millisecond) // twenty ticks in which nothing may run
	if calls.Load() != n {
		t.Fatalf("%d calls after Close", calls.Load()-n)
	}
}
