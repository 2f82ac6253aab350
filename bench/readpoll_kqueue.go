//go:build darwin || freebsd

package bench

import (
	"time"

	"golang.org/x/sys/unix"
)

// readPoll is the subscribers' readiness loop: kqueue, level-triggered.
// It is built and vetted but not run here; the load tool's measurements
// (proc.go) read Linux's /proc in any case.
type readPoll struct {
	kq     int
	events []unix.Kevent_t
	ready  []int
}

func newReadPoll() (*readPoll, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(kq)
	return &readPoll{kq: kq, events: make([]unix.Kevent_t, 512), ready: make([]int, 512)}, nil
}

func (p *readPoll) add(fd int) error {
	var ch [1]unix.Kevent_t
	unix.SetKevent(&ch[0], fd, unix.EVFILT_READ, unix.EV_ADD)
	_, err := unix.Kevent(p.kq, ch[:], nil, nil)
	return err
}

// wait returns the fds that are readable, or none after timeout; the slice
// is reused by the next call.
func (p *readPoll) wait(timeout time.Duration) ([]int, error) {
	ts := unix.NsecToTimespec(timeout.Nanoseconds())
	n, err := unix.Kevent(p.kq, nil, p.events, &ts)
	if err == unix.EINTR {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for i, ev := range p.events[:n] {
		p.ready[i] = int(ev.Ident)
	}
	return p.ready[:n], nil
}

func (p *readPoll) close() { unix.Close(p.kq) }
