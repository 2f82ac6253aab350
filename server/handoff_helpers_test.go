package server_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/internal/testutil"
	"github.com/wsify/wsify/server"
)

// Publications in the handoff tests carry {"p":publisher,"i":n}: each
// publisher numbers its own from 0, and every subscriber must get each
// publisher's numbers once, in order.

// subscriber reads one client's deliveries on its own goroutine and checks
// them as they come.
type subscriber struct {
	c *websocket.Conn

	mu     sync.Mutex
	next   map[string]int // the number expected next from each publisher; guarded by mu
	err    error          // the first thing wrong; guarded by mu
	closed bool           // the test is over: a read error is expected; guarded by mu

	// As a publisher (broadcastEvery): told to stop, it says how many it
	// sent and closes stopped.
	stopSending bool // guarded by mu
	sent        int  // set before stopped is closed
	stopped     chan struct{}
}

// watch starts reading c. It stops, without complaint, when the test ends.
func watch(t testing.TB, c *websocket.Conn) *subscriber {
	s := &subscriber{c: c, next: map[string]int{}, stopped: make(chan struct{})}
	t.Cleanup(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		c.Close()
	})
	go s.read()
	return s
}

func (s *subscriber) read() {
	for {
		s.c.SetReadDeadline(time.Now().Add(time.Minute))
		_, p, err := s.c.ReadMessage()
		if err != nil {
			s.mu.Lock()
			if !s.closed {
				s.failLocked(fmt.Errorf("connection ended: %v", err))
			}
			s.mu.Unlock()
			return
		}
		s.see(p)
	}
}

func (s *subscriber) see(p []byte) {
	var m struct {
		Channel string
		Content struct {
			P string
			I int
		}
	}
	if err := json.Unmarshal(p, &m); err != nil || m.Channel == "" {
		s.fail(fmt.Errorf("not a publication: %s", p))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if want := s.next[m.Content.P]; m.Content.I != want {
		s.failLocked(fmt.Errorf("publisher %s: got %d, want %d", m.Content.P, m.Content.I, want))
	}
	s.next[m.Content.P] = m.Content.I + 1
}

func (s *subscriber) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLocked(err)
}

func (s *subscriber) failLocked(err error) {
	if s.err == nil {
		s.err = err
	}
}

// waitFor waits until s got every publication of want (the count of each
// publisher), and fails on anything wrong.
func (s *subscriber) waitFor(t testing.TB, want map[string]int, who string) {
	t.Helper()
	ok := testutil.Poll(time.Minute, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.err != nil || maps.Equal(s.next, want)
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.err != nil:
		t.Fatalf("%s: %v", who, s.err)
	case !ok:
		t.Fatalf("%s got %v of %v", who, s.next, want)
	}
}

// liveSubscribers joins n clients of s to "live", each watched, and makes
// the first active of them broadcast there every 50 ms (as "ws-<i>").
func liveSubscribers(t testing.TB, s *server.Server, n, active int) []*subscriber {
	subs := make([]*subscriber, n)
	for i := range subs {
		c := dial(t, s)
		joinSync(t, c, "live")
		subs[i] = watch(t, c)
	}
	for i, sub := range subs[:active] {
		go broadcastEvery(t, sub.c, fmt.Sprintf("ws-%d", i), 50*time.Millisecond, sub)
	}
	return subs
}

// broadcastEvery makes c broadcast on "live" as publisher name every d
// until the test ends; sub is c's own subscriber, which records the count.
func broadcastEvery(t testing.TB, c *websocket.Conn, name string, d time.Duration, sub *subscriber) {
	broadcastEveryWith(t, c, name, "", d, sub)
}

// broadcastEveryWith is broadcastEvery with more members of args, extra
// (empty, or starting with a comma).
func broadcastEveryWith(t testing.TB, c *websocket.Conn, name, extra string, d time.Duration, sub *subscriber) {
	for i := 0; ; i++ {
		sub.mu.Lock()
		if sub.closed || sub.stopSending {
			sub.sent = i
			sub.mu.Unlock()
			close(sub.stopped)
			return
		}
		sub.mu.Unlock()
		msg := fmt.Sprintf(`{"command":"broadcast","args":{"channel":"live","content":{"p":%q,"i":%d}%s}}`, name, i, extra)
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			sub.fail(fmt.Errorf("broadcast %d: %v", i, err))
		}
		time.Sleep(d)
	}
}

// seqPoster publishes {"p":name,"i":n} by POST, each on a fresh connection
// once the last one was answered.
type seqPoster struct {
	name string
	n    atomic.Int64
	stop chan struct{}
	done chan struct{}
	err  error // set before done is closed
}

func startPoster(t testing.TB, name, addr, channel string, every time.Duration) *seqPoster {
	return startPosterWith(t, name, addr, channel, "", every)
}

// startPosterWith is startPoster with more members of the body, extra
// (empty, or starting with a comma).
func startPosterWith(t testing.TB, name, addr, channel, extra string, every time.Duration) *seqPoster {
	p := &seqPoster{name: name, stop: make(chan struct{}), done: make(chan struct{})}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	go func() {
		defer close(p.done)
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				return
			default:
			}
			body := fmt.Sprintf(`{"channel":%q,"content":{"p":%q,"i":%d}%s}`, channel, p.name, i, extra)
			resp, err := hc.Post("http://"+addr+"/broadcast", "application/json", strings.NewReader(body))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			if err != nil {
				p.err = fmt.Errorf("POST %d: %w", i, err)
				return
			}
			p.n.Add(1)
			time.Sleep(every)
		}
	}()
	t.Cleanup(func() { p.halt() })
	return p
}

func (p *seqPoster) sent() int64 { return p.n.Load() }

func (p *seqPoster) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// dialLoop opens and closes a WebSocket connection every d.
type dialLoop struct {
	n    atomic.Int64
	stop chan struct{}
	done chan struct{}
	err  error
}

func startUpgrader(t testing.TB, addr string, every time.Duration) *dialLoop {
	u := &dialLoop{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(u.done)
		for {
			select {
			case <-u.stop:
				return
			default:
			}
			c, err := dialURL("ws://"+addr+"/ws", nil)
			if err != nil {
				u.err = fmt.Errorf("upgrade %d: %w", u.n.Load(), err)
				return
			}
			c.Close()
			u.n.Add(1)
			time.Sleep(every)
		}
	}()
	t.Cleanup(func() { u.halt() })
	return u
}

func (u *dialLoop) halt() {
	select {
	case <-u.stop:
	default:
		close(u.stop)
	}
	<-u.done
}

// stopPublishers stops the seqPoster, the dialLoop and the broadcasting
// subscribers, fails on any error they met, and returns how many
// publications each publisher made.
func stopPublishers(t testing.TB, p *seqPoster, u *dialLoop, active []*subscriber) map[string]int {
	t.Helper()
	p.halt()
	u.halt()
	if p.err != nil || u.err != nil {
		t.Fatalf("seqPoster: %v; dialLoop: %v", p.err, u.err)
	}
	want := map[string]int{p.name: int(p.n.Load())}
	for i, s := range active {
		s.mu.Lock()
		s.stopSending = true
		s.mu.Unlock()
		<-s.stopped
		want[fmt.Sprintf("ws-%d", i)] = s.sent
	}
	return want
}
