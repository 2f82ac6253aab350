package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsify/wsify/server/internal/handoff"
)

// Handoff: a new wsify process takes the sockets of a running one over,
// so a deploy closes no connection (README: Deploying).
//
// The running process listens on Config.ControlSocket. The new one
// (Config.TakeoverFrom) connects, and each says which handoff protocol it
// speaks; on a mismatch the running process refuses, logs it and goes on
// serving, and the new one's Start fails. Otherwise the running process
// stops accepting (the backlog waits for the new one; the listening
// socket is never closed), sends its listening sockets, then every plain
// connection with its state (handoff_conn.go), in batches of descriptors
// (SCM_RIGHTS), and Done. The new process starts accepting once it has
// them all. What cannot go (TLS connections, whose crypto state is here)
// gets the gentle drain of a shutdown, then the old process exits.
//
// Nothing is lost or doubled in between because the old process is the
// only one that publishes until Done: the new one accepts nothing before
// it. From the moment the handoff begins, every publication the old
// process queues locally is also sent down the control socket, in one
// order with the connections (handoff_give.go): a connection sent before
// a publication gets it from the new process, one sent after has it in
// its unsent bytes. After Done the old process may still publish (HTTP
// requests in flight there complete there): each such publication is
// answered only once the new process has queued it, so that one the new
// process accepts later cannot overtake it.

// handoffState is the server's share of the handoff.
type handoffState struct {
	giving  atomic.Pointer[giving] // the handoff under way; publications go through it (publish.go)
	handing atomic.Bool            // the listener is being or was handed over: accept nothing
	dedupe  atomic.Pointer[dedupe] // switching from the old process's broker subscription to ours (handoff_switch.go)
	handed  atomic.Int64           // connections handed to a new process
	taken   atomic.Int64           // connections taken over from an old one
	// Of the connections handed: bytes read and not yet parsed, bytes
	// queued and not yet written, and messages whose fragments had begun.
	unparsed, unsent, fragmented atomic.Int64
	gone                         chan struct{} // closed once every connection went and the server is shut down

	mu   sync.Mutex
	ln   *net.UnixListener // the control socket; nil when not listening; guarded by mu
	busy bool              // a handoff runs; guarded by mu
}

// HandedOver is closed once a handoff is complete: every connection that
// could go went to the new process, the rest were drained, and the server
// is shut down. The caller may exit.
func (s *Server) HandedOver() <-chan struct{} { return s.ho.gone }

// helloWait bounds the wait for the other process's Hello.
const helloWait = 10 * time.Second

// listenControl opens the control socket, when configured, for a process
// that will take over.
func (s *Server) listenControl() error {
	path := s.cfg.ControlSocket
	if path == "" {
		return nil
	}
	if err := removeStale(path); err != nil {
		return fmt.Errorf("server: control socket: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("server: control socket: %w", err)
	}
	ln.SetUnlinkOnClose(false) // unlinked when the handoff starts, not when a refused one ends
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("server: control socket: %w", err)
	}
	s.ho.mu.Lock()
	s.ho.ln = ln
	s.ho.mu.Unlock()
	go s.serveControl(ln)
	return nil
}

// removeStale removes a socket file left by a process that is gone, and
// refuses to take the path of one that still listens or of another file.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.Mode()&os.ModeSocket == 0:
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("%s: another process listens on it", path)
	}
	return os.Remove(path)
}

// closeControl stops listening on the control socket and removes it.
func (s *Server) closeControl() {
	s.ho.mu.Lock()
	ln := s.ho.ln
	s.ho.ln = nil
	s.ho.mu.Unlock()
	if ln != nil {
		ln.Close()
		os.Remove(s.cfg.ControlSocket)
	}
}

func (s *Server) serveControl(ln *net.UnixListener) {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		go s.answerControl(handoff.NewLink(c))
	}
}

// answerControl checks who connected and which protocol it speaks, then
// hands everything over to it, or refuses and goes on serving.
func (s *Server) answerControl(l *handoff.Link) {
	peer, err := recvHello(l, peerAllowed)
	if err == nil {
		err = s.claimHandoff()
	}
	if err != nil {
		s.log.Warn("refused a takeover; still serving", "err", err)
		l.Send(handoff.KindRefuse, handoff.AppendText(nil, err.Error()), nil)
		l.Close()
		return
	}
	if err := l.Send(handoff.KindHello, handoff.AppendHello(nil, handoff.Hello{Version: handoff.Version(), PID: os.Getpid()}), nil); err != nil {
		s.log.Warn("takeover: the new process went away", "err", err)
		l.Close()
		s.releaseHandoff()
		return
	}
	s.log.Info("handing over to a new process", "pid", peer.PID)
	s.give(l)
}

// claimHandoff makes this server's the one handoff, and stops listening
// for others.
func (s *Server) claimHandoff() error {
	s.ho.mu.Lock()
	defer s.ho.mu.Unlock()
	switch {
	case s.draining.Load():
		return errors.New("the running process is shutting down")
	case s.ho.busy:
		return errors.New("the running process is handing over to another one already")
	}
	s.ho.busy = true
	if s.ho.ln != nil {
		s.ho.ln.Close()
		os.Remove(s.cfg.ControlSocket) // the new process listens on it once it serves
		s.ho.ln = nil
	}
	return nil
}

// releaseHandoff ends a handoff that failed: another may come.
func (s *Server) releaseHandoff() {
	s.ho.mu.Lock()
	s.ho.busy = false
	s.ho.mu.Unlock()
	if err := s.listenControl(); err != nil {
		s.log.Error("cannot listen on the control socket again; no takeover is possible", "err", err)
	}
}

// recvHello reads the other side's Hello within helloWait and checks it.
func recvHello(l *handoff.Link, allowed func(*net.UnixConn) error) (handoff.Hello, error) {
	if err := allowed(l.Conn()); err != nil {
		return handoff.Hello{}, err
	}
	l.Conn().SetReadDeadline(time.Now().Add(helloWait))
	defer l.Conn().SetReadDeadline(time.Time{})
	m, err := l.Recv()
	switch {
	case err != nil:
		return handoff.Hello{}, err
	case m.Kind == handoff.KindRefuse:
		reason, _ := handoff.ParseText(m.Payload)
		return handoff.Hello{}, fmt.Errorf("refused: %s", reason)
	case m.Kind != handoff.KindHello:
		return handoff.Hello{}, fmt.Errorf("handoff: a %q message instead of a hello", m.Kind)
	}
	h, err := handoff.ParseHello(m.Payload)
	if err == nil && h.Version != handoff.Version() {
		err = &versionError{ours: handoff.Version(), theirs: h.Version}
	}
	return h, err
}

// versionError is a Hello of another handoff protocol. Its text is from
// the running process's side, which refuses.
type versionError struct{ ours, theirs string }

func (e *versionError) Error() string {
	return fmt.Sprintf("handoff protocol mismatch: the running process speaks %s, the new one %s", e.ours, e.theirs)
}
