// Package netpoll is the readiness layer of wsify: raw non-blocking sockets
// and the poller that says when they can be read or written.
//
// On Linux it wraps github.com/mailru/easygo's low-level Epoll, which takes
// raw fds, instead of easygo's Handle helpers, which dup every fd and flip
// sockets to blocking mode through os.File.Fd(). On darwin and FreeBSD it
// drives a kqueue of its own through golang.org/x/sys/unix: easygo's Kqueue
// calls back once per filter rather than once per fd and cannot be closed.
// Registrations are level-triggered and one-shot: an fd fires once, then
// stays silent until Rearm, so exactly one worker handles a connection at
// a time. poller_test.go is the contract both pollers pass.
//
// Closing is race-free: CloseFD unregisters the fd at once but closes it
// only from the poller goroutine, woken by an eventfd (Linux) or an
// EVFILT_USER event (kqueue), after every batch of events that could still
// hold the old fd has been dispatched. A new connection that gets the same
// fd number can therefore never receive the old one's events.
//
// The exported API is the same on every supported system, so the server
// compiles unchanged; other systems stop the build in unsupported_os.go.
package netpoll
