package server

import (
	"time"

	"github.com/gobwas/ws"

	"github.com/wsify/wsify/netpoll"
	"github.com/wsify/wsify/protocol"
	"github.com/wsify/wsify/server/internal/wheel"
)

// Dead peers are found without a timer per connection. A connection's
// liveness is one word, c.lim.seen, in the server's monotonic nanoseconds:
//
//	0       not upgraded: never pinged
//	t > 0   bytes last arrived at t (any bytes: a pong, a command, half a
//	        frame all prove the peer is there)
//	-t < 0  pinged at t, nothing heard since
//
// The handler stores now() whenever a read brings bytes. One sweeper walks
// the connection table (indexed by fd, so it costs no memory per
// connection) one slice per tick, a full pass every min(interval,
// timeout)/2. A connection silent for PingInterval gets the shared ping
// frame through its outbox, so it never lands inside another frame; one
// still silent PingTimeout after its ping is dropped. A visit is an atomic
// load and a compare, so a pass over idle connections costs little next to
// the pings they need anyway (about 30ns a connection a pass with 100k
// connections, BenchmarkSweepVisit, against a writev per ping), and busy
// connections are never pinged.

// pingFrame is the one ping every connection is sent; outboxes share it.
var pingFrame = protocol.AppendFrame(nil, ws.OpPing, nil)

// sweepSlices is the number of ticks in a full pass over the table.
const sweepSlices = 8

// sweeper is the single goroutine that pings silent connections and drops
// dead ones. Its fields belong to that goroutine.
type sweeper struct {
	*wheel.Ticking
	srv               *Server
	interval, timeout int64   // nanoseconds
	slice             int     // slice of the table the next tick visits
	ping, drop        []*conn // found by the current tick
}

func newSweeper(s *Server, interval, timeout time.Duration) *sweeper {
	w := &sweeper{srv: s, interval: int64(interval), timeout: int64(timeout)}
	tick := max(min(interval, timeout)/2/sweepSlices, time.Millisecond)
	w.Ticking = wheel.StartTicking(tick, func(time.Time) { w.sweep() })
	return w
}

// sweep visits one slice of the table, then pings and drops outside its
// lock what the visit found.
func (w *sweeper) sweep() {
	now := w.srv.now()
	w.srv.conns.visitSlice(w.slice, sweepSlices, func(c *conn) { w.visit(c, now) })
	w.slice = (w.slice + 1) % sweepSlices
	for _, c := range w.ping {
		w.srv.stats.pings.Add(1)
		if c.enqueue(pingFrame) {
			c.Flush()
		}
	}
	for _, c := range w.drop {
		c.dropDead(now)
	}
	clear(w.ping)
	clear(w.drop)
	w.ping, w.drop = w.ping[:0], w.drop[:0]
}

// visit sorts one connection; it runs under the table lock, so it only
// looks at the liveness word. The compare-and-swap loses to a read that
// stores a newer time meanwhile, and then no ping is due.
func (w *sweeper) visit(c *conn, now int64) {
	v := c.lim.seen.Load()
	switch {
	case v > 0 && now-v >= w.interval:
		if c.lim.seen.CompareAndSwap(v, -now) {
			w.ping = append(w.ping, c)
		}
	case v < 0 && now+v >= w.timeout:
		w.drop = append(w.drop, c)
	}
}

// heard records that a read brought bytes. A connection becomes eligible
// for pings when it is upgraded (opened calls heard too).
func (c *conn) heard() {
	if c.srv.lim.sweep != nil && c.state == stateOpen {
		c.lim.seen.Store(c.srv.now())
	}
}

// dropDead closes a connection whose peer answered nothing: no close
// frame, since nobody would read it, and SO_LINGER 0, so the kernel resets
// the connection and frees the socket at once instead of retransmitting a
// FIN and unsent frames to a vanished host for many minutes. A connection
// paused on the authorizer or the broker is not read, so its silence proves nothing: it
// gets a fresh interval instead.
func (c *conn) dropDead(now int64) {
	c.mu.Lock()
	switch {
	case c.closing != nil || c.closed || c.released || c.lim.seen.Load() >= 0:
		c.mu.Unlock()
		return
	case c.paused:
		c.lim.seen.Store(now)
		c.mu.Unlock()
		return
	}
	netpoll.SetLingerZero(c.fd) // the fd is open until released
	c.srv.stats.deadPeers.Add(1)
	c.unlockSubmit(c.requestCloseLocked(discDeadPeer))
}
