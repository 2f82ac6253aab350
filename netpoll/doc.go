// Package netpoll is the readiness layer of wsify: raw non-blocking sockets
// and the poller that says when they can be read or written.
//
// It wraps github.com/mailru/easygo's low-level Epoll, which takes raw fds,
// instead of easygo's Handle helpers, which dup every fd and flip sockets to
// blocking mode through os.File.Fd(). Registrations are level-triggered and
// one-shot: an fd fires once, then stays silent until Rearm, so exactly one
// worker handles a connection at a time.
//
// Closing is race-free: CloseFD unregisters the fd at once but closes it
// only from a callback on the poller goroutine, after every batch of events
// that could still hold the old fd has been dispatched. A new connection
// that gets the same fd number can therefore never receive the old one's
// events.
package netpoll
