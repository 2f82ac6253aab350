package server

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/wsify/wsify/server/internal/pool"
)

// A panic is a bug, but one connection's bug must not end a process that
// holds a million others. The worker pools recover at the task boundary
// and call taskPanicked; the poller's callbacks recover in place
// (recoverCallback). The panic is logged with its stack and counted
// (wsify_panics_total), and a connection whose handler panicked is closed
// with 1011; everyone else goes on.

// taskPanicked runs on the worker whose task panicked, inside its recover.
func (s *Server) taskPanicked(t pool.Task, v any) {
	s.panicked(v, debug.Stack())
	switch t := t.(type) {
	case *conn:
		t.recoverHandler()
	case *authCall:
		t.c.requestClose(discInternalError) // its connection waits for an answer that will not come
	case *pubCall:
		t.c.requestClose(discInternalError)
	case *joinCall:
		t.c.requestClose(discInternalError)
	case *historyCall:
		t.c.requestClose(discInternalError)
	}
}

func (s *Server) panicked(v any, stack []byte) {
	s.stats.panics.Add(1)
	s.log.Error("recovered from a panic; the server goes on", "panic", fmt.Sprint(v), "stack", string(stack))
}

// recoverCallback is deferred by the poller's callbacks.
func (s *Server) recoverCallback() {
	if v := recover(); v != nil {
		s.panicked(v, debug.Stack())
	}
}

// lockWait bounds how long a recovering handler waits for c.mu: held that
// long, it is held by the handler that panicked, and the connection is
// left as it is (its fd stays until shutdown) rather than risk a deadlock.
const lockWait = 100 * time.Millisecond

// recoverHandler closes the connection whose handler panicked with 1011,
// then goes on as its handler: it is still running, so no other can.
func (c *conn) recoverHandler() {
	if !c.lockFree() {
		c.srv.log.Error("connection abandoned after a panic: its lock is held", "id", c.id())
		return
	}
	if c.state != stateClosed {
		c.close(discInternalError)
	}
	c.Run()
}

// lockFree reports whether c.mu can be taken, trying for lockWait.
func (c *conn) lockFree() bool {
	for deadline := time.Now().Add(lockWait); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if c.mu.TryLock() {
			c.mu.Unlock()
			return true
		}
	}
	return false
}
