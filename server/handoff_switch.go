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
// delivers none from its broker: the old one passes on everything it
// delivers. Then the new process, its connections still parked, waits
// until the broker has confirmed its subscriptions, switches to its
// broker and says Switched; the old one passes on for switchMargin more,
// so that what the new process's broker brought before the switch is
// passed on too, then says End. Only then do the connections go live: none
// of them can have published meanwhile, so both paths carry the same
// publications, each in the broker's order of its channel.
//
// From the start of the takeover the new process counts, per publication
// (channel and frame, or offset on a channel whose history the broker
// keeps), how often each path brought it and how often it was delivered:
// an arrival is delivered when it is the first to bring that copy. Its
// broker's arrivals before the switch are counted, never delivered (the
// old path brings them); after the switch they wait, in order, until the
// old path has brought everything the broker brought before the switch,
// so that a lagging old path cannot be overtaken. Deciding and delivering
// happen under one lock, so the two paths' deliveries keep one order.
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

// dedupe is the count of a takeover with a networked broker.
type dedupe struct {
	seed maphash.Seed
	// mu is held across a delivery, so that the order decided is the order
	// delivered; it is above the hub's locks (locksordering.txt).
	mu       sync.Mutex
	counts   map[uint64]*arrivals // guarded by mu
	switched bool                 // the broker's arrivals may be delivered; guarded by mu
	early    int                  // broker arrivals before the switch the old path has not brought yet; guarded by mu
	held     []heldArrival        // broker arrivals after the switch, waiting for early to reach 0; guarded by mu
}

// arrivals counts the copies of one publication.
type arrivals struct {
	old, broker, delivered uint32
	early                  uint32 // of broker, those before the switch not yet matched by old
}

type heldArrival struct {
	a       *arrivals
	n       uint32 // which copy: the broker's n-th
	deliver func()
}

func newDedupe() *dedupe {
	return &dedupe{seed: maphash.MakeSeed(), counts: map[uint64]*arrivals{}}
}

func (d *dedupe) key(channel, frame []byte, offset uint64) uint64 {
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
	return h.Sum64()
}

func (d *dedupe) arrivalsLocked(key uint64) *arrivals {
	a := d.counts[key]
	if a == nil {
		a = new(arrivals)
		d.counts[key] = a
	}
	return a
}

// fromOld takes an arrival the old process passed on: delivered by
// deliver when first, then whatever of the broker's waited for it.
func (d *dedupe) fromOld(channel, frame []byte, offset uint64, deliver func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.arrivalsLocked(d.key(channel, frame, offset))
	a.old++
	if a.early > 0 {
		a.early--
		d.early--
	}
	if a.old > a.delivered {
		a.delivered++
		deliver()
	}
	if d.early == 0 {
		d.releaseLocked()
	}
}

// fromBroker takes an arrival of this process's broker.
func (d *dedupe) fromBroker(channel, frame []byte, offset uint64, deliver func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.arrivalsLocked(d.key(channel, frame, offset))
	a.broker++
	switch {
	case !d.switched:
		a.early++
		d.early++
	case d.early > 0 || len(d.held) > 0:
		d.held = append(d.held, heldArrival{a, a.broker, deliver})
	case a.broker > a.delivered:
		a.delivered++
		deliver()
	}
}

// releaseLocked delivers the broker's held arrivals that came first.
func (d *dedupe) releaseLocked() {
	for _, h := range d.held {
		if h.n > h.a.delivered {
			h.a.delivered++
			h.deliver()
		}
	}
	d.held = nil
}

// switchNow lets the broker's arrivals be delivered from now on.
func (d *dedupe) switchNow() {
	d.mu.Lock()
	d.switched = true
	d.mu.Unlock()
}

// oldDone runs at End: the old path brings nothing more, so nothing is
// waited for.
func (d *dedupe) oldDone() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.early = 0
	d.releaseLocked()
}

// brokerMessage is the broker's Message handler: fromBroker, but during a
// takeover, which counts it first.
func (s *Server) brokerMessage(channel, frame []byte) {
	if d := s.ho.dedupe.Load(); d != nil {
		d.fromBroker(channel, frame, 0, func() { s.fromBroker(channel, frame) })
		return
	}
	s.fromBroker(channel, frame)
}

// brokerFiltered is the broker's Filtered handler: fromBrokerFiltered,
// but during a takeover, which counts it first.
func (s *Server) brokerFiltered(channel, filter, frame []byte) {
	if d := s.ho.dedupe.Load(); d != nil {
		d.fromBroker(channel, frame, 0, func() { s.fromBrokerFiltered(channel, filter, frame) })
		return
	}
	s.fromBrokerFiltered(channel, filter, frame)
}

// brokerPublication is the broker's Publication handler: fromBrokerAt,
// but during a takeover, which counts it first.
func (s *Server) brokerPublication(channel []byte, offset uint64, content []byte) {
	if d := s.ho.dedupe.Load(); d != nil {
		d.fromBroker(channel, nil, offset, func() { s.fromBrokerAt(channel, offset, content) })
		return
	}
	s.fromBrokerAt(channel, offset, content)
}

// switchBroker runs after Done on a networked broker: it moves the
// broker's publications from the old process to this one's subscription,
// taking what the old process passes on meanwhile. The count began with
// the takeover (takeOver).
func (s *Server) switchBroker(l *handoff.Link, parked *[]*conn) error {
	d := s.ho.dedupe.Load()
	defer time.AfterFunc(dedupeGrace, func() { s.ho.dedupe.CompareAndSwap(d, nil) })
	s.waitSubscribed()
	d.switchNow()
	if err := l.Send(handoff.KindSwitched, nil, nil); err != nil {
		return err
	}
	for {
		m, err := l.Recv()
		if err != nil {
			return err
		}
		if m.Kind == handoff.KindEnd {
			d.oldDone()
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
