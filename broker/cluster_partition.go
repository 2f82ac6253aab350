package broker

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// shard is a master of the cluster as this node uses it: a small pool for
// publishing and Partitions subscription connections.
type shard struct {
	addr       string
	client     *redis.Client
	parts      []*partition
	unanswered atomic.Uint32 // publications in a row it did not answer
}

// partition is one subscription connection to a master, kept up by its
// own goroutine, holding the channels run gives it in its wish list.
type partition struct {
	c      *clusterBroker
	sh     *shard
	wish   *wishlist
	ctx    context.Context // ends when its shard is dropped or the broker closed
	cancel context.CancelFunc
	done   chan struct{}

	// moved counts the times run moved channels in from another master
	// while the partition ran; it is bumped after their wishes are set. A
	// partition confirms with a ping that it has subscribed through a
	// count, and run takes it as up only once that is the latest.
	moved atomic.Uint64

	up     bool   // run's view, from the events; run's
	reason string // why it is down, empty while up or not yet known; run's
}

// partEvent is a partition's change between up and down.
type partEvent struct {
	p      *partition
	up     bool
	reason string
	moved  uint64 // when up: the moves it has subscribed through
}

// newShard prepares a master's connections; start opens them.
func (c *clusterBroker) newShard(addr string) *shard {
	sh := &shard{addr: addr, client: redis.NewClient(c.nodeOptions(addr, c.cfg.Partitions))}
	for range c.cfg.Partitions {
		p := &partition{c: c, sh: sh, done: make(chan struct{})}
		p.wish = newTrackedWishlist(c.confirmed, p)
		p.ctx, p.cancel = context.WithCancel(c.ctx)
		sh.parts = append(sh.parts, p)
	}
	return sh
}

// start runs the partitions. run calls it once it has given them their
// channels: a partition confirms what its wish list holds when it
// connects, and one that started empty would report up before the
// channels moved to it were subscribed.
func (sh *shard) start() {
	for _, p := range sh.parts {
		go p.run()
	}
}

// close ends the shard's partitions, then its client.
func (sh *shard) close() {
	for _, p := range sh.parts {
		p.cancel()
	}
	for _, p := range sh.parts {
		<-p.done
	}
	sh.client.Close()
}

// run keeps the partition's connection up, as the single-Redis driver
// keeps its one (keepUp).
func (p *partition) run() {
	defer close(p.done)
	keepUp(p.ctx, p.c.cfg, p.session, func(err error) {
		p.report(partEvent{reason: p.sh.addr + ": " + p.c.cfg.scrub(err.Error())})
	})
}

func (p *partition) report(ev partEvent) {
	ev.p = p
	select {
	case p.c.events <- ev:
	case <-p.ctx.Done():
	}
}

// session connects, subscribes every channel of the partition, reports up
// once the master has confirmed them, then applies changes until the
// connection fails, the master answers MOVED or drops a subscription.
func (p *partition) session() (wasUp bool, err error) {
	ps := p.sh.client.SSubscribe(p.ctx)
	recv := make(chan error, 1)
	pong := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer func() {
		ps.Close()
		wg.Wait()
		p.wish.lost()
	}()
	moved := p.moved.Load() // before the wishes it covers are read
	if err := p.apply(ps, p.wish.all(), nil); err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	wg.Go(func() { recv <- p.receive(ps, pong) })
	if err := p.confirm(ps, pong, recv); err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	p.report(partEvent{up: true, moved: moved})
	return true, p.serve(ps, recv, pong, moved)
}

// confirm pings behind the subscriptions: a master answers a
// connection's commands in order, so the pong comes after every
// SSUBSCRIBE was taken, or after the MOVED that refused one.
func (p *partition) confirm(ps *redis.PubSub, pong <-chan struct{}, recv <-chan error) error {
	if err := ps.Ping(p.ctx, syncToken); err != nil {
		return err
	}
	t := time.NewTimer(p.c.cfg.Timeout)
	defer t.Stop()
	select {
	case <-pong:
		return nil
	case err := <-recv:
		return err
	case <-t.C:
		return fmt.Errorf("subscriptions not confirmed within %v", p.c.cfg.Timeout)
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
}

// serve applies changes until the session ends. After channels moved in
// it pings again, one ping at a time, and reports what the pong confirms.
func (p *partition) serve(ps *redis.PubSub, recv <-chan error, pong <-chan struct{}, confirmed uint64) error {
	applied, asked := confirmed, confirmed // moves applied; moves the ping in flight confirms
	for {
		select {
		case <-p.ctx.Done():
			return nil
		case err := <-recv:
			return err
		case <-p.wish.wake:
			applied = p.moved.Load()
			sub, unsub := p.wish.changes()
			if err := p.apply(ps, sub, unsub); err != nil {
				return err
			}
		case <-pong:
			p.report(partEvent{up: true, moved: asked})
			confirmed = asked
		}
		if applied > asked && asked == confirmed {
			if err := ps.Ping(p.ctx, syncToken); err != nil {
				return fmt.Errorf("ping: %w", err)
			}
			asked = applied
		}
	}
}

// apply sends the changes, one command per slot and batch: a command
// naming channels of several slots is refused (CROSSSLOT). Commands are
// written without waiting for their replies.
func (p *partition) apply(ps *redis.PubSub, sub, unsub []string) error {
	for _, keys := range p.bySlot(sub) {
		if err := ps.SSubscribe(p.ctx, keys...); err != nil {
			return fmt.Errorf("ssubscribe: %w", err)
		}
	}
	for _, keys := range p.bySlot(unsub) {
		if err := ps.SUnsubscribe(p.ctx, keys...); err != nil {
			return fmt.Errorf("sunsubscribe: %w", err)
		}
	}
	return nil
}

// bySlot turns channels into their keys, grouped by slot in batches.
func (p *partition) bySlot(channels []string) [][]string {
	groups := map[uint16][]string{}
	var out [][]string
	for _, ch := range channels {
		k := p.c.key(ch)
		s := keySlot(k)
		groups[s] = append(groups[s], k)
		if len(groups[s]) == batchSize {
			out = append(out, groups[s])
			delete(groups, s)
		}
	}
	for _, g := range groups {
		out = append(out, g)
	}
	return out
}

// receive reads the connection until it fails (a MOVED reply too: run
// reloads the slot map).
func (p *partition) receive(ps *redis.PubSub, pong chan<- struct{}) error {
	return receivePubSub(p.ctx, ps, p.c.cfg.PingInterval, func(msg any) error { return p.handle(msg, pong) })
}

func (p *partition) handle(msg any, pong chan<- struct{}) error {
	switch m := msg.(type) {
	case *redis.Message:
		select {
		case p.c.msgs <- m:
		case <-p.ctx.Done():
		}
	case *redis.Pong:
		syncPonged(m, pong)
	case *redis.Subscription:
		ch, ok := p.c.channelOf(m.Channel)
		if !ok {
			return nil
		}
		// Redis unsubscribes a channel by itself when its slot leaves the
		// master (migrated, or the master demoted): a fresh session on
		// the reloaded slot map puts it where it belongs.
		if solicited := p.wish.answered(ch, m.Kind == "ssubscribe"); !solicited && m.Kind == "sunsubscribe" && p.wish.wants(ch) {
			return fmt.Errorf("the master dropped the subscription of %q: its slot moved", ch)
		}
	}
	return nil
}
