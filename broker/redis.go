package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// redisBroker rides on Redis pub/sub. Publications go through the client's
// connection pool; subscriptions live on one dedicated connection, owned by
// the run goroutine, which is replaced whole on any failure.
type redisBroker struct {
	cfg       Config
	h         Handlers
	node      nodeID
	self      string // envelope head of this node's publications
	keyPrefix string // "<Prefix>:"
	client    *redis.Client
	wish      *wishlist      // tracked: what Redis confirmed goes to confirmed
	confirmed *confirmations // subscriptions Redis confirmed, for WaitSubscribed
	pres      *presenceRedis // who is in each channel (redispresence.go)
	health    *health
	counters
	unanswered atomic.Uint32 // publications in a row Redis did not answer
	recycle    chan error    // unansweredLimit reached: serve gives up the session

	ctx       context.Context // ends at Close
	cancel    context.CancelFunc
	done      chan struct{} // closed when run has returned
	closeOnce sync.Once
}

// syncToken is the payload of the ping that confirms a fresh connection's
// subscriptions: Redis answers a connection's commands in order.
const syncToken = "wsify-sync"

// unansweredLimit is how many publications in a row Redis may leave
// unanswered (timed out, or the connection failed) before the broker is
// taken as down. The subscription connection alone would notice a stuck
// server only after two ping intervals; meanwhile every publication would
// wait the whole Timeout. One miss can be a blip; three are not.
const unansweredLimit = 3

// noteUnanswered counts in n the publications in a row a Redis did not
// answer (an error reply is an answer: the server is there) and reports
// the one that reaches unansweredLimit.
func noteUnanswered(n *atomic.Uint32, err error) (atLimit bool) {
	var reply redis.Error
	if err == nil || errors.As(err, &reply) {
		n.Store(0)
		return false
	}
	return n.Add(1) == unansweredLimit
}

// batchSize bounds the channels of one SUBSCRIBE or UNSUBSCRIBE.
const batchSize = 512

func openRedis(cfg Config, h Handlers, node nodeID) (*redisBroker, error) {
	opt, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("broker: redis URL: %s", cfg.scrub(err.Error())) // url.Parse quotes the URL
	}
	opt.ClientName = "wsify-" + node.String()
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = cfg.Timeout, cfg.Timeout, cfg.Timeout
	opt.MaxRetries = -1 // a PUBLISH retried after a lost reply would deliver twice
	opt.DisableIdentity = true
	if cfg.Dial != nil {
		opt.Dialer = cfg.Dial
	}
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	r := &redisBroker{cfg: cfg, h: h, node: node, keyPrefix: cfg.Prefix + ":", client: redis.NewClient(opt),
		confirmed: newConfirmations(), health: newHealth(h.State), done: make(chan struct{}), recycle: make(chan error, 1)}
	r.wish = newTrackedWishlist(r.confirmed, r)
	r.self = string(appendEnvelope(nil, node, nil, nil))
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.pres = r.newPresence()
	subscribeControl(r, h)
	go r.run()
	return r, nil
}

func (r *redisBroker) key(channel []byte) string { return r.keyPrefix + string(channel) }

// Publish sends the publication and waits for Redis to take it.
func (r *redisBroker) Publish(channel, frame []byte) error {
	return r.PublishFiltered(channel, nil, frame)
}

// Control publishes payload on the nodes' control channel.
func (r *redisBroker) Control(payload []byte) error {
	return r.Publish([]byte(controlChannel), payload)
}

// PublishFiltered is Publish with the filter in the envelope.
func (r *redisBroker) PublishFiltered(channel, filter, frame []byte) error {
	return r.publish(r.health, "redis", r.node, filter, frame, func(p []byte) error {
		ctx, cancel := context.WithTimeout(r.ctx, r.cfg.Timeout)
		defer cancel()
		err := r.client.Publish(ctx, r.key(channel), p).Err()
		r.noteAnswer(err)
		return err
	})
}

// noteAnswer counts the publications in a row that Redis did not answer.
// An error reply is an answer: the server is there. At the limit it asks
// run to replace the session, which reports down until a fresh connection
// has been confirmed, so that publications meanwhile fail at once.
func (r *redisBroker) noteAnswer(err error) {
	if noteUnanswered(&r.unanswered, err) {
		select {
		case r.recycle <- err:
		default:
		}
	}
}

func (r *redisBroker) Subscribe(channel []byte)   { r.wish.set(channel, true) }
func (r *redisBroker) Unsubscribe(channel []byte) { r.wish.set(channel, false) }
func (r *redisBroker) Health() Health             { return r.health.get() }
func (r *redisBroker) Blocking() bool             { return true }

func (r *redisBroker) Stats() Stats {
	st := Stats{Driver: "redis", Node: r.node.String(), URL: r.cfg.RedactedURL(), Subscriptions: r.wish.clients()}
	r.counters.fill(&st)
	r.health.fill(&st)
	return st
}

func (r *redisBroker) Close() error {
	var err error
	r.closeOnce.Do(func() {
		r.pres.close() // writes the last leaves while Redis is still there
		r.cancel()
		<-r.done
		err = r.client.Close()
	})
	return err
}

// run keeps a subscription connection up (keepUp).
func (r *redisBroker) run() {
	defer close(r.done)
	keepUp(r.ctx, r.cfg, r.session, func(err error) {
		r.health.set(false, "redis "+r.cfg.RedactedURL()+": "+r.cfg.scrub(err.Error()))
	})
}

// session connects, subscribes every wanted channel, reports up once Redis
// has confirmed them, then applies changes until the connection fails.
func (r *redisBroker) session() (wasUp bool, err error) {
	r.forgetUnanswered()
	ps := r.client.Subscribe(r.ctx)
	recv := make(chan error, 1)
	pong := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer func() {
		ps.Close()
		wg.Wait()
		r.wish.lost()
	}()
	if err := r.apply(ps, r.wish.all(), nil); err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	wg.Go(func() { recv <- r.receive(ps, pong) })
	if err := r.confirm(ps, pong, recv); err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	r.health.set(true, "")
	return true, r.serve(ps, recv)
}

// forgetUnanswered clears a count and a recycle request that belong to
// an earlier session, so a fresh one is judged on its own publications.
func (r *redisBroker) forgetUnanswered() {
	r.unanswered.Store(0)
	select {
	case <-r.recycle:
	default:
	}
}

func (r *redisBroker) confirm(ps *redis.PubSub, pong <-chan struct{}, recv <-chan error) error {
	if err := ps.Ping(r.ctx, syncToken); err != nil {
		return err
	}
	t := time.NewTimer(r.cfg.Timeout)
	defer t.Stop()
	select {
	case <-pong:
		return nil
	case err := <-recv:
		return err
	case <-t.C:
		return fmt.Errorf("subscriptions not confirmed within %v", r.cfg.Timeout)
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
}

func (r *redisBroker) serve(ps *redis.PubSub, recv <-chan error) error {
	for {
		select {
		case <-r.ctx.Done():
			return nil
		case err := <-recv:
			return err
		case err := <-r.recycle:
			return fmt.Errorf("%d publications in a row unanswered, the last: %w", unansweredLimit, err)
		case <-r.wish.wake:
			sub, unsub := r.wish.changes()
			if err := r.apply(ps, sub, unsub); err != nil {
				return err
			}
		}
	}
}

// apply sends the subscription changes. Lost changes on failure do not
// matter: the next connection subscribes the whole wish list afresh.
func (r *redisBroker) apply(ps *redis.PubSub, sub, unsub []string) error {
	for len(sub) > 0 || len(unsub) > 0 {
		var err error
		if len(sub) > 0 {
			n := min(len(sub), batchSize)
			err = ps.Subscribe(r.ctx, r.keys(sub[:n])...)
			sub = sub[n:]
		} else {
			n := min(len(unsub), batchSize)
			err = ps.Unsubscribe(r.ctx, r.keys(unsub[:n])...)
			unsub = unsub[n:]
		}
		if err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
	}
	return nil
}

func (r *redisBroker) keys(channels []string) []string {
	out := make([]string, len(channels))
	for i, ch := range channels {
		out[i] = r.keyPrefix + ch
	}
	return out
}

// receive reads the subscription connection until it fails.
func (r *redisBroker) receive(ps *redis.PubSub, pong chan<- struct{}) error {
	return receivePubSub(r.ctx, ps, r.cfg.PingInterval, func(msg any) error {
		r.handle(msg, pong)
		return nil
	})
}

func (r *redisBroker) handle(msg any, pong chan<- struct{}) {
	switch m := msg.(type) {
	case *redis.Message:
		r.deliver(m)
	case *redis.Subscription:
		if name, ok := strings.CutPrefix(m.Channel, r.keyPrefix); ok {
			r.wish.answered(name, m.Kind == "subscribe")
		}
	case *redis.Pong:
		syncPonged(m, pong)
	}
}

func (r *redisBroker) deliver(m *redis.Message) {
	name, ok := strings.CutPrefix(m.Channel, r.keyPrefix)
	r.deliverMessage(r.h, r.node, r.self, name, ok, m.Payload)
}
