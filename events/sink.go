package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsify/wsify/internal/backoff"
)

// Sink queues events and posts them in batches from one goroutine.
type Sink struct {
	cfg    Config
	hc     *http.Client
	wake   chan struct{}   // an event was queued
	ctx    context.Context // ends at Close, with the request under way
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	queue   []Event         // waiting to be sent, oldest first; guarded by mu
	held    map[holdKey]int // leaves held back for the grace period, by index in heldEv; guarded by mu
	heldEv  []heldLeave     // guarded by mu
	stopped bool            // guarded by mu

	sent, dropped, failed atomic.Uint64
}

type holdKey struct{ user, channel string }

type heldLeave struct {
	ev    Event
	until time.Time
	gone  bool // cancelled by a join within the grace
}

// Stats counts what a Sink did.
type Stats struct {
	Sent    uint64 `json:"sent"`    // events the endpoint took
	Dropped uint64 `json:"dropped"` // events lost to a full queue
	Failed  uint64 `json:"failed"`  // requests that failed (their events are retried)
}

// New starts a sink; nil when cfg has no URL.
func New(cfg Config) *Sink {
	if cfg.URL == "" {
		return nil
	}
	cfg = cfg.WithDefaults()
	s := &Sink{cfg: cfg, hc: &http.Client{Timeout: cfg.Timeout}, wake: make(chan struct{}, 1),
		done: make(chan struct{}), held: map[holdKey]int{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.run()
	return s
}

// Emit queues ev without blocking; a full queue drops it (counted). A
// user's leave waits out the grace period; a join of the same user and
// channel within it cancels the leave and is not queued either.
func (s *Sink) Emit(ev Event) {
	if ev.Time == 0 {
		ev.Time = time.Now().UnixMilli()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	if s.graceLocked(ev) {
		return
	}
	s.pushLocked(ev)
}

// graceLocked holds a user's leave, or cancels one with a join, and
// reports whether ev is dealt with.
func (s *Sink) graceLocked(ev Event) bool {
	if s.cfg.Grace <= 0 || ev.User == "" {
		return false
	}
	k := holdKey{ev.User, ev.Channel}
	switch ev.Kind {
	case Leave:
		s.held[k] = len(s.heldEv)
		s.heldEv = append(s.heldEv, heldLeave{ev: ev, until: time.Now().Add(s.cfg.Grace)})
		return true
	case Join:
		if i, ok := s.held[k]; ok {
			s.heldEv[i].gone = true
			delete(s.held, k)
			return true
		}
	}
	return false
}

func (s *Sink) pushLocked(ev Event) {
	if len(s.queue) >= s.cfg.QueueSize {
		s.dropped.Add(1)
		return
	}
	s.queue = append(s.queue, ev)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// releaseLocked queues the held leaves whose grace is over.
func (s *Sink) releaseLocked(now time.Time) {
	n := 0
	for n < len(s.heldEv) && !s.heldEv[n].until.After(now) {
		if h := s.heldEv[n]; !h.gone {
			delete(s.held, holdKey{h.ev.User, h.ev.Channel})
			s.pushLocked(h.ev)
		}
		n++
	}
	if n > 0 {
		s.heldEv = append(s.heldEv[:0], s.heldEv[n:]...)
		for k := range s.held {
			s.held[k] -= n
		}
	}
}

// run collects batches and posts them until Close.
func (s *Sink) run() {
	defer close(s.done)
	tick := time.NewTicker(min(s.cfg.MaxDelay, 100*time.Millisecond))
	defer tick.Stop()
	for s.ctx.Err() == nil {
		batch, ok := s.collect(tick.C)
		if !ok {
			return
		}
		s.deliver(batch)
	}
}

// collect waits until a batch is full or its first event has waited
// MaxDelay, and returns it.
func (s *Sink) collect(tick <-chan time.Time) ([]Event, bool) {
	var first time.Time
	for {
		s.mu.Lock()
		s.releaseLocked(time.Now())
		n := len(s.queue)
		if n > 0 && first.IsZero() {
			first = time.Now()
		}
		if n >= s.cfg.MaxBatch || (n > 0 && time.Since(first) >= s.cfg.MaxDelay) {
			batch := append([]Event(nil), s.queue[:min(n, s.cfg.MaxBatch)]...)
			s.mu.Unlock()
			return batch, true
		}
		s.mu.Unlock()
		select {
		case <-s.ctx.Done():
			return nil, false
		case <-s.wake:
		case <-tick:
		}
	}
}

// deliver posts batch until the endpoint takes it or the sink stops, then
// takes it off the queue.
func (s *Sink) deliver(batch []Event) {
	for attempt := 1; ; attempt++ {
		err := s.post(batch)
		if err == nil {
			s.sent.Add(uint64(len(batch)))
			break
		}
		s.failed.Add(1)
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(backoff.Delay(s.cfg.MinBackoff, s.cfg.MaxBackoff, attempt)):
		}
	}
	s.mu.Lock()
	s.queue = append(s.queue[:0], s.queue[len(batch):]...)
	s.mu.Unlock()
}

var errStatus = errors.New("events: endpoint refused the batch")

func (s *Sink) post(batch []Event) error {
	body, err := json.Marshal(batch)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%w: %d", errStatus, resp.StatusCode)
	}
	return nil
}

// Stats returns the sink's counters.
func (s *Sink) Stats() Stats {
	return Stats{Sent: s.sent.Load(), Dropped: s.dropped.Load(), Failed: s.failed.Load()}
}

// Close stops the sink; what is still queued is not sent.
func (s *Sink) Close() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.cancel()
	<-s.done
}
