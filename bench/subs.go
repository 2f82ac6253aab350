package bench

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// subscriber is one held connection. Its fields belong to the loop
// goroutine once the connection is registered.
type subscriber struct {
	fd      int
	channel int
	joined  bool
	closed  bool
	recv    uint64
	nextSeq int64
	left    []byte // start of a frame not yet complete
}

// subSet holds a worker's connections on one readiness loop: no goroutine and
// no buffer per connection, so the generator costs little per socket.
type subSet struct {
	poll  *readPoll
	table []atomic.Pointer[subscriber] // by fd; written before the fd is registered
	buf   []byte                       // the loop's read buffer

	// Loop-only state.
	latency  Hist
	reads    uint64
	frames   uint64
	codes    map[int]int
	disorder []uint64 // per channel

	// Shared counters for progress lines.
	opened, joined, failed, closed atomic.Int64
	recv                           atomic.Uint64
	lastJoin                       atomic.Int64 // unix nanos of the last join acknowledged

	channels int // publication i goes to channel i % channels

	mu       sync.Mutex
	failures map[string]int // guarded by mu
	subs     []*subscriber  // every connection added; guarded by mu
}

func newSubSet(maxFD, channels int) (*subSet, error) {
	poll, err := newReadPoll()
	if err != nil {
		return nil, err
	}
	return &subSet{poll: poll, table: make([]atomic.Pointer[subscriber], maxFD), buf: make([]byte, 256<<10),
		codes: make(map[int]int), disorder: make([]uint64, channels), failures: make(map[string]int),
		channels: channels}, nil
}

func (s *subSet) fail(reason string) {
	s.failed.Add(1)
	s.mu.Lock()
	s.failures[reason]++
	s.mu.Unlock()
}

// add registers a detached, upgraded socket that has already sent its
// join; pending holds bytes the server sent behind the handshake.
func (s *subSet) add(fd, channel int, pending []byte) error {
	if fd >= len(s.table) {
		unix.Close(fd)
		return errors.New("fd_over_plan")
	}
	sub := &subscriber{fd: fd, channel: channel, left: pending, nextSeq: int64(channel)}
	s.mu.Lock()
	s.subs = append(s.subs, sub)
	s.mu.Unlock()
	s.table[fd].Store(sub)
	s.opened.Add(1)
	return s.poll.add(fd)
}

// loop reads ready sockets until stop is set.
func (s *subSet) loop(stop *atomic.Bool) {
	for !stop.Load() {
		fds, err := s.poll.wait(50 * time.Millisecond)
		if err != nil {
			return
		}
		for _, fd := range fds {
			if sub := s.table[fd].Load(); sub != nil && !sub.closed {
				s.readable(sub)
			}
		}
	}
}

// readable reads what one socket has and handles every complete frame.
func (s *subSet) readable(sub *subscriber) {
	off := copy(s.buf, sub.left)
	n, err := unix.Read(sub.fd, s.buf[off:])
	if err == unix.EAGAIN || err == unix.EINTR {
		return
	}
	if n <= 0 {
		s.gone(sub, 0)
		return
	}
	s.reads++
	now := time.Now().UnixNano()
	b := s.buf[:off+n]
	for len(b) > 0 && !sub.closed {
		f, used := parseServerFrame(b)
		if used == 0 {
			break
		}
		s.frames++
		s.frame(sub, f, now)
		b = b[used:]
	}
	sub.left = append(sub.left[:0], b...)
}

func (s *subSet) frame(sub *subscriber, f serverFrame, now int64) {
	switch {
	case f.op == ws.OpClose:
		s.gone(sub, closeCode(f.payload))
	case f.op != ws.OpText:
	case bytes.HasPrefix(f.payload, channelMark):
		s.broadcast(sub, f.payload, now)
	case bytes.Contains(f.payload, okReply) && !sub.joined:
		sub.joined = true
		s.joined.Add(1)
		s.lastJoin.Store(now)
	case bytes.Contains(f.payload, errorReply):
		s.fail("join_error")
	}
}

func (s *subSet) broadcast(sub *subscriber, p []byte, now int64) {
	seq, sent, ok := parseStamp(p)
	if !ok {
		return
	}
	if seq != sub.nextSeq {
		s.disorder[sub.channel]++
	}
	sub.nextSeq = seq + int64(s.channels)
	sub.recv++
	s.recv.Add(1)
	s.latency.Record(uint64(max(now-sent, 0)+500) / 1000)
}

// gone closes sub after the server closed it (code 0: without a frame).
func (s *subSet) gone(sub *subscriber, code int) {
	if sub.closed {
		return
	}
	sub.closed = true
	s.codes[code]++
	s.closed.Add(1)
	unix.Close(sub.fd) // closing the only fd also removes it from the epoll set
}

// result summarises the set once the loop has stopped.
func (s *subSet) result() workerResult {
	r := workerResult{Failures: s.failures, CloseCodes: s.codes, Latency: s.latency, Reads: s.reads, Frames: s.frames,
		Channels: make([]chanCount, s.channels)}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.subs {
		c := &r.Channels[sub.channel]
		if sub.closed {
			c.Closed++
			c.RecvClosed += sub.recv
		} else {
			c.Open++
			c.RecvOpen += sub.recv
		}
	}
	for i, d := range s.disorder {
		r.Channels[i].Disorder = d
	}
	r.Progress = s.progress()
	return r
}

func (s *subSet) progress() progress {
	return progress{Opened: int(s.opened.Load()), Joined: int(s.joined.Load()), Failed: int(s.failed.Load()),
		Closed: int(s.closed.Load()), Recv: s.recv.Load(), LastJoin: s.lastJoin.Load()}
}
