package bench

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// churner runs connect-join-close cycles at a rate.
type churner struct {
	j     job
	d     *dialer
	start time.Time
	end   time.Time
	next  atomic.Int64 // cycles started
	srcs  []netip.Addr // for the raw client
	dst   netip.AddrPort
	req   []byte // the raw client's upgrade request

	cycles, failed atomic.Int64

	mu       sync.Mutex
	failures map[string]int // guarded by mu
	upgrade  Hist           // guarded by mu
	join     Hist           // guarded by mu
	cycle    Hist           // guarded by mu
}

// runChurn runs cycles on j.Dialers goroutines until j.Count cycles,
// j.Duration or stop, whichever comes first.
func runChurn(j job, w *lineWriter, stop <-chan struct{}) (workerResult, error) {
	c := &churner{j: j, d: newDialer(j.Addr, j.Sources, time.Duration(j.Timeout)), failures: make(map[string]int),
		req: rawHandshake(j.Addr)}
	for _, s := range j.Sources {
		c.srcs = append(c.srcs, netip.MustParseAddr(s))
	}
	dst, err := netip.ParseAddrPort(j.Addr)
	if err != nil {
		return workerResult{}, fmt.Errorf("churn: %w", err)
	}
	c.dst = dst
	c.start = time.Now()
	c.end = c.start.Add(time.Duration(j.Duration))
	repDone := make(chan struct{})
	go reportEvery(w, 100*time.Millisecond, c.progress, repDone)
	var wg sync.WaitGroup
	for range max(j.Dialers, 1) {
		wg.Go(func() { c.run(stop) })
	}
	wg.Wait()
	elapsed := time.Since(c.start)
	close(repDone)
	w.write(event{Type: "done", Progress: c.progress()})
	<-stop
	res := workerResult{Progress: c.progress(), Failures: c.failures, Upgrade: c.upgrade, Join: c.join,
		Cycle: c.cycle, Elapsed: elapsed.Seconds()}
	return res, nil
}

func (c *churner) progress() progress {
	return progress{Cycles: int(c.cycles.Load()), Failed: int(c.failed.Load())}
}

// run does cycles while the budget lasts; cycle k starts no earlier than
// k/Rate after the start, so the offered rate holds however long each takes.
func (c *churner) run(stop <-chan struct{}) {
	var up, jn, cy Hist
	fails := map[string]int{}
	for !closed(stop) {
		k := int(c.next.Add(1) - 1)
		if k >= c.j.Count || !c.wait(k) {
			break
		}
		if reason := c.cycleOnce(c.j.First+k*max(c.j.Stride, 1), &up, &jn, &cy); reason != "" {
			fails[reason]++
			c.failed.Add(1)
		}
		c.cycles.Add(1)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.upgrade.Merge(up)
	c.join.Merge(jn)
	c.cycle.Merge(cy)
	for r, n := range fails {
		c.failures[r] += n
	}
}

// wait sleeps until cycle k's start time; false when past the deadline.
func (c *churner) wait(k int) bool {
	at := c.start
	if c.j.Rate > 0 {
		at = c.start.Add(time.Duration(float64(k) / c.j.Rate * float64(time.Second)))
	}
	if at.After(c.end) || time.Now().After(c.end) {
		return false
	}
	time.Sleep(time.Until(at))
	return true
}

// cycleOnce connects, joins, waits for the ok, closes with 1000 and waits
// for the server's close; it returns why it failed, or "".
func (c *churner) cycleOnce(i int, up, jn, cy *Hist) string {
	t0 := time.Now()
	conn, err := c.open(i)
	if err != nil {
		return failReason(err)
	}
	defer conn.close()
	t1 := time.Now()
	up.Record(uint64(t1.Sub(t0).Microseconds()))
	if conn.write(joinFrame(channelName(i%max(c.j.Channels, 1)), i)) != nil {
		return "join_write"
	}
	f, err := conn.next()
	if err != nil || f.op != ws.OpText || !bytes.Contains(f.payload, okReply) {
		return "join_reply"
	}
	jn.Record(uint64(time.Since(t1).Microseconds()))
	if conn.write(closeFrame1000) != nil {
		return "close_write"
	}
	if f, err := conn.next(); err != nil || f.op != ws.OpClose {
		return "close_reply"
	}
	cy.Record(uint64(time.Since(t0).Microseconds()))
	return ""
}

// churnConn is a client connection a cycle drives: a rawConn, or a net.Conn
// that gobwas/ws dialed.
type churnConn interface {
	write(b []byte) error
	next() (serverFrame, error)
	close()
}

// open dials connection i with the job's client.
func (c *churner) open(i int) (churnConn, error) {
	timeout := time.Duration(c.j.Timeout)
	if c.j.Client == "raw" {
		conn, err := rawDial(c.srcs[i%len(c.srcs)], c.dst, c.req, timeout)
		if err != nil {
			return nil, err
		}
		return conn, nil
	}
	conn, pending, err := c.d.dial(i)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(timeout))
	return &netConn{Conn: conn, frameReader: frameReader{r: conn, buf: pending}}, nil
}

// netConn is a blocking net.Conn read frame by frame.
type netConn struct {
	net.Conn
	frameReader
}

func (c *netConn) write(b []byte) error {
	_, err := c.Write(b)
	return err
}

func (c *netConn) close() { c.Close() }

// frameReader reads server frames from a blocking reader.
type frameReader struct {
	r   io.Reader
	buf []byte // bytes read and not yet consumed
	tmp [1024]byte
}

func (r *frameReader) next() (serverFrame, error) {
	for {
		if f, n := parseServerFrame(r.buf); n > 0 {
			r.buf = r.buf[n:]
			return f, nil
		}
		if err := r.fill(); err != nil {
			return serverFrame{}, err
		}
	}
}

func (r *frameReader) fill() error {
	n, err := r.r.Read(r.tmp[:])
	r.buf = append(r.buf, r.tmp[:n]...)
	return err
}
