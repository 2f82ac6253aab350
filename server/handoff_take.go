package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/wsify/wsify/hub"
	"github.com/wsify/wsify/netpoll"
	"github.com/wsify/wsify/server/internal/handoff"
)

// takeOver is Start for a process that takes the sockets of a running
// one over (Config.TakeoverFrom): it speaks the handoff protocol, takes
// the listeners, opens everything else as Start does, adopts every
// connection sent (queueing the publications sent between them on those
// it holds), and accepts once the other says Done.
func (s *Server) takeOver() error {
	path := s.cfg.TakeoverFrom
	fail := func(err error) error { return fmt.Errorf("server: takeover from %s: %w", path, err) }
	l, err := greet(path)
	if err != nil {
		return fail(err)
	}
	began := time.Now()
	first, err := s.takeListeners(l)
	if err == nil {
		err = s.openTaken()
	}
	if err != nil {
		l.Close()
		return fail(err)
	}
	if s.link.pubs != nil { // a networked broker: count both paths (handoff_switch.go)
		s.ho.dedupe.Store(newDedupe())
	}
	parked, err := s.adoptAll(l, first)
	if err == nil && s.link.pubs != nil {
		err = s.switchBroker(l, &parked)
	}
	if err != nil {
		s.stopAll() // the connections taken so far close with the process
		netpoll.CloseListener(s.lfd)
		l.Close()
		return fail(err)
	}
	for _, c := range parked {
		c.unpark()
	}
	s.log.Info("took over", "connections", s.ho.taken.Load(), "took", time.Since(began).Round(time.Millisecond))
	if err := s.serve(); err != nil {
		l.Close()
		return err
	}
	l.Send(handoff.KindReady, nil, nil)
	go s.takeLate(l)
	return nil
}

// greet connects to the control socket at path and exchanges Hellos.
func greet(path string) (*handoff.Link, error) {
	l, err := handoff.Dial(path)
	if err != nil {
		return nil, err
	}
	hello := handoff.AppendHello(nil, handoff.Hello{Version: handoff.Version(), PID: os.Getpid()})
	if err := l.Send(handoff.KindHello, hello, nil); err != nil {
		l.Close()
		return nil, err
	}
	if _, err := recvHello(l, func(*net.UnixConn) error { return nil }); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// takeListeners receives the listening sockets, and returns the first
// message after them.
func (s *Server) takeListeners(l *handoff.Link) (handoff.Message, error) {
	s.lfd = -1
	admin := -1
	for {
		m, err := l.Recv()
		if err != nil || m.Kind != handoff.KindListener {
			if err == nil && s.lfd < 0 {
				err = errors.New("no listening socket came")
			}
			s.adoptAdmin(admin)
			return m, err
		}
		name, _ := handoff.ParseText(m.Payload)
		switch {
		case len(m.FDs) != 1:
			return m, fmt.Errorf("listener %q came with %d descriptors", name, len(m.FDs))
		case name == "public":
			s.lfd = m.FDs[0]
		default:
			admin = m.FDs[0]
		}
	}
}

// adoptAdmin serves the operator endpoints on the admin listener that
// came, when this process has an admin address: the old process's socket,
// so that its address does not change either.
func (s *Server) adoptAdmin(fd int) {
	if fd < 0 {
		return
	}
	f := os.NewFile(uintptr(fd), "admin")
	defer f.Close() // FileListener holds a duplicate
	if s.cfg.AdminAddr == "" {
		return
	}
	if ln, err := net.FileListener(f); err == nil {
		s.admin.ln = ln
	}
}

// openTaken opens what Start would, around the listener taken over.
func (s *Server) openTaken() error {
	if s.admin.ln == nil {
		if err := s.listenAdmin(); err != nil {
			return err
		}
	}
	addr, err := netpoll.SockName(s.lfd)
	if err != nil {
		return err
	}
	if err := s.openBroker(); err != nil {
		s.stopAdmin()
		return err
	}
	return s.open(s.lfd, addr)
}

// adoptAll adopts the connections and queues the publications that come,
// first the one given, until Done, and returns the connections parked.
func (s *Server) adoptAll(l *handoff.Link, m handoff.Message) ([]*conn, error) {
	var parked []*conn
	for {
		done, err := s.takeMessage(l, m, &parked)
		if err != nil || done {
			return parked, err
		}
		if m, err = l.Recv(); err != nil {
			return parked, err
		}
	}
}

// takeMessage acts on one message of the giving process, adding the
// connections it adopts to parked; done reports Done.
func (s *Server) takeMessage(l *handoff.Link, m handoff.Message, parked *[]*conn) (done bool, err error) {
	switch m.Kind {
	case handoff.KindConns:
		recs, err := handoff.ParseConns(m.Payload)
		if err == nil && len(recs) != len(m.FDs) {
			err = fmt.Errorf("%d connections came with %d descriptors", len(recs), len(m.FDs))
		}
		if err != nil {
			closeAll(m.FDs)
			return false, err
		}
		for i := range recs {
			*parked = append(*parked, s.adopt(&recs[i], m.FDs[i]))
		}
		s.ho.taken.Add(int64(len(recs)))
	case handoff.KindPub:
		pubs, err := handoff.ParsePubs(m.Payload)
		if err != nil {
			return false, err
		}
		for i := range pubs {
			s.takePub(l, &pubs[i])
		}
	case handoff.KindHistory:
		hs, err := handoff.ParseHistories(m.Payload)
		if err != nil {
			return false, err
		}
		for _, h := range hs {
			s.restoreHistory(h)
		}
	case handoff.KindDone:
		return true, nil
	default:
		closeAll(m.FDs)
		return false, fmt.Errorf("unexpected message %q", m.Kind)
	}
	return false, nil
}

// takePub queues a publication of the giving process on the subscribers
// here, under the same offset when it kept the channel's history (as this
// process does now, Restore), and acks it when asked.
func (s *Server) takePub(l *handoff.Link, p *handoff.Pub) {
	if d := s.ho.dedupe.Load(); d != nil {
		d.fromOld(p.Channel, p.Frame, s.brokerOffset(p.Offset), func() { s.deliverPub(p) })
	} else {
		s.deliverPub(p)
	}
	s.ackPub(l, p)
}

// deliverPub queues a publication passed on by the giving process.
func (s *Server) deliverPub(p *handoff.Pub) {
	var n int
	ok := false
	switch {
	case p.Offset != 0 && s.remoteHistory:
		n, ok = s.hub.DeliverAt(p.Channel, p.Offset, func() *hub.Message { return hub.NewMessage(p.Frame, s.variant()) }), true
	case p.Offset != 0:
		_, n, ok = s.hub.PublishAt(p.Channel, func(uint64) *hub.Message { return hub.NewMessage(p.Frame, s.variant()) })
	}
	if !ok {
		var f *hub.Filter
		if len(p.Filter) > 0 {
			var err error
			if f, err = hub.ParseFilter(p.Filter); err != nil { // the giving process encoded it: never
				s.log.Warn("handoff: a passed-on publication's filter is malformed; dropped", "channel", string(p.Channel))
				return
			}
		}
		n = s.publishLocal(p.Channel, p.Frame, f)
	}
	s.stats.deliveries.Add(uint64(n))
}

func (s *Server) ackPub(l *handoff.Link, p *handoff.Pub) {
	if p.Seq != 0 {
		l.Send(handoff.KindAck, handoff.AppendSeq(nil, p.Seq), nil)
	}
}

// brokerOffset is the offset that names a publication on the broker: on
// a channel whose history the broker keeps, its offset; else none.
func (s *Server) brokerOffset(offset uint64) uint64 {
	if s.remoteHistory {
		return offset
	}
	return 0
}

// restoreHistory keeps a history the giving process kept, when this one
// keeps the channel's history too.
func (s *Server) restoreHistory(h handoff.History) {
	k := hub.Kept{Channel: h.Channel, Epoch: h.Epoch, Last: h.Last, Touched: h.Touched, Pubs: make([]hub.Entry, len(h.Entries))}
	for i, e := range h.Entries {
		k.Pubs[i] = hub.Entry{At: e.At, Frame: e.Frame}
	}
	s.hub.Restore(k, s.variant())
}

// takeLate takes the publications the old process makes after Done,
// until it closes the link.
func (s *Server) takeLate(l *handoff.Link) {
	defer l.Close()
	for {
		m, err := l.Recv()
		if err != nil {
			return
		}
		var late []*conn // none should come; any that did would be served
		_, err = s.takeMessage(l, m, &late)
		for _, c := range late {
			c.unpark()
		}
		if err != nil {
			s.log.Warn("takeover: the old process sent what cannot be taken", "err", err)
			return
		}
	}
}

func closeAll(fds []int) {
	for _, fd := range fds {
		netpoll.CloseListener(fd) // a plain close: nothing watches these yet
	}
}
