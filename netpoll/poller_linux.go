//go:build linux

package netpoll

import (
	"fmt"
	"sync"

	"github.com/mailru/easygo/netpoll"
	"golang.org/x/sys/unix"
)

// Event is a set of readiness conditions. It is easygo's own type, so
// callbacks go to easygo as they are, without a converting closure each.
type Event = netpoll.EpollEvent

// Readiness conditions. Hangup covers errors and peer hang-ups, which the
// kernel reports whatever was asked for.
const (
	Readable Event = unix.EPOLLIN | unix.EPOLLRDHUP
	Writable Event = unix.EPOLLOUT
	Hangup   Event = unix.EPOLLHUP | unix.EPOLLERR | unix.EPOLLRDHUP
)

// Poller dispatches readiness of raw fds to callbacks, which run on the
// single poller goroutine and must only hand work off.
type Poller struct {
	ep      *netpoll.Epoll
	eventFD int // wakes the poller to close buried fds

	mu    sync.Mutex
	grave []int // fds unregistered and waiting to be closed; guarded by mu
}

// New starts a poller.
func New() (*Poller, error) {
	ep, err := netpoll.EpollCreate(nil)
	if err != nil {
		return nil, fmt.Errorf("netpoll: create epoll: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		ep.Close()
		return nil, fmt.Errorf("netpoll: eventfd: %w", err)
	}
	p := &Poller{ep: ep, eventFD: efd}
	if err := ep.Add(efd, netpoll.EPOLLIN, p.bury); err != nil {
		ep.Close()
		unix.Close(efd)
		return nil, fmt.Errorf("netpoll: watch eventfd: %w", err)
	}
	return p, nil
}

// Add registers fd for a single notification of ev.
func (p *Poller) Add(fd int, ev Event, cb func(Event)) error {
	return p.ep.Add(fd, ev|unix.EPOLLONESHOT, cb)
}

// AddListener registers a listening socket, level-triggered and lasting, so
// that a backlog left after one callback fires again.
func (p *Poller) AddListener(fd int, cb func()) error {
	return p.ep.Add(fd, netpoll.EPOLLIN, func(Event) { cb() })
}

// Rearm asks for one more notification of ev on fd.
func (p *Poller) Rearm(fd int, ev Event) error {
	return p.ep.Mod(fd, ev|unix.EPOLLONESHOT)
}

// Remove unregisters fd without closing it.
func (p *Poller) Remove(fd int) error { return p.ep.Del(fd) }

// CloseFD unregisters fd now and closes it once the poller has dispatched
// every event it might still hold for it.
func (p *Poller) CloseFD(fd int) {
	p.ep.Del(fd) // may already be removed
	p.mu.Lock()
	wake := len(p.grave) == 0
	p.grave = append(p.grave, fd)
	p.mu.Unlock()
	if wake {
		var one = [8]byte{1}
		unix.Write(p.eventFD, one[:])
	}
}

// bury runs on the poller goroutine, after the callbacks of its batch were
// looked up, so no event of a buried fd can reach a new owner of its number.
func (p *Poller) bury(Event) {
	var buf [8]byte
	unix.Read(p.eventFD, buf[:])
	p.mu.Lock()
	fds := p.grave
	p.grave = nil
	p.mu.Unlock()
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// Close stops the poller. Registered fds are left open.
func (p *Poller) Close() error {
	err := p.ep.Close()
	p.bury(0)
	unix.Close(p.eventFD)
	return err
}
