package netpoll

// The poller contract: what the server relies on from New(), whichever
// poller it is (epoll on Linux, kqueue on darwin and FreeBSD). This file
// has no build tag so that it runs unchanged on each; it uses only the
// package's exported API, real sockets and golang.org/x/sys/unix calls
// that every supported system has.

import (
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsify/wsify/internal/testutil"
)

// waitFor is how long an expected callback may take; quiet is how long a
// callback that must not come is waited for. The second can only be a
// bounded window: it is long against a poller that wakes in microseconds.
const (
	waitFor = testutil.Timeout
	quiet   = 150 * time.Millisecond
)

func newPoller(t *testing.T) *Poller {
	t.Helper()
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// armedPair is a poller and a socket pair whose first end is added for ev
// with a recorder; both ends are closed when the test ends.
func armedPair(t *testing.T, ev Event) (p *Poller, a, b int, r *recorder) {
	t.Helper()
	p = newPoller(t)
	a, b = socketPair(t)
	t.Cleanup(func() { unix.Close(a); unix.Close(b) })
	r = newRecorder()
	if err := p.Add(a, ev, r.cb); err != nil {
		t.Fatal(err)
	}
	return p, a, b, r
}

// socketPair returns two connected, non-blocking stream sockets, which the
// caller closes (or hands to CloseFD).
func socketPair(t *testing.T) (a, b int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0) // darwin has no SOCK_NONBLOCK
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
	}
	return fds[0], fds[1]
}

// recorder collects the events of one registration.
type recorder struct {
	ch    chan Event
	calls atomic.Int64
}

func newRecorder() *recorder { return &recorder{ch: make(chan Event, 64)} }

// cb must not block: it runs on the poller goroutine.
func (r *recorder) cb(ev Event) {
	r.calls.Add(1)
	select {
	case r.ch <- ev:
	default:
	}
}

func (r *recorder) expect(t *testing.T, what string) Event {
	t.Helper()
	select {
	case ev := <-r.ch:
		return ev
	case <-time.After(waitFor):
		t.Fatalf("%s: no callback within %v", what, waitFor)
		return 0
	}
}

func (r *recorder) expectNone(t *testing.T, what string) {
	t.Helper()
	select {
	case ev := <-r.ch:
		t.Fatalf("%s: unexpected callback with %#x", what, ev)
	case <-time.After(quiet):
	}
}

func write(t *testing.T, fd int, s string) {
	t.Helper()
	if _, err := unix.Write(fd, []byte(s)); err != nil {
		t.Fatal(err)
	}
}

// isOpen reports whether fd is an open descriptor of this process.
func isOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return !errors.Is(err, unix.EBADF)
}

// TestPollerReadableAfterWrite: an fd registered for Readable is quiet
// while there is nothing to read and fires once the peer writes.
func TestPollerReadableAfterWrite(t *testing.T) {
	_, _, b, r := armedPair(t, Readable)
	r.expectNone(t, "nothing written yet")
	write(t, b, "x")
	if ev := r.expect(t, "after a write"); ev&Readable == 0 {
		t.Fatalf("event %#x, want Readable", ev)
	}
}

// TestPollerOneShotUntilRearmed: after one callback the fd stays silent,
// although the data is still unread, until Rearm asks again.
func TestPollerOneShotUntilRearmed(t *testing.T) {
	p, a, b, r := armedPair(t, Readable)
	write(t, b, "x")
	r.expect(t, "first write")
	write(t, b, "y")
	r.expectNone(t, "unread data and a second write, not re-armed")
	if err := p.Rearm(a, Readable); err != nil {
		t.Fatal(err)
	}
	if ev := r.expect(t, "re-armed with data unread"); ev&Readable == 0 {
		t.Fatalf("event %#x, want Readable", ev)
	}
	r.expectNone(t, "after the second callback")
	if n := r.calls.Load(); n != 2 {
		t.Fatalf("%d callbacks, want 2", n)
	}
}

// TestPollerOneShotCoversBothDirections: an fd armed for Readable and
// Writable is disarmed as a whole by the first callback. kqueue keeps one
// filter per direction, so this is the case where the other one must be
// switched off by hand.
func TestPollerOneShotCoversBothDirections(t *testing.T) {
	p, a, b, r := armedPair(t, Readable|Writable)
	ev := r.expect(t, "an empty send buffer")
	if ev&Writable == 0 || ev&Readable != 0 {
		t.Fatalf("event %#x, want Writable alone", ev)
	}
	write(t, b, "x")
	r.expectNone(t, "readable after the fd fired for writing")
	if err := p.Rearm(a, Readable); err != nil {
		t.Fatal(err)
	}
	if ev := r.expect(t, "re-armed for reading"); ev&Readable == 0 || ev&Writable != 0 {
		t.Fatalf("event %#x, want Readable alone: Rearm replaces what was asked", ev)
	}
}

// TestPollerWritableAfterDrain: a socket whose send buffer is full fires
// Writable only once the peer has read.
func TestPollerWritableAfterDrain(t *testing.T) {
	p := newPoller(t)
	a, b := socketPair(t)
	defer unix.Close(a)
	defer unix.Close(b)
	unix.SetsockoptInt(a, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
	fill(t, a)
	r := newRecorder()
	if err := p.Add(a, Writable, r.cb); err != nil {
		t.Fatal(err)
	}
	r.expectNone(t, "send buffer full")
	drain(t, b)
	if ev := r.expect(t, "peer drained"); ev&Writable == 0 {
		t.Fatalf("event %#x, want Writable", ev)
	}
}

// TestPollerHangup: a peer that goes away wakes a reader, whose Read then
// sees the end of the stream.
func TestPollerHangup(t *testing.T) {
	p := newPoller(t)
	a, b := socketPair(t)
	defer unix.Close(a)
	r := newRecorder()
	if err := p.Add(a, Readable, r.cb); err != nil {
		t.Fatal(err)
	}
	unix.Close(b)
	if ev := r.expect(t, "peer closed"); ev&(Readable|Hangup) == 0 {
		t.Fatalf("event %#x, want Readable or Hangup", ev)
	}
	if n, err := Read(a, make([]byte, 8)); n != 0 || err != nil {
		t.Fatalf("Read after hang-up: %d, %v; want 0, nil", n, err)
	}
}

// TestPollerRemove: a removed fd gets no callback and stays open; it can
// be registered again.
func TestPollerRemove(t *testing.T) {
	p, a, b, r := armedPair(t, Readable)
	if err := p.Remove(a); err != nil {
		t.Fatal(err)
	}
	write(t, b, "x")
	r.expectNone(t, "removed")
	if !isOpen(a) {
		t.Fatal("Remove closed the fd")
	}
	if err := p.Add(a, Readable, r.cb); err != nil {
		t.Fatalf("Add after Remove: %v", err)
	}
	r.expect(t, "registered again with data waiting")
}

// TestPollerCloseWhileArmed: CloseFD of an armed fd closes it through the
// poller, and a new socket that gets the same number receives its own
// events only, never a callback of the old registration.
func TestPollerCloseWhileArmed(t *testing.T) {
	p := newPoller(t)
	a, b := socketPair(t)
	defer unix.Close(b)
	old := newRecorder()
	if err := p.Add(a, Readable, old.cb); err != nil {
		t.Fatal(err)
	}
	p.CloseFD(a)
	testutil.Eventually(t, "the poller closes the fd", func() bool { return !isOpen(a) })

	// The lowest free number is a's again, unless another goroutine of
	// the test binary took it meanwhile; then try a few more times.
	c, d := -1, -1
	for range 10 {
		x, y := socketPair(t)
		if y == a {
			x, y = y, x
		}
		if x == a {
			c, d = x, y
			break
		}
		defer unix.Close(x)
		defer unix.Close(y)
	}
	if c != a {
		t.Skipf("fd %d was not reused", a)
	}
	defer unix.Close(c)
	defer unix.Close(d)
	fresh := newRecorder()
	if err := p.Add(c, Readable, fresh.cb); err != nil {
		t.Fatalf("Add of a reused fd number: %v", err)
	}
	write(t, d, "x")
	fresh.expect(t, "the new socket")
	old.expectNone(t, "the old registration")
	if n := old.calls.Load(); n != 0 {
		t.Fatalf("old registration called %d times", n)
	}
}

// TestPollerCloseFDWakesThePoller: CloseFD has the idle poller close the
// fds, many at once and from inside a callback as well, so nothing waits
// for an unrelated event to come along.
func TestPollerCloseFDWakesThePoller(t *testing.T) {
	p := newPoller(t)
	var fds []int
	for range 32 {
		a, b := socketPair(t)
		defer unix.Close(b)
		if err := p.Add(a, Readable, func(Event) {}); err != nil {
			t.Fatal(err)
		}
		fds = append(fds, a)
	}
	for _, fd := range fds {
		p.CloseFD(fd)
	}
	testutil.Eventually(t, "every fd closed", func() bool {
		for _, fd := range fds {
			if isOpen(fd) {
				return false
			}
		}
		return true
	})

	// From the poller goroutine itself: the callback closes its own fd.
	a, b := socketPair(t)
	defer unix.Close(b)
	if err := p.Add(a, Readable, func(Event) { p.CloseFD(a) }); err != nil {
		t.Fatal(err)
	}
	write(t, b, "x")
	testutil.Eventually(t, "the fd closed from its own callback", func() bool { return !isOpen(a) })
}

// TestPollerClose: a closed poller reports no readiness, refuses new
// registrations and leaves registered fds open.
func TestPollerClose(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	a, b := socketPair(t)
	defer unix.Close(a)
	defer unix.Close(b)
	r := newRecorder()
	if err := p.Add(a, Readable, r.cb); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// easygo's epoll calls every callback once more on close, with no
	// condition set; what must not come is readiness.
	write(t, b, "x")
	for end := time.After(quiet); ; {
		select {
		case ev := <-r.ch:
			if ev&(Readable|Writable|Hangup) != 0 {
				t.Fatalf("closed poller reported %#x", ev)
			}
			continue
		case <-end:
		}
		break
	}
	if !isOpen(a) {
		t.Fatal("Close closed a registered fd")
	}
	c, d := socketPair(t)
	defer unix.Close(c)
	defer unix.Close(d)
	if err := p.Add(c, Readable, r.cb); err == nil {
		t.Fatal("Add on a closed poller succeeded")
	}
}

// TestPollerAcceptMany: a listener stays registered and level-triggered,
// so a backlog left behind by one callback fires again; here every
// callback accepts only one of many pending connections.
func TestPollerAcceptMany(t *testing.T) {
	const n = 64
	p := newPoller(t)
	lfd, bound, err := Listen("127.0.0.1:0", ListenConfig{Backlog: 2 * n})
	if err != nil {
		t.Fatal(err)
	}
	defer CloseListener(lfd)
	accepted := make(chan int, n)
	var failed atomic.Value
	err = p.AddListener(lfd, func() {
		fd, _, err := Accept(lfd)
		switch {
		case err == nil:
			accepted <- fd
		case !IsAgain(err) && !IsAborted(err):
			failed.Store(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		c, err := net.Dial("tcp", bound.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	for i := range n {
		select {
		case fd := <-accepted:
			checkNonblockCloexec(t, fd)
			unix.Close(fd)
		case <-time.After(waitFor):
			t.Fatalf("accepted %d of %d (error: %v)", i, n, failed.Load())
		}
	}
	if _, _, err := Accept(lfd); !IsAgain(err) {
		t.Fatalf("Accept with the backlog drained: %v, want EAGAIN", err)
	}
}

// checkNonblockCloexec: accepted sockets must never block the worker that
// reads them, nor leak into a child process.
func checkNonblockCloexec(t *testing.T, fd int) {
	t.Helper()
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK == 0 {
		t.Fatalf("accepted fd flags %#x (%v): not non-blocking", fl, err)
	}
	fdfl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil || fdfl&unix.FD_CLOEXEC == 0 {
		t.Fatalf("accepted fd descriptor flags %#x (%v): not close-on-exec", fdfl, err)
	}
}

// TestAgainPaths: Read of an empty socket and Writev into a full one
// report what IsAgain recognises, as does ErrAgain; other errors do not.
func TestAgainPaths(t *testing.T) {
	a, b := socketPair(t)
	defer unix.Close(a)
	defer unix.Close(b)
	if _, err := Read(a, make([]byte, 8)); !IsAgain(err) {
		t.Fatalf("Read of an empty socket: %v, want EAGAIN", err)
	}
	unix.SetsockoptInt(a, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
	fill(t, a)
	if _, err := Writev(a, [][]byte{[]byte("x")}, 0); !IsAgain(err) {
		t.Fatalf("Writev into a full socket: %v, want EAGAIN", err)
	}
	if !IsAgain(ErrAgain) {
		t.Fatal("IsAgain(ErrAgain) is false")
	}
	if IsAgain(unix.EPIPE) || IsAgain(nil) {
		t.Fatal("IsAgain is true of EPIPE or nil")
	}
	if !IsAborted(unix.ECONNABORTED) || IsAborted(ErrAgain) {
		t.Fatal("IsAborted does not tell ECONNABORTED from EAGAIN")
	}
}

// TestWritevSkipsAndGathers: Writev leaves out the first skip bytes of the
// first buffer and empty buffers, and sends the rest in order.
func TestWritevSkipsAndGathers(t *testing.T) {
	a, b := socketPair(t)
	defer unix.Close(a)
	defer unix.Close(b)
	n, err := Writev(a, [][]byte{[]byte("xxhel"), nil, []byte("lo"), []byte(" world")}, 2)
	if err != nil || n != 11 {
		t.Fatalf("Writev: %d, %v; want 11, nil", n, err)
	}
	buf := make([]byte, 32)
	m, err := Read(b, buf)
	if err != nil || string(buf[:m]) != "hello world" {
		t.Fatalf("peer read %q, %v", buf[:m], err)
	}
}

// fill writes to fd until the kernel takes no more.
func fill(t *testing.T, fd int) {
	t.Helper()
	chunk := make([]byte, 4096)
	for range 1 << 16 {
		if _, err := Writev(fd, [][]byte{chunk}, 0); err != nil {
			if IsAgain(err) {
				return
			}
			t.Fatal(err)
		}
	}
	t.Fatal("socket never filled")
}

// drain reads fd until it is empty.
func drain(t *testing.T, fd int) {
	t.Helper()
	buf := make([]byte, 64<<10)
	for {
		if _, err := Read(fd, buf); err != nil {
			if IsAgain(err) {
				return
			}
			t.Fatal(err)
		}
	}
}
