package broker

import (
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsify/wsify/internal/backoff"
)

// natsBroker rides on core NATS. nats.go owns the connection: it
// reconnects with our backoff and re-sends every live subscription itself.
// Each wanted channel is one subscription, and all of them feed one Go
// channel read by one goroutine, so the broker's order is kept without a
// goroutine per subscription.
type natsBroker struct {
	cfg    Config
	h      Handlers
	node   nodeID
	nc     *nats.Conn
	msgs   chan *nats.Msg
	health *health
	counters

	mu   sync.Mutex
	subs map[string]*nats.Subscription // one per wanted channel; guarded by mu

	lastErr   atomic.Pointer[string] // the connection's last error, for Health
	poke      chan struct{}          // the connection's status may have changed
	stop      chan struct{}          // closed by Close
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// natsBacklog is how many messages may wait for the dispatcher before
// nats.go drops them as a slow consumer (counted in Stats.Dropped).
const natsBacklog = 16384

func openNATS(cfg Config, h Handlers, node nodeID) (*natsBroker, error) {
	n := &natsBroker{cfg: cfg, h: h, node: node, msgs: make(chan *nats.Msg, natsBacklog),
		health: newHealth(h.State), subs: map[string]*nats.Subscription{},
		poke: make(chan struct{}, 1), stop: make(chan struct{})}
	nc, err := nats.Connect(cfg.URL, n.options()...)
	if err != nil {
		return nil, fmt.Errorf("broker: nats: connect: %s", cfg.scrub(err.Error())) // url.Parse quotes the URL
	}
	n.nc = nc
	subscribeControl(n, h)
	n.wg.Go(n.watch)
	n.wg.Go(n.dispatch)
	n.changed(nil)
	return n, nil
}

func (n *natsBroker) options() []nats.Option {
	cfg := n.cfg
	onConn := func(*nats.Conn) { n.changed(nil) }
	onErr := func(_ *nats.Conn, err error) { n.changed(err) }
	return []nats.Option{
		nats.Name("wsify-" + n.node.String()),
		nats.NoEcho(), // the server keeps our own publications from us
		nats.Timeout(cfg.Timeout),
		// A server that stops reading would otherwise hold every Publish
		// (they wait for nats.go's lock while its flusher writes) for the
		// default minute; past Timeout the write fails and the connection
		// is replaced, which reports the broker down until it is back.
		nats.FlusherTimeout(cfg.Timeout),
		nats.ReconnectOnFlusherError(),
		nats.PingInterval(cfg.PingInterval),
		nats.MaxPingsOutstanding(2),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectBufSize(-1), // refuse, not buffer, publications while down
		nats.CustomReconnectDelay(func(attempts int) time.Duration {
			return backoff.Delay(cfg.MinBackoff, cfg.MaxBackoff, attempts)
		}),
		nats.NoCallbacksAfterClientClose(),
		nats.ConnectHandler(onConn),
		nats.ReconnectHandler(onConn),
		nats.ClosedHandler(onConn),
		nats.DisconnectErrHandler(onErr),
		nats.ReconnectErrHandler(onErr),
	}
}

// changed runs on nats.go's callback goroutine: it only records the error
// and wakes watch, which reads the connection's status itself.
func (n *natsBroker) changed(err error) {
	if err != nil {
		s := n.cfg.scrub(err.Error())
		n.lastErr.Store(&s)
	}
	select {
	case n.poke <- struct{}{}:
	default:
	}
}

// watch turns the connection's status into Health. While down it also
// checks every PingInterval, in case a confirmation failed on a live
// connection and no status change will come.
func (n *natsBroker) watch() {
	t := time.NewTicker(n.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-n.poke:
			n.check()
		case <-t.C:
			if !n.health.up.Load() {
				n.check()
			}
		}
	}
}

// check reports up only once a round trip to the server has passed the
// subscriptions nats.go re-sent on connecting.
func (n *natsBroker) check() {
	if st := n.nc.Status(); st != nats.CONNECTED {
		n.health.set(false, "nats "+n.cfg.RedactedURL()+": "+n.reason(st))
		return
	}
	if err := n.nc.FlushTimeout(n.cfg.Timeout); err != nil {
		n.health.set(false, "nats "+n.cfg.RedactedURL()+": confirm subscriptions: "+n.cfg.scrub(err.Error()))
		return
	}
	n.health.set(true, "")
}

func (n *natsBroker) reason(st nats.Status) string {
	if p := n.lastErr.Load(); p != nil {
		return strings.ToLower(st.String()) + ": " + *p
	}
	return strings.ToLower(st.String())
}

func (n *natsBroker) dispatch() {
	for {
		select {
		case <-n.stop:
			return
		case m := <-n.msgs:
			n.deliver(m)
		}
	}
}

func (n *natsBroker) deliver(m *nats.Msg) {
	name, ok := n.channelOf(m.Subject)
	if !ok {
		n.dropped.Add(1)
		return
	}
	filter, frame, ok := n.accept(n.node, m.Data)
	if ok {
		n.h.deliver(name, filter, frame)
	}
}

// Publish hands the publication to nats.go, which writes it in the
// background: core NATS confirms nothing, so a publication made just as the
// connection breaks can be lost without an error.
func (n *natsBroker) Publish(channel, frame []byte) error {
	return n.PublishFiltered(channel, nil, frame)
}

// Control publishes payload on the nodes' control channel.
func (n *natsBroker) Control(payload []byte) error {
	return n.Publish([]byte(controlChannel), payload)
}

// PublishFiltered is Publish with the filter in the envelope.
func (n *natsBroker) PublishFiltered(channel, filter, frame []byte) error {
	return n.publish(n.health, "nats", n.node, filter, frame, func(p []byte) error {
		return n.nc.Publish(n.subject(channel), p)
	})
}

// Subscribe registers the subscription with nats.go, which sends it now if
// connected and otherwise with the others on reconnecting.
func (n *natsBroker) Subscribe(channel []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.subs[string(channel)] != nil {
		return
	}
	sub, err := n.nc.ChanSubscribe(n.subject(channel), n.msgs)
	if err != nil {
		return // only after Close
	}
	n.subs[string(channel)] = sub
}

func (n *natsBroker) Unsubscribe(channel []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if sub := n.subs[string(channel)]; sub != nil {
		sub.Unsubscribe()
		delete(n.subs, string(channel))
	}
}

func (n *natsBroker) Health() Health { return n.health.get() }
func (n *natsBroker) Blocking() bool { return true }

func (n *natsBroker) Stats() Stats {
	st := Stats{Driver: "nats", Node: n.node.String(), URL: n.cfg.RedactedURL()}
	n.counters.fill(&st)
	n.health.fill(&st)
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch, sub := range n.subs {
		if !isControl(ch) {
			st.Subscriptions++
		}
		if d, err := sub.Dropped(); err == nil {
			st.Dropped += uint64(d)
		}
	}
	return st
}

func (n *natsBroker) Close() error {
	n.closeOnce.Do(func() {
		n.nc.Close()
		close(n.stop)
		n.wg.Wait()
	})
	return nil
}

// subject names channel in NATS: "<Prefix>.c.<name>" when the name is a
// valid subject token of letters, digits, '-' and '_', otherwise
// "<Prefix>.b.<name in unpadded base64url>", so any channel name works
// and two names never share a subject.
func (n *natsBroker) subject(channel []byte) string {
	if plainToken(channel) {
		return n.cfg.Prefix + ".c." + string(channel)
	}
	return n.cfg.Prefix + ".b." + base64.RawURLEncoding.EncodeToString(channel)
}

func (n *natsBroker) channelOf(subject string) ([]byte, bool) {
	rest, ok := strings.CutPrefix(subject, n.cfg.Prefix+".")
	if !ok || len(rest) < 3 {
		return nil, false
	}
	switch rest[:2] {
	case "c.":
		return []byte(rest[2:]), true
	case "b.":
		b, err := base64.RawURLEncoding.DecodeString(rest[2:])
		return b, err == nil
	}
	return nil, false
}

func plainToken[T string | []byte](s T) bool {
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return len(s) > 0
}

func validSubjectPrefix(prefix string) bool {
	for tok := range strings.SplitSeq(prefix, ".") {
		if !plainToken(tok) {
			return false
		}
	}
	return true
}
