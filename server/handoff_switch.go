package server

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"sync"
	"time"

	"github.com/wsify/wsify/server/internal/handoff"
)

// With a networked broker both processes are subscribed for a while, and
// the publications of other nodes reach both. Until Done the new process
// takes none from its broker: the old one passes on everything it
// delivers. Then the new process, its connections still parked, waits
// until the broker has confirmed its subscriptions, starts taking its
// broker's messages and says Switched; the old one passes on for
// switchMargin more, so that a publication the new process's broker
// brought just before the switch is passed on too, then says End. In
// between, a publication may come both ways: the new process counts, per
// channel and frame, how often each path brought it, and delivers an
// arrival only when its path has brought it more often than the other, so
// each comes once, the first time it comes, and in order (each path keeps
// the broker's order of a channel). An identical publication made twice
// is counted twice, and delivered twice. Only then do the connections go
// live: none of them can have published meanwhile, so what the old
// process passes on is what the broker carries.

// switchMargin is how long the old process goes on passing publications
// on after the new one has switched: more than two subscriptions of one
// broker ever lag each other.
const switchMargin = 100 * time.Millisecond

// dedupeGrace is how long after End the new process goes on counting, for
// the broker's copies of the last publications passed on.
const dedupeGrace = time.Second

// unconfirmedWait is the wait for subscriptions on a broker that cannot
// confirm them (redis-cluster, NATS): they are sent at once and take a
// round trip.
const unconfirmedWait = 250 * time.Millisecond

// Paths a publication reaches the new process by during the switch.
const (
	pathOld    = iota // passed on by the old process
	pathBroker        // from this process's broker subscription
)

// dedupe counts the arrivals of each publication by each path.
type dedupe struct {
	seed   maphash.Seed
	mu     sync.Mutex
	counts map[uint64]*[2]uint32 // guarded by mu
}

func newDedupe() *dedupe {
	return &dedupe{seed: maphash.MakeSeed(), counts: map[uint64]*[2]uint32{}}
}

// admit counts one arrival of a publication on channel by path, known by
// its frame, or by its offset on a channel whose history the broker keeps,
// and reports whether it is to be delivered.
func (d *dedupe) admit(path int, channel, frame []byte, offset uint64) bool {
	var h maphash.Hash
	h.SetSeed(d.seed)
	h.Write(channel)
	h.WriteByte(0)
	if offset != 0 {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], offset)
		h.Write(b[:])
	} else {
		h.Write(frame)
	}
	key := h.Sum64()
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.counts[key]
	if c == nil {
		c = new([2]uint32)
		d.counts[key] = c
	}
	c[path]++
	return c[path] > c[1-path]
}

// fromOwnBroker reports whether a publication this process's broker
// brought is to be delivered: not while taking over; during the switch,
// when it comes first.
func (s *Server) fromOwnBroker(channel, frame []byte, offset uint64) bool {
	if s.ho.taking.Load() {
		return false
	}
	if d := s.ho.dedupe.Load(); d != nil {
		return d.admit(pathBroker, channel, frame, offset)
	}
	return true
}

// switchBroker runs after Done on a networked broker: it moves the
// broker's publications from the old process to this one's subscription,
// taking what the old process passes on meanwhile.
func (s *Server) switchBroker(l *handoff.Link, parked *[]*conn) error {
	s.waitSubscribed()
	d := newDedupe()
	s.ho.dedupe.Store(d)
	s.ho.taking.Store(false)
	defer time.AfterFunc(dedupeGrace, func() { s.ho.dedupe.CompareAndSwap(d, nil) })
	if err := l.Send(handoff.KindSwitched, nil, nil); err != nil {
		return err
	}
	for {
		m, err := l.Recv()
		if err != nil {
			return err
		}
		if m.Kind == handoff.KindEnd {
			return nil
		}
		if _, err := s.takeMessage(l, m, parked); err != nil {
			return err
		}
	}
}

// waitSubscribed waits, within the broker's timeout, until the broker has
// confirmed this process's subscription to every channel it holds.
func (s *Server) waitSubscribed() {
	cf := s.link.confirm
	if cf == nil {
		time.Sleep(unconfirmedWait)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Broker.Timeout)
	defer cancel()
	for _, ch := range s.hub.Names() {
		if cf.WaitSubscribed(ctx, []byte(ch)) != nil {
			s.log.Warn("the broker did not confirm the subscriptions in time; switching all the same")
			return
		}
	}
}

// endForward runs on the old process switchMargin after the new one has
// switched: it passes nothing more on, and says so.
func (g *giving) endForward() {
	g.mu.Lock()
	if !g.stopped && !g.ended {
		g.ended = true
		g.queue = append(g.queue, outItem{end: true})
	}
	g.mu.Unlock()
	g.notify()
}
