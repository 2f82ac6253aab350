package server

import (
	"net/netip"
	"time"

	"github.com/wsify/wsify/netpoll"
)

// acceptBatch bounds the accepts of one poller callback.
const acceptBatch = 256

// acceptReady runs on the poller goroutine when connections are pending.
func (s *Server) acceptReady() {
	defer s.recoverCallback()
	for range acceptBatch {
		if !s.accepting() {
			return
		}
		fd, remote, err := netpoll.Accept(s.lfd)
		switch {
		case err == nil:
			s.register(fd, remote)
		case netpoll.IsAgain(err) || netpoll.IsAborted(err):
			return
		default:
			s.acceptFailed(err)
			return
		}
	}
}

// acceptBackoff is the pause of accepts after a failure other than an
// empty backlog, such as EMFILE: long enough for connections to close and
// give fds back, short enough that clients only see a little latency.
const acceptBackoff = 100 * time.Millisecond

// acceptFailed backs off when the process is out of fds, so the
// level-triggered listener does not spin.
func (s *Server) acceptFailed(err error) {
	s.log.Warn("accept failed; pausing accepts", "err", err, "pause", acceptBackoff)
	s.poller.Remove(s.lfd)
	time.AfterFunc(acceptBackoff, s.resumeAccepts)
}

// resumeAccepts watches the listener again after a pause. If the poller
// refuses, the node would silently stop accepting: it says so, counts it
// and tries again.
func (s *Server) resumeAccepts() {
	if !s.accepting() {
		return
	}
	if err := s.poller.AddListener(s.lfd, s.acceptReady); err != nil {
		s.stats.pollerErrors.Add(1)
		s.log.Error("cannot watch the listener again; retrying", "err", err, "pause", acceptBackoff)
		time.AfterFunc(acceptBackoff, s.resumeAccepts)
	}
}

func (s *Server) register(fd int, remote netip.AddrPort) {
	if s.overAcceptCap() {
		s.stats.refusedAtAccept.Add(1)
		s.poller.CloseFD(fd) // nothing was read, so nothing is owed: a plain close
		return
	}
	c := &conn{srv: s, fd: fd, seq: s.seq.Add(1), remote: remote}
	if s.tls != nil {
		s.newTLSConn(c)
	}
	s.stats.accepted.Add(1)
	s.conns.put(c)
	s.wheel.Set(c, time.Now().Add(s.cfg.HandshakeTimeout))
	if err := s.poller.Add(fd, netpoll.Readable, c.onEvent); err != nil {
		s.stats.pollerErrors.Add(1)
		s.log.Warn("register connection", "err", err)
		s.wheel.Clear(c)
		s.conns.del(c)
		s.poller.CloseFD(fd)
	}
}

// accepting reports whether the listener is ours to accept on: not while
// shutting down, nor while handing it to a new process (handoff_give.go).
func (s *Server) accepting() bool { return !s.draining.Load() && !s.ho.handing.Load() }

// forget drops a released connection from the table.
func (s *Server) forget(c *conn) {
	s.wheel.Clear(c)
	s.conns.del(c)
}
