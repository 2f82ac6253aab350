package server

import (
	"errors"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsify/wsify/netpoll"
)

// acceptBatch bounds the accepts of one poller callback.
const acceptBatch = 256

// acceptReady runs on the poller goroutine when connections are pending.
func (s *Server) acceptReady() {
	for range acceptBatch {
		if s.draining.Load() {
			return
		}
		fd, remote, err := netpoll.Accept(s.lfd)
		switch {
		case err == nil:
			s.register(fd, remote)
		case netpoll.IsAgain(err) || errors.Is(err, unix.ECONNABORTED):
			return
		default:
			s.acceptFailed(err)
			return
		}
	}
}

// acceptFailed backs off when the process is out of fds, so the
// level-triggered listener does not spin.
func (s *Server) acceptFailed(err error) {
	s.log.Warn("accept failed; pausing accepts for 100ms", "err", err)
	s.poller.Remove(s.lfd)
	time.AfterFunc(100*time.Millisecond, func() {
		if !s.draining.Load() {
			s.poller.AddListener(s.lfd, s.acceptReady)
		}
	})
}

func (s *Server) register(fd int, remote netip.AddrPort) {
	c := &conn{srv: s, fd: fd, seq: s.seq.Add(1), remote: remote}
	s.newTLSConn(c)
	s.stats.accepted.Add(1)
	s.conns.put(c)
	s.wheel.set(c, time.Now().Add(s.cfg.HandshakeTimeout))
	if err := s.poller.Add(fd, netpoll.Readable, c.onEvent); err != nil {
		s.log.Warn("register connection", "err", err)
		s.wheel.clear(c)
		s.conns.del(c)
		s.poller.CloseFD(fd)
	}
}

// forget drops a released connection from the table.
func (s *Server) forget(c *conn) {
	s.wheel.clear(c)
	s.conns.del(c)
}
