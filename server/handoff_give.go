package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsify/wsify/hub"
	"github.com/wsify/wsify/protocol"
	"github.com/wsify/wsify/server/internal/handoff"
)

// giving is a handoff under way on the process that gives. After the
// listeners, everything the new process receives goes through one queue,
// in the order it was put there under mu: the histories, then connections
// (taken by their handlers) and publications (queued by their publishers)
// interleaved, then Done, then the publications made after it (and End,
// with a networked broker). One writer sends it.
type giving struct {
	s    *Server
	link *handoff.Link
	wake chan struct{} // the writer has something to send
	down chan struct{} // closed when the link failed or was closed
	// ready is closed when the new process says it serves, so this one may
	// exit without a service manager seeing its service die.
	ready     chan struct{}
	downOnce  sync.Once
	readyOnce sync.Once
	adminAddr string // the admin listener sent; "" when none was

	// mu orders the queue: a publication holds it while it queues locally
	// and on the queue, a connection while it leaves the hub and records
	// what was queued for it. It heads the lock order (locksordering.txt).
	mu      sync.Mutex
	queue   []outItem                // guarded by mu
	stopped bool                     // nothing more goes on the queue; guarded by mu
	closing bool                     // Done is queued: publications ask for an ack; guarded by mu
	ended   bool                     // End is queued: nothing more is passed on; guarded by mu
	seq     uint64                   // numbers the publications that ask for an ack; guarded by mu
	acks    map[uint64]chan struct{} // publications awaiting their ack; guarded by mu
}

// outItem is one thing to send: a connection with its socket, a
// publication, the histories, Done or End.
type outItem struct {
	conn *handoff.Conn
	fd   int
	pub  *handoff.Pub
	hist []handoff.History
	done bool
	end  bool
}

// requestEvery is how often the handoff asks again the connections it
// could not take yet (waiting on the authorizer or the broker).
const requestEvery = 20 * time.Millisecond

// checkEvery is how often the handoff looks whether every connection that
// can go has gone.
const checkEvery = 2 * time.Millisecond

// ackWait bounds how long a publication made after Done waits for the new
// process: past it the new process is taken to be stuck, and this one
// answers its publisher regardless.
const ackWait = 2 * time.Second

// readyWait bounds the wait for the new process to say it serves.
const readyWait = 10 * time.Second

// give hands everything over on l; it returns when this server is shut
// down, or serves on after a handoff that failed.
func (s *Server) give(l *handoff.Link) {
	began := time.Now()
	g := &giving{s: s, link: l, wake: make(chan struct{}, 1), down: make(chan struct{}),
		ready: make(chan struct{}), acks: map[uint64]chan struct{}{}}
	s.ho.handing.Store(true)
	s.poller.Remove(s.lfd) // the backlog waits for the new process
	s.ho.giving.Store(g)
	if err := g.sendListeners(); err != nil {
		g.abort(err, nil)
		return
	}
	g.queueHistories()
	go g.readAnswers()
	go g.request()
	if err := g.writeUntilDone(); err != nil {
		return // aborted
	}
	s.log.Info("handed over to the new process", "connections", s.ho.handed.Load(), "took", time.Since(began).Round(time.Millisecond),
		"left", s.conns.len(), "unsent_bytes", s.ho.unsent.Load(), "unparsed_bytes", s.ho.unparsed.Load(), "messages_begun", s.ho.fragmented.Load())
	go g.writeAfterDone()
	g.finish()
}

// sendListeners sends the public listener and the admin one, if any.
// This process keeps its copy of the public one until Done, so that it
// can accept again should the handoff fail.
func (g *giving) sendListeners() error {
	if err := g.link.Send(handoff.KindListener, handoff.AppendText(nil, "public"), []int{g.s.lfd}); err != nil {
		return err
	}
	return g.sendAdmin()
}

// sendAdmin sends a duplicate of the admin listener, which this process
// stops accepting on first (requests in flight complete): the new
// process's net.FileListener puts the descriptor, shared by every
// duplicate, in blocking mode for a moment, and an accept of this process
// caught in that moment would block in the kernel, where closing the
// listener could not wake it. (For the same reason no Fd() here.)
func (g *giving) sendAdmin() error {
	ln, ok := g.s.admin.ln.(*net.TCPListener)
	if !ok {
		return nil
	}
	rc, err := ln.SyscallConn()
	if err != nil {
		return fmt.Errorf("handoff: admin listener: %w", err)
	}
	dup, dupErr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) { dup, dupErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil || dupErr != nil {
		return fmt.Errorf("handoff: admin listener: %w", errors.Join(err, dupErr))
	}
	defer unix.Close(dup)
	g.adminAddr = ln.Addr().String()
	ln.Close()
	return g.link.Send(handoff.KindListener, handoff.AppendText(nil, "admin"), []int{dup})
}

// reopenAdmin listens on the admin address again after a handoff that
// failed.
func (g *giving) reopenAdmin() {
	if g.adminAddr == "" {
		return
	}
	ln, err := net.Listen("tcp", g.adminAddr)
	if err != nil {
		g.s.log.Error("cannot listen on the admin address again", "addr", g.adminAddr, "err", err)
		return
	}
	g.s.stopAdmin()
	g.s.admin.ln = ln
	g.s.serveAdmin()
}

// queueHistories queues the histories this process keeps, before any
// connection or publication: the new process goes on from them.
func (g *giving) queueHistories() {
	if g.s.ns == nil || g.s.remoteHistory {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var hs []handoff.History
	for _, k := range g.s.hub.Histories() {
		h := handoff.History{Channel: k.Channel, Epoch: k.Epoch, Last: k.Last, Touched: k.Touched, Entries: make([]handoff.Entry, len(k.Pubs))}
		for i, e := range k.Pubs {
			h.Entries[i] = handoff.Entry{At: e.At, Frame: e.Frame}
		}
		hs = append(hs, h)
	}
	if len(hs) > 0 {
		g.queue = append(g.queue, outItem{hist: hs})
	}
}

// request asks every connection's handler to hand it over, again every
// requestEvery for those that could not go yet, until none is left that
// can, or the shutdown timeout passes; then it queues Done. TLS
// connections and closing ones stay, for the drain that follows.
func (g *giving) request() {
	deadline := time.Now().Add(max(g.s.cfg.ShutdownTimeout, g.s.cfg.Auth.Timeout+time.Second))
	var asked time.Time
	for {
		ask := time.Since(asked) >= requestEvery
		if ask {
			asked = time.Now()
		}
		left := 0
		g.s.conns.each(func(c *conn) {
			if c.tls == nil && !c.isClosed() {
				left++
				if ask {
					c.schedule(evHandoff)
				}
			}
		})
		if left == 0 || time.Now().After(deadline) || g.isDown() {
			break
		}
		time.Sleep(checkEvery)
	}
	g.mu.Lock()
	if !g.stopped {
		g.closing = true
		g.queue = append(g.queue, outItem{done: true})
	}
	g.mu.Unlock()
	g.notify()
}

// take hands c over: it runs on c's handler, c frozen with no writer.
func (g *giving) take(c *conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped || g.closing {
		c.thaw()
		return
	}
	s := c.srv
	for _, ch := range c.channels {
		s.leaveKeepingBroker([]byte(ch), c)
	}
	open := c.state == stateOpen
	c.presenceMoved(false)
	r := c.record()
	s.poller.Remove(c.fd)
	s.forget(c)
	if open {
		s.stats.open.Add(-1)
	}
	g.queue = append(g.queue, outItem{conn: &r, fd: c.fd})
	g.notify()
}

// leaveKeepingBroker takes c out of the hub, but not this process out of
// the broker: with a networked broker, this process goes on passing the
// channel's publications on until the new one has switched to its own
// subscription (handoff_switch.go); they end with the broker at shutdown.
func (s *Server) leaveKeepingBroker(name []byte, c *conn) {
	mu := s.link.stripe(name)
	mu.Lock()
	defer mu.Unlock()
	s.hub.Leave(name, c)
}

// publish queues a publication locally with local, which returns the
// subscribers reached, the frame and its offset on a channel with history,
// and for the new process, with its filter (nil: none). After Done it returns only once the new process
// has queued it too (or is gone).
func (g *giving) publish(channel []byte, f *hub.Filter, local func() (n int, frame []byte, offset uint64)) int {
	g.mu.Lock()
	n, frame, offset := local()
	if g.stopped || g.ended {
		g.mu.Unlock()
		return n
	}
	p := &handoff.Pub{Channel: bytes.Clone(channel), Frame: frame, Offset: offset}
	if f != nil {
		p.Filter = f.Encoded()
	}
	var ack chan struct{}
	// With a networked broker the new process holds its connections until
	// End, and publishes nothing before: there is nothing to order against.
	if g.closing && g.s.link.pubs == nil {
		g.seq++
		p.Seq, ack = g.seq, make(chan struct{})
		g.acks[p.Seq] = ack
	}
	g.queue = append(g.queue, outItem{pub: p})
	g.mu.Unlock()
	g.notify()
	if ack != nil {
		t := time.NewTimer(ackWait)
		select {
		case <-ack:
		case <-g.down:
		case <-t.C:
			g.s.log.Warn("the new process did not confirm a publication in time", "channel", string(channel))
		}
		t.Stop()
	}
	return n
}

// deliverAtGiving is fromBrokerAt during a handoff: the publication of a
// channel whose history the broker keeps goes to the local subscribers
// and, with its offset, to the new process.
func (s *Server) deliverAtGiving(g *giving, channel []byte, offset uint64, content []byte) {
	frame := protocol.HistoryFrame(channel, offset, content)
	n := g.publish(channel, nil, func() (int, []byte, uint64) {
		return s.hub.DeliverAt(channel, offset, func() *hub.Message { return hub.NewMessage(frame, s.variant()) }), frame, offset
	})
	s.stats.deliveries.Add(uint64(n))
}

func (g *giving) notify() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

func (g *giving) isDown() bool {
	select {
	case <-g.down:
		return true
	default:
		return false
	}
}

// writeUntilDone sends the queue until Done is sent. On a failure it
// aborts the handoff and returns the error.
func (g *giving) writeUntilDone() error {
	for {
		select {
		case <-g.wake:
		case <-g.down:
			err := errors.New("handoff: the new process went away")
			g.abort(err, nil)
			return err
		}
		g.mu.Lock()
		items := g.queue
		g.queue = nil
		g.mu.Unlock()
		sent, err := g.send(items)
		if err != nil {
			g.abort(err, items[sent:])
			return err
		}
		if slices.ContainsFunc(items, func(it outItem) bool { return it.done }) {
			return nil
		}
	}
}

// writeAfterDone sends the publications made after Done until the link
// goes down.
func (g *giving) writeAfterDone() {
	for {
		select {
		case <-g.wake:
		case <-g.down:
			return
		}
		g.mu.Lock()
		items := g.queue
		g.queue = nil
		g.mu.Unlock()
		if _, err := g.send(items); err != nil {
			g.s.log.Warn("handoff: cannot pass publications to the new process any more", "err", err)
			g.linkDown()
			return
		}
	}
}

// Bounds of one message of connections: the descriptors one sendmsg may
// carry, and bytes enough to keep the pipe busy without a large buffer.
const batchBytes = 4 << 20

var batchConns = handoff.MaxFDs

// batchPause, set only by tests (export_test.go), is a pause after each
// message of connections, which with small batches stretches a handoff so
// that publications surely come in the middle of it.
var batchPause time.Duration

// send sends items in order, connections in batches, and closes each
// socket once sent. It returns how many items went.
func (g *giving) send(items []outItem) (int, error) {
	var buf []byte
	for i := 0; i < len(items); {
		it := items[i]
		switch {
		case it.conn != nil:
			var recs []handoff.Conn
			var fds []int
			size := 0
			for ; i < len(items) && items[i].conn != nil && len(fds) < batchConns && size < batchBytes; i++ {
				r := items[i].conn
				recs = append(recs, *r)
				fds = append(fds, items[i].fd)
				size += len(r.Unsent) + len(r.Unparsed) + len(r.Message) + 256
			}
			buf = handoff.AppendConns(buf[:0], recs)
			if err := g.link.Send(handoff.KindConns, buf, fds); err != nil {
				return i - len(recs), err
			}
			for _, fd := range fds {
				g.s.poller.CloseFD(fd) // the new process holds the socket now
			}
			g.s.ho.handed.Add(int64(len(fds)))
			time.Sleep(batchPause)
		case it.pub != nil:
			var pubs []handoff.Pub
			for ; i < len(items) && items[i].pub != nil; i++ {
				pubs = append(pubs, *items[i].pub)
			}
			buf = handoff.AppendPubs(buf[:0], pubs)
			if err := g.link.Send(handoff.KindPub, buf, nil); err != nil {
				return i - len(pubs), err
			}
		case it.hist != nil:
			for hs := it.hist; len(hs) > 0; {
				k, size := 0, 0
				for ; k < len(hs) && (k == 0 || size < batchBytes); k++ {
					size += len(hs[k].Channel) + 64
					for _, e := range hs[k].Entries {
						size += len(e.Frame) + 16
					}
				}
				buf = handoff.AppendHistories(buf[:0], hs[:k])
				if err := g.link.Send(handoff.KindHistory, buf, nil); err != nil {
					return i, err
				}
				hs = hs[k:]
			}
			i++
		case it.end:
			if err := g.link.Send(handoff.KindEnd, nil, nil); err != nil {
				return i, err
			}
			i++
		default:
			if err := g.link.Send(handoff.KindDone, nil, nil); err != nil {
				return i, err
			}
			i++
		}
	}
	return len(items), nil
}

// readAnswers reads what the new process says: acks and Ready.
func (g *giving) readAnswers() {
	defer g.linkDown()
	for {
		m, err := g.link.Recv()
		if err != nil {
			return
		}
		switch m.Kind {
		case handoff.KindAck:
			seq, _ := handoff.ParseSeq(m.Payload)
			g.mu.Lock()
			ack := g.acks[seq]
			delete(g.acks, seq)
			g.mu.Unlock()
			if ack != nil {
				close(ack)
			}
		case handoff.KindReady:
			g.readyOnce.Do(func() { close(g.ready) })
		case handoff.KindSwitched:
			time.AfterFunc(switchMargin, g.endForward)
		case handoff.KindRefuse:
			reason, _ := handoff.ParseText(m.Payload)
			g.s.log.Warn("the new process gave up the takeover", "reason", reason)
			return
		}
	}
}

// linkDown closes the link: the writer fails, publications stop waiting.
func (g *giving) linkDown() {
	g.downOnce.Do(func() {
		close(g.down)
		g.link.Close()
	})
}

// abort ends a handoff that failed before Done: this process takes back
// what it had not sent, accepts again and listens for another takeover.
// Connections already sent are the new process's, or lost with it.
func (g *giving) abort(err error, unsent []outItem) {
	s := g.s
	g.mu.Lock()
	g.stopped = true
	unsent = append(unsent, g.queue...)
	g.queue = nil
	g.mu.Unlock()
	g.linkDown()
	s.ho.giving.Store(nil)
	kept := 0
	for _, it := range unsent {
		if it.conn != nil {
			s.adopt(it.conn, it.fd).unpark()
			kept++
		}
	}
	s.ho.handing.Store(false)
	s.resumeAccepts()
	g.reopenAdmin()
	s.log.Error("handoff failed; serving on", "err", err, "handed", s.ho.handed.Load(), "kept", kept)
	s.releaseHandoff()
}

// finish runs once Done is sent: it waits for the new process to serve,
// then shuts this one down (what is left gets the gentle drain; HTTP
// requests in flight complete) and reports the handoff over.
func (g *giving) finish() {
	s := g.s
	t := time.NewTimer(readyWait)
	select {
	case <-g.ready:
	case <-g.down:
	case <-t.C:
		s.log.Warn("the new process did not say it serves in time; shutting down all the same")
	}
	t.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		s.log.Warn("shutdown after the handoff incomplete", "err", err)
	}
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
	s.ho.giving.Store(nil)
	g.linkDown()
	close(s.ho.gone)
}
