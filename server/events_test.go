package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/events"
	"github.com/wsify/wsify/server"
)

// eventEndpoint is a real HTTP endpoint that records the batches it takes;
// refuse, when set, decides which requests it answers 500 instead.
type eventEndpoint struct {
	srv     *httptest.Server
	mu      sync.Mutex
	batches [][]events.Event
	calls   atomic.Int32
	refuse  func(call int32) bool
}

func newEventEndpoint(t *testing.T, refuse func(call int32) bool) *eventEndpoint {
	e := &eventEndpoint{refuse: refuse}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		call := e.calls.Add(1)
		if e.refuse != nil && e.refuse(call) {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var batch []events.Event
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &batch); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		e.mu.Lock()
		e.batches = append(e.batches, batch)
		e.mu.Unlock()
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *eventEndpoint) all() (evs []events.Event, batches int, largest int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, b := range e.batches {
		evs = append(evs, b...)
		largest = max(largest, len(b))
	}
	return evs, len(e.batches), largest
}

func count(evs []events.Event, kind events.Kind, channel string) int {
	n := 0
	for _, ev := range evs {
		if ev.Kind == kind && ev.Channel == channel {
			n++
		}
	}
	return n
}

// TestEventsArriveInBatches: every connect, join, leave and disconnect
// reaches the webhook, in requests of at most MaxBatch events.
func TestEventsArriveInBatches(t *testing.T) {
	e := newEventEndpoint(t, nil)
	s := start(t, server.Config{Events: events.Config{URL: e.srv.URL, MaxBatch: 10, MaxDelay: 50 * time.Millisecond, Grace: -1}})
	for range 5 {
		c := dial(t, s)
		for _, ch := range []string{"a", "b", "c"} {
			joinSync(t, c, ch)
		}
		closeNormally(t, c)
	}
	eventually(t, "40 events", func() bool { evs, _, _ := e.all(); return len(evs) == 40 })
	evs, batches, largest := e.all()
	if largest > 10 || batches < 4 {
		t.Fatalf("%d batches, the largest of %d: want batches of at most 10", batches, largest)
	}
	if count(evs, events.Connect, "") != 5 || count(evs, events.Disconnect, "") != 5 ||
		count(evs, events.Join, "b") != 5 || count(evs, events.Leave, "c") != 5 {
		t.Fatalf("events: %+v", evs)
	}
	for _, ev := range evs {
		if ev.Kind == events.Disconnect && ev.Code != 1000 {
			t.Fatalf("disconnect with code %d, want 1000", ev.Code)
		}
	}
}

// TestEventsAreRetried: a batch the endpoint refuses is sent again, and
// the failures are counted.
func TestEventsAreRetried(t *testing.T) {
	e := newEventEndpoint(t, func(call int32) bool { return call <= 2 })
	s := start(t, server.Config{Events: events.Config{URL: e.srv.URL, MinBackoff: 10 * time.Millisecond}})
	c := dial(t, s)
	joinSync(t, c, "x")
	eventually(t, "the connect and the join", func() bool {
		evs, _, _ := e.all()
		return count(evs, events.Connect, "") == 1 && count(evs, events.Join, "x") == 1
	})
	if st := s.Stats().Events; st.Failed != 2 || st.Sent != 2 {
		t.Fatalf("events stats %+v: want 2 failed requests, 2 events sent", st)
	}
}

// TestEventOverflowIsCountedNotWaitedFor: with the endpoint stuck, events
// past the queue are dropped and counted, and connections do not wait.
func TestEventOverflowIsCountedNotWaitedFor(t *testing.T) {
	stuck := make(chan struct{})
	blocking := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-stuck }))
	t.Cleanup(blocking.Close)
	t.Cleanup(func() { close(stuck) })
	s := start(t, server.Config{Events: events.Config{URL: blocking.URL, QueueSize: 5, MaxBatch: 5, Timeout: time.Minute}})
	for range 20 {
		joinSync(t, dial(t, s), "busy") // answered at once though no event gets out
	}
	_, body := get(t, httpURL(s, "/metrics"))
	if st := s.Stats().Events; st.Dropped < 30 || !strings.Contains(body, "wsify_events_dropped_total ") {
		t.Fatalf("dropped %d of 40 events with a queue of 5; metrics:\n%.300s", st.Dropped, body)
	}
}

// TestALeaveUndoneWithinTheGraceIsNotReported: a user who leaves a channel
// and joins it again within the grace period produces neither event; a
// leave that stays is reported once the grace is over.
func TestALeaveUndoneWithinTheGraceIsNotReported(t *testing.T) {
	a := newIdentityAuthorizer(t, map[string]string{"alice": `{"user":"alice"}`})
	e := newEventEndpoint(t, nil)
	s := start(t, server.Config{Auth: auth.Config{URL: a.srv.URL},
		Events: events.Config{URL: e.srv.URL, MaxDelay: 20 * time.Millisecond, Grace: time.Second}})
	alice := mustDialQuery(t, s, "as=alice")
	joinSync(t, alice, "room")
	send(t, alice, `{"command":"leave","args":{"channel":"room"},"id":"l"}`)
	recv(t, alice)
	joinSync(t, alice, "room") // back within the grace
	send(t, alice, `{"command":"leave","args":{"channel":"room"},"id":"l2"}`)
	recv(t, alice)
	eventually(t, "the last leave, after the grace", func() bool {
		evs, _, _ := e.all()
		return count(evs, events.Leave, "room") == 1
	})
	evs, _, _ := e.all()
	if n := count(evs, events.Join, "room"); n != 1 {
		t.Fatalf("%d joins reported, want 1: the join within the grace undoes the leave: %+v", n, evs)
	}
	for _, ev := range evs {
		if ev.User != "alice" {
			t.Fatalf("event of user %q: %+v", ev.User, ev)
		}
	}
}
