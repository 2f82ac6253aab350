package server_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/server"
)

// The soak test churns clients for a few seconds: they connect, join and
// leave random channels, broadcast, send bad JSON, and end by closing
// properly, dropping TCP, sending a bad frame or vanishing mid-frame. Every
// client checks that nothing reaches it for a channel it never joined or
// after its leave was acknowledged. Afterwards every client is gone and the
// server must be back where it started: no connection, socket or channel,
// and the process's fd and goroutine counts as before.

// soakPlan sizes the run.
type soakPlan struct {
	workers   int           // goroutines driving clients
	perWorker int           // clients each drives at once
	channels  int           // channel names to pick from
	duration  time.Duration // the run stops after this...
	target    int64         // ...or once this many connections were opened
}

// planSoak sizes the run to the fd limit: every client costs two fds in
// this process, its own and the server's.
func planSoak(t testing.TB) soakPlan {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	concurrent := min(320, (int(lim.Cur)-500)/3)
	if concurrent < 32 {
		t.Fatalf("fd limit %d is too low for the soak test", lim.Cur)
	}
	return soakPlan{workers: 8, perWorker: concurrent / 8, channels: 32, duration: 12 * time.Second, target: 5000}
}

// soakRun is the shared state of one run.
type soakRun struct {
	srv   *server.Server
	plan  soakPlan
	stop  chan struct{} // closed when the run is over
	seq   atomic.Uint64 // publication numbers, taken before each broadcast is sent
	opens atomic.Int64  // connections opened
	// counters reported at the end
	deliveries, broadcasts, leavesAcked, badJSON atomic.Int64
	endings                                      [4]atomic.Int64

	mu       sync.Mutex
	problems []string // guarded by mu
}

func (r *soakRun) problem(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.problems) < 20 {
		r.problems = append(r.problems, fmt.Sprintf(format, args...))
	}
}

func (r *soakRun) channel(rng *rand.Rand) string {
	return fmt.Sprintf("soak-%d", rng.IntN(r.plan.channels))
}

func TestSoakChurnNeverDeliversAfterLeaveAndLeavesNothingBehind(t *testing.T) {
	plan := planSoak(t)
	s := start(t, server.Config{})
	stillServes(t, s) // warms up this process's own poller and buffers
	waitClosed(t, s)  // the warm-up client
	fds0, g0 := countFDs(t), runtime.NumGoroutine()
	r := &soakRun{srv: s, plan: plan, stop: make(chan struct{})}
	r.run()
	r.report(t)
	eventually(t, "no connection, socket or channel left", func() bool {
		st := s.Stats()
		return st.Open == 0 && st.Sockets == 0 && st.Channels == 0
	})
	settles(t, "open fds", func() int { return countFDs(t) }, fds0)
	settles(t, "goroutines", runtime.NumGoroutine, g0)
}

// run drives the workers until the time or the connection target is up.
func (r *soakRun) run() {
	var wg sync.WaitGroup
	for w := range r.plan.workers {
		wg.Add(1)
		go func() { defer wg.Done(); r.worker(uint64(w)) }()
	}
	deadline := time.After(r.plan.duration)
	for r.opens.Load() < r.plan.target {
		select {
		case <-deadline:
			close(r.stop)
			wg.Wait()
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	close(r.stop)
	wg.Wait()
}

func (r *soakRun) report(t testing.TB) {
	t.Helper()
	t.Logf("soak: %d connections (%d at once), %d broadcasts, %d deliveries, %d leaves acknowledged, %d bad JSON replies; endings close/drop/bad frame/half frame %d/%d/%d/%d",
		r.opens.Load(), r.plan.workers*r.plan.perWorker, r.broadcasts.Load(), r.deliveries.Load(), r.leavesAcked.Load(),
		r.badJSON.Load(), r.endings[0].Load(), r.endings[1].Load(), r.endings[2].Load(), r.endings[3].Load())
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.problems) > 0 {
		t.Fatalf("soak problems:\n%s", strings.Join(r.problems, "\n"))
	}
	// Without churn, traffic and leaves the checks above proved nothing.
	if r.opens.Load() < int64(2*r.plan.workers*r.plan.perWorker) || r.deliveries.Load() == 0 || r.leavesAcked.Load() == 0 {
		t.Fatal("the soak run did too little to test anything")
	}
}

// worker keeps perWorker clients alive, stepping a random one at a time
// and replacing those that ended; at the stop it ends them all.
func (r *soakRun) worker(id uint64) {
	rng := rand.New(rand.NewPCG(id, uint64(time.Now().UnixNano())))
	clients := make([]*soakClient, r.plan.perWorker)
	for step := 0; ; step++ {
		select {
		case <-r.stop:
			for _, c := range clients {
				if c != nil {
					c.end(rng)
				}
			}
			return
		default:
		}
		i := rng.IntN(len(clients))
		if clients[i] == nil {
			clients[i] = r.connect(id)
			continue
		}
		if !clients[i].step(rng) {
			clients[i] = nil
		}
		if step%4 == 0 {
			time.Sleep(time.Millisecond) // keeps the load modest on shared cores
		}
	}
}

// soakClient is one client and what it knows about its channels.
type soakClient struct {
	run    *soakRun
	ws     *websocket.Conn
	done   chan struct{} // closed when the reader has returned
	ending atomic.Int32  // how the writer ended it; 0 while it lives

	mu    sync.Mutex
	chans map[string]*chanState // channels ever joined; guarded by mu
}

// chanState is one channel of a client. A channel, once left, is never
// joined again by the same client, so anything that arrives for it after
// the leave was acknowledged is a delivery to a channel its receiver left.
type chanState struct {
	leaving bool   // leave sent
	left    bool   // leave acknowledged
	mark    uint64 // last publication number taken when the ack arrived
}

func (r *soakRun) connect(worker uint64) *soakClient {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, NetDial: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+worker%8))}, // spreads the ephemeral ports
	}).Dial}
	ws, _, err := d.Dial(wsURL(r.srv, ""), nil)
	if err != nil {
		r.problem("dial: %v", err)
		return nil
	}
	r.opens.Add(1)
	c := &soakClient{run: r, ws: ws, done: make(chan struct{}), chans: map[string]*chanState{}}
	go c.read()
	return c
}

// step does one random thing; it returns false when the client is gone.
func (c *soakClient) step(rng *rand.Rand) bool {
	var err error
	switch n := rng.IntN(100); {
	case n < 10:
		c.end(rng)
		return false
	case n < 35:
		err = c.join(c.run.channel(rng))
	case n < 55:
		err = c.leave(rng)
	case n < 97:
		err = c.broadcast(c.run.channel(rng))
	default:
		err = c.send(`{"command":`)
	}
	if err != nil { // the server closed it (the reader says why): replace it
		c.ws.Close()
		<-c.done
		return false
	}
	return true
}

func (c *soakClient) send(msg string) error {
	c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, []byte(msg))
}

// join joins channel unless this client joined it before. The state is
// recorded before sending: deliveries may follow the join at once.
func (c *soakClient) join(channel string) error {
	c.mu.Lock()
	_, seen := c.chans[channel]
	if !seen {
		c.chans[channel] = &chanState{}
	}
	c.mu.Unlock()
	if seen {
		return nil
	}
	return c.send(fmt.Sprintf(`{"command":"join","args":{"channel":%q},"id":"j:%s"}`, channel, channel))
}

// leave leaves one joined channel, asking for an acknowledgement.
func (c *soakClient) leave(rng *rand.Rand) error {
	c.mu.Lock()
	var joined []string
	for name, st := range c.chans {
		if !st.leaving {
			joined = append(joined, name)
		}
	}
	if len(joined) == 0 {
		c.mu.Unlock()
		return nil
	}
	channel := joined[rng.IntN(len(joined))]
	c.chans[channel].leaving = true
	c.mu.Unlock()
	return c.send(fmt.Sprintf(`{"command":"leave","args":{"channel":%q},"id":"l:%s"}`, channel, channel))
}

func (c *soakClient) broadcast(channel string) error {
	seq := c.run.seq.Add(1)
	c.run.broadcasts.Add(1)
	return c.send(fmt.Sprintf(`{"command":"broadcast","args":{"channel":%q,"content":{"seq":%d}}}`, channel, seq))
}

// soakMessage is any message the server sends a soak client.
type soakMessage struct {
	Channel string
	Content struct{ Seq uint64 }
	ID      string
	OK      bool
	Error   *struct{ Code string }
}

// read checks every message until the connection ends.
func (c *soakClient) read() {
	defer close(c.done)
	for {
		_, p, err := c.ws.ReadMessage()
		if err != nil {
			c.ended(err)
			return
		}
		var m soakMessage
		if err := json.Unmarshal(p, &m); err != nil {
			c.run.problem("unparsable message %q", p)
			continue
		}
		c.handle(&m, p)
	}
}

func (c *soakClient) handle(m *soakMessage, raw []byte) {
	switch {
	case m.Channel != "":
		c.delivered(m)
	case m.Error != nil && m.Error.Code == "bad_json":
		c.run.badJSON.Add(1)
	case m.OK && strings.HasPrefix(m.ID, "l:"):
		c.leftAck(strings.TrimPrefix(m.ID, "l:"))
	case !m.OK:
		c.run.problem("unexpected reply %s", raw)
	}
}

func (c *soakClient) delivered(m *soakMessage) {
	c.run.deliveries.Add(1)
	c.mu.Lock()
	var st chanState
	known := c.chans[m.Channel] != nil
	if known {
		st = *c.chans[m.Channel]
	}
	c.mu.Unlock()
	switch {
	case !known:
		c.run.problem("publication %d on %s reached a client that never joined it", m.Content.Seq, m.Channel)
	case st.left && m.Content.Seq > st.mark:
		c.run.problem("publication %d on %s, sent after the leave was acknowledged (at %d), was delivered", m.Content.Seq, m.Channel, st.mark)
	case st.left:
		c.run.problem("publication %d on %s arrived after the leave acknowledgement (at %d): it was queued after the reply", m.Content.Seq, m.Channel, st.mark)
	}
}

// leftAck marks channel left. Everything published to it before the leave
// ran was queued before this reply, so from now on nothing may arrive.
func (c *soakClient) leftAck(channel string) {
	mark := c.run.seq.Load()
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.chans[channel]; st != nil {
		st.left, st.mark = true, mark
	}
	c.run.leavesAcked.Add(1)
}

// Endings, as recorded in soakClient.ending.
const (
	endClose     = iota + 1 // close handshake, 1000
	endDrop                 // TCP dropped
	endBadFrame             // a reserved opcode: the server closes with 1002
	endHalfFrame            // half a frame, then the TCP connection dropped
)

// ended checks the way the connection ended against what the writer did.
func (c *soakClient) ended(err error) {
	var ce *websocket.CloseError
	code := -1
	if errors.As(err, &ce) {
		code = ce.Code
	}
	switch want := c.ending.Load(); {
	case want == endClose && code != websocket.CloseNormalClosure:
		c.run.problem("close handshake ended with %v", err)
	case want == endBadFrame && code != websocket.CloseProtocolError && code != -1:
		c.run.problem("a bad frame ended with %v, want 1002", err)
	case want == 0 && code != -1:
		c.run.problem("the server closed a well-behaved client: %v", err)
	}
}

// end ends the client one of four ways and waits for its reader.
func (c *soakClient) end(rng *rand.Rand) {
	how := int32(1 + rng.IntN(4))
	c.ending.Store(how)
	c.run.endings[how-1].Add(1)
	nc := c.ws.UnderlyingConn()
	switch how {
	case endClose:
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(5*time.Second))
	case endBadFrame:
		nc.Write([]byte{0x83, 0x80, 1, 2, 3, 4})
	case endHalfFrame:
		nc.Write([]byte{0x81, 0x80 | 100, 1, 2, 3, 4, 'h', 'a', 'l', 'f'})
		nc.Close()
	case endDrop:
		nc.Close()
	}
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.run.problem("no end of connection 10s after ending it (%d)", how)
	}
	c.ws.Close()
	<-c.done
}

// countFDs counts this process's open fds.
func countFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
