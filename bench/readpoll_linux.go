package bench

import (
	"time"

	"golang.org/x/sys/unix"
)

// readPoll is the subscribers' readiness loop: epoll, level-triggered.
type readPoll struct {
	ep     int
	events []unix.EpollEvent
	ready  []int
}

func newReadPoll() (*readPoll, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &readPoll{ep: ep, events: make([]unix.EpollEvent, 512), ready: make([]int, 512)}, nil
}

func (p *readPoll) add(fd int) error {
	return unix.EpollCtl(p.ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)})
}

// wait returns the fds that are readable, or none after timeout; the slice
// is reused by the next call.
func (p *readPoll) wait(timeout time.Duration) ([]int, error) {
	n, err := unix.EpollWait(p.ep, p.events, int(timeout.Milliseconds()))
	if err == unix.EINTR {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for i, ev := range p.events[:n] {
		p.ready[i] = int(ev.Fd)
	}
	return p.ready[:n], nil
}

func (p *readPoll) close() { unix.Close(p.ep) }
