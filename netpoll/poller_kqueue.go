//go:build darwin || freebsd

package netpoll

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Event is a set of readiness conditions. kqueue reports one filter per
// kevent, so these are netpoll's own bits, merged per fd for a callback.
type Event uint32

// Readiness conditions. Hangup covers errors and end of stream (EV_EOF),
// which kqueue reports on whichever filter is armed.
const (
	Readable Event = 1 << iota
	Writable
	Hangup
)

var (
	errClosed        = errors.New("netpoll: poller closed")
	errRegistered    = errors.New("netpoll: fd already registered")
	errNotRegistered = errors.New("netpoll: fd not registered")
)

// wakeIdent names the EVFILT_USER event that plays the part of Linux's
// eventfd. User events have their own ident space, so 0 is not stdin.
const wakeIdent = 0

// reg is one registered fd.
type reg struct {
	cb       func(Event)
	listener bool
	// armed is the Event last asked of Rearm. EV_DISPATCH disables only the
	// filter that fired, so the poller disables the other one itself to keep
	// the fd one-shot as a whole, as EPOLLONESHOT does.
	armed atomic.Uint32
	// slot is 1 + the index of this fd in the batch being dispatched, 0
	// when absent; only the poller goroutine touches it.
	slot int
}

// Poller dispatches readiness of raw fds to callbacks, which run on the
// single poller goroutine and must only hand work off.
type Poller struct {
	kq   int
	done chan struct{} // closed when the wait loop has returned

	regMu  sync.RWMutex
	regs   map[int]*reg // guarded by regMu
	closed atomic.Bool  // set under regMu

	mu    sync.Mutex
	grave []int // fds unregistered and waiting to be closed; guarded by mu
}

// New starts a poller.
func New() (*Poller, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, fmt.Errorf("netpoll: kqueue: %w", err)
	}
	unix.CloseOnExec(kq) // as the runtime does for its own kqueue
	wake := []unix.Kevent_t{{Ident: wakeIdent, Filter: unix.EVFILT_USER, Flags: unix.EV_ADD | unix.EV_CLEAR}}
	if _, err := unix.Kevent(kq, wake, nil, nil); err != nil {
		unix.Close(kq)
		return nil, fmt.Errorf("netpoll: watch wake-up event: %w", err)
	}
	p := &Poller{kq: kq, done: make(chan struct{}), regs: make(map[int]*reg)}
	go p.wait()
	return p, nil
}

// Add registers fd for a single notification of ev. Both filters are
// created now, the one not asked for disabled, so that Rearm and the
// poller only ever enable or disable existing knotes.
func (p *Poller) Add(fd int, ev Event, cb func(Event)) error {
	r := &reg{cb: cb}
	r.armed.Store(uint32(ev))
	p.regMu.Lock()
	defer p.regMu.Unlock()
	if err := p.refuseLocked(fd); err != nil {
		return err
	}
	if err := p.arm(fd, ev); err != nil {
		return err
	}
	p.regs[fd] = r
	return nil
}

// refuseLocked says why fd cannot be added, if it cannot.
func (p *Poller) refuseLocked(fd int) error {
	if p.closed.Load() {
		return errClosed
	}
	if _, ok := p.regs[fd]; ok {
		return errRegistered
	}
	return nil
}

// AddListener registers a listening socket, level-triggered and lasting, so
// that a backlog left after one callback fires again.
func (p *Poller) AddListener(fd int, cb func()) error {
	r := &reg{cb: func(Event) { cb() }, listener: true}
	p.regMu.Lock()
	defer p.regMu.Unlock()
	if err := p.refuseLocked(fd); err != nil {
		return err
	}
	ch := []unix.Kevent_t{change(fd, unix.EVFILT_READ, unix.EV_ADD|unix.EV_ENABLE)}
	if _, err := unix.Kevent(p.kq, ch, nil, nil); err != nil {
		return err
	}
	p.regs[fd] = r
	return nil
}

// Rearm asks for one more notification of ev on fd.
func (p *Poller) Rearm(fd int, ev Event) error {
	p.regMu.RLock()
	defer p.regMu.RUnlock()
	r, ok := p.regs[fd]
	switch {
	case p.closed.Load():
		return errClosed
	case !ok || r.listener:
		return errNotRegistered
	}
	r.armed.Store(uint32(ev))
	return p.arm(fd, ev)
}

// arm sets both filters of fd in one kevent. EV_ADD makes the kernel test
// the socket again at once, so data that arrived while the filter was
// disabled is reported (a bare EV_ENABLE does not promise that everywhere).
func (p *Poller) arm(fd int, ev Event) error {
	ch := [2]unix.Kevent_t{
		change(fd, unix.EVFILT_READ, onOff(ev&Readable != 0)),
		change(fd, unix.EVFILT_WRITE, onOff(ev&Writable != 0)),
	}
	_, err := unix.Kevent(p.kq, ch[:], nil, nil)
	return err
}

func onOff(on bool) int {
	if on {
		return unix.EV_ADD | unix.EV_DISPATCH | unix.EV_ENABLE
	}
	return unix.EV_ADD | unix.EV_DISPATCH | unix.EV_DISABLE
}

func change(fd, filter, flags int) unix.Kevent_t {
	var k unix.Kevent_t
	unix.SetKevent(&k, fd, filter, flags)
	return k
}

// Remove unregisters fd without closing it.
func (p *Poller) Remove(fd int) error {
	p.regMu.Lock()
	defer p.regMu.Unlock()
	return p.removeLocked(fd)
}

func (p *Poller) removeLocked(fd int) error {
	r, ok := p.regs[fd]
	if !ok {
		return errNotRegistered
	}
	delete(p.regs, fd)
	ch := [2]unix.Kevent_t{
		change(fd, unix.EVFILT_READ, unix.EV_DELETE),
		change(fd, unix.EVFILT_WRITE, unix.EV_DELETE),
	}
	n := 2
	if r.listener {
		n = 1
	}
	_, err := unix.Kevent(p.kq, ch[:n], nil, nil)
	return err
}

// CloseFD unregisters fd now and closes it once the poller has dispatched
// every event it might still hold for it.
func (p *Poller) CloseFD(fd int) {
	p.Remove(fd) // may already be removed
	p.mu.Lock()
	wake := len(p.grave) == 0
	p.grave = append(p.grave, fd)
	p.mu.Unlock()
	if wake {
		p.wake()
	}
}

func (p *Poller) wake() {
	ch := []unix.Kevent_t{{Ident: wakeIdent, Filter: unix.EVFILT_USER, Fflags: unix.NOTE_TRIGGER}}
	unix.Kevent(p.kq, ch, nil, nil)
}

// bury runs on the poller goroutine after a batch was dispatched, so no
// event of a buried fd can reach a new owner of its number.
func (p *Poller) bury() {
	p.mu.Lock()
	fds := p.grave
	p.grave = nil
	p.mu.Unlock()
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// pending is one fd's share of a batch: its events merged into one.
type pending struct {
	r  *reg
	fd int
	ev Event
}

func (p *Poller) wait() {
	defer close(p.done)
	evs := make([]unix.Kevent_t, 1024)
	var batch []pending
	var woken bool
	for {
		n, err := unix.Kevent(p.kq, nil, evs, nil)
		if err == unix.EINTR {
			continue
		}
		// Past EINTR, kevent fails only for a kq that is not one, which
		// Close alone causes, after the loop has returned.
		if err != nil || p.closed.Load() {
			return
		}
		batch, woken = p.collect(evs[:n], batch[:0])
		for i := range batch {
			b := &batch[i]
			b.r.slot = 0
			if !b.r.listener {
				p.disarmRest(b.fd, b.r, b.ev)
			}
			b.r.cb(b.ev)
			b.r = nil
		}
		if woken {
			p.bury()
		}
		if n == len(evs) && n < 1<<15 {
			evs = make([]unix.Kevent_t, 2*n)
		}
	}
}

// collect looks every event of a batch up under one read lock, before any
// callback runs or any fd is closed, and merges the read and write events
// of one fd into one callback, as one epoll event would carry both.
func (p *Poller) collect(evs []unix.Kevent_t, batch []pending) ([]pending, bool) {
	woken := false
	p.regMu.RLock()
	defer p.regMu.RUnlock()
	for i := range evs {
		e := &evs[i]
		if e.Filter == unix.EVFILT_USER {
			woken = true
			continue
		}
		fd := int(e.Ident)
		r, ok := p.regs[fd]
		if !ok {
			continue // removed after the kernel queued the event
		}
		ev := toEvent(e)
		if r.slot != 0 {
			batch[r.slot-1].ev |= ev
			continue
		}
		batch = append(batch, pending{r: r, fd: fd, ev: ev})
		r.slot = len(batch)
	}
	return batch, woken
}

func toEvent(e *unix.Kevent_t) Event {
	var ev Event
	switch e.Filter {
	case unix.EVFILT_READ:
		ev = Readable
	case unix.EVFILT_WRITE:
		ev = Writable
	}
	if e.Flags&(unix.EV_EOF|unix.EV_ERROR) != 0 {
		ev |= Hangup
	}
	return ev
}

// disarmRest disables the filter of fd that was armed but did not fire,
// before the callback can hand the fd to a worker that re-arms it.
func (p *Poller) disarmRest(fd int, r *reg, fired Event) {
	armed := Event(r.armed.Swap(0))
	var filter int
	switch rest := armed &^ fired; {
	case rest&Readable != 0:
		filter = unix.EVFILT_READ
	case rest&Writable != 0:
		filter = unix.EVFILT_WRITE
	default:
		return
	}
	ch := []unix.Kevent_t{change(fd, filter, unix.EV_DISABLE)}
	unix.Kevent(p.kq, ch, nil, nil) // ENOENT if removed meanwhile: nothing to disarm
}

// Close stops the poller. Registered fds are left open.
func (p *Poller) Close() error {
	p.regMu.Lock()
	if p.closed.Swap(true) {
		p.regMu.Unlock()
		return errClosed
	}
	p.regMu.Unlock()
	p.wake()
	<-p.done
	err := unix.Close(p.kq)
	p.bury()
	return err
}
