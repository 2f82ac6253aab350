package broker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/wsify/wsify/internal/backoff"
)

// reloadState is when run must next ask the cluster for its slot map.
type reloadState struct {
	due     bool      // the map may be stale
	attempt int       // failed loads in a row
	next    time.Time // not before
	err     error     // why the last load failed; nil once one worked
}

// run keeps the slot map and the partitions in step with the cluster and
// with the wish list, and reports the broker up only while every
// partition has confirmed its subscriptions.
func (c *clusterBroker) run() {
	defer close(c.done)
	defer c.closeShards()
	c.reload.due = true
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		if c.reload.due && !time.Now().Before(c.reload.next) {
			c.reloadSlots()
		}
		c.judge()
		if c.reload.due {
			retry.Reset(time.Until(c.reload.next))
		}
		select {
		case <-c.ctx.Done():
			return
		case <-c.wish.wake:
			c.route()
		case ev := <-c.events:
			c.note(ev)
		case <-c.stale:
			c.reload.due = true
		case sh := <-c.stuck:
			c.replace(sh)
		case <-retry.C:
		}
	}
}

// reloadSlots loads the slot map, moves the channels whose slot changed
// master, and drops the partitions of nodes that are no longer masters.
func (c *clusterBroker) reloadSlots() {
	slots, err := c.loadSlots()
	if err != nil {
		c.reload.attempt++
		c.reload.err = err
		c.reload.next = time.Now().Add(backoff.Delay(c.cfg.MinBackoff, c.cfg.MaxBackoff, c.reload.attempt))
		return
	}
	c.reload = reloadState{}
	m, fresh := c.buildSlotMap(slots)
	for addr, sh := range c.shards {
		if m.shards[addr] == nil {
			sh.close()
		}
	}
	c.shards = maps.Clone(m.shards) // m is never changed once stored: Publish reads it
	c.slots.Store(m)
	c.reassign(m, fresh)
}

// buildSlotMap builds the map CLUSTER SLOTS describes, with the shards known
// already and fresh ones, not started, for new masters.
func (c *clusterBroker) buildSlotMap(slots []redis.ClusterSlot) (m *slotMap, fresh []*shard) {
	m = &slotMap{shards: map[string]*shard{}, ids: map[string]string{}}
	for _, s := range slots {
		if len(s.Nodes) == 0 {
			continue
		}
		addr := s.Nodes[0].Addr // the master comes first
		m.ids[addr] = s.Nodes[0].ID
		sh := m.shards[addr]
		if sh == nil {
			if sh = c.shards[addr]; sh == nil {
				sh = c.newShard(addr)
				fresh = append(fresh, sh)
			}
			m.shards[addr] = sh
		}
		for i := max(s.Start, 0); i <= min(s.End, clusterSlots-1); i++ {
			m.owner[i] = sh
		}
	}
	return m, fresh
}

// reassign moves every channel whose partition changed under m, then
// starts the fresh shards, which confirm their channels as they connect,
// and has each running partition that got channels confirm them again.
func (c *clusterBroker) reassign(m *slotMap, fresh []*shard) {
	moved := map[*partition]bool{}
	for ch, p := range c.assigned {
		if t := c.target(m, ch); t != p {
			c.move(ch, p, t)
			moved[t] = t != nil && !slices.Contains(fresh, t.sh)
		}
	}
	for _, sh := range fresh {
		sh.start()
	}
	for p, running := range moved {
		if running {
			p.moved.Add(1)
			p.up = false
			select { // its serve may have drained the wishes before the count moved: it must look again
			case p.wish.wake <- struct{}{}:
			default:
			}
		}
	}
}

// loadSlots asks the masters it knows, then the seeds, for CLUSTER SLOTS.
// A seed gets a connection of its own, closed at once: it may be a replica
// the node has no other business with.
func (c *clusterBroker) loadSlots() ([]redis.ClusterSlot, error) {
	var errs []error
	for _, sh := range c.shards {
		slots, err := c.askSlots(sh.client)
		if err == nil {
			return slots, nil
		}
		errs = append(errs, err)
	}
	for _, addr := range c.url.seeds {
		cl := redis.NewClient(c.nodeOptions(addr, 1))
		slots, err := c.askSlots(cl)
		cl.Close()
		if err == nil {
			return slots, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func (c *clusterBroker) askSlots(cl *redis.Client) ([]redis.ClusterSlot, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.Timeout)
	defer cancel()
	slots, err := cl.ClusterSlots(ctx).Result()
	if err == nil && len(slots) == 0 {
		err = errors.New("no slots")
	}
	if err != nil {
		return nil, fmt.Errorf("%s: cluster slots: %w", cl.Options().Addr, err)
	}
	return slots, nil
}

// nodeOptions are the options of every connection to node addr. No
// command is retried: a publication retried after a lost reply would
// deliver twice.
func (c *clusterBroker) nodeOptions(addr string, pool int) *redis.Options {
	return &redis.Options{Addr: addr, Username: c.url.user, Password: c.url.password,
		ClientName:  "wsify-" + c.node.String(),
		DialTimeout: c.cfg.Timeout, ReadTimeout: c.cfg.Timeout, WriteTimeout: c.cfg.Timeout, PoolTimeout: c.cfg.Timeout,
		PoolSize: pool, MaxActiveConns: pool, MaxIdleConns: pool,
		MaxRetries: -1, DialerRetries: 1, DisableIdentity: true, Dialer: c.cfg.Dial,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}}
}

// target is the partition that should hold channel under m.
func (c *clusterBroker) target(m *slotMap, channel string) *partition {
	if m == nil {
		return nil
	}
	slot := keySlot(c.key(channel))
	sh := m.owner[slot]
	if sh == nil {
		return nil
	}
	return sh.parts[int(slot)%len(sh.parts)]
}

// move hands channel from partition from to partition to (either nil).
// A partition of a dropped shard is gone: telling it is harmless.
func (c *clusterBroker) move(channel string, from, to *partition) {
	if from != nil {
		from.wish.set([]byte(channel), false)
	}
	if to != nil {
		to.wish.set([]byte(channel), true)
	}
	c.assigned[channel] = to
}

// route passes the node's new wishes to the partitions that hold them,
// under the node's wishlist lock: a join that finds its channel confirmed
// (Subscribed) cannot fall between the drain of an unsubscribe and the
// partition's wish, which drops the confirmation.
func (c *clusterBroker) route() {
	m := c.slots.Load()
	c.wish.apply(func(sub, unsub []string) {
		for _, ch := range unsub {
			if p := c.assigned[ch]; p != nil {
				p.wish.set([]byte(ch), false)
			}
			delete(c.assigned, ch)
		}
		for _, ch := range sub {
			c.move(ch, nil, c.target(m, ch))
		}
	})
}

// replace drops a master whose publications go unanswered, with its
// connections, and reloads the slot map at once, which opens fresh ones.
// Until they are confirmed the broker is down and publications fail fast.
func (c *clusterBroker) replace(sh *shard) {
	if c.shards[sh.addr] != sh {
		return // already dropped
	}
	delete(c.shards, sh.addr)
	for _, p := range sh.parts {
		p.up, p.reason = false, fmt.Sprintf("%s: %d publications in a row unanswered", sh.addr, unansweredLimit)
	}
	c.judge() // down for this reason, before the reload opens the new connections
	sh.close()
	c.reload.due, c.reload.next = true, time.Time{}
}

// note records a partition's new state. A partition that failed may have
// met a moved slot or a failed master: the slot map is reloaded.
func (c *clusterBroker) note(ev partEvent) {
	if c.shards[ev.p.sh.addr] != ev.p.sh {
		return // a dropped shard's last words
	}
	if ev.up && ev.moved < ev.p.moved.Load() {
		return // channels moved in since that ping: not confirmed yet
	}
	ev.p.up, ev.p.reason = ev.up, ev.reason
	if !ev.up {
		c.reload.due = true
	}
}

// judge reports the broker up when the slot map covers every slot and
// every partition has confirmed its subscriptions, and why not otherwise.
// Like the single-Redis driver, the first state it reports is the outcome
// of the first attempt, not "connecting".
func (c *clusterBroker) judge() {
	why, pending := c.whyDown()
	if pending && !c.judged {
		return
	}
	c.judged = true
	c.health.set(why == "", why)
}

// whyDown is why the broker is down, empty when it is up; pending when
// it is only that a first attempt has not ended yet.
func (c *clusterBroker) whyDown() (why string, pending bool) {
	m := c.slots.Load()
	switch {
	case m == nil && c.reload.err != nil:
		return "redis-cluster " + c.cfg.RedactedURL() + ": " + c.cfg.scrub(c.reload.err.Error()), false
	case m == nil:
		return "connecting", true
	}
	for slot, sh := range m.owner {
		if sh == nil {
			return fmt.Sprintf("redis-cluster: slot %d has no master", slot), false
		}
	}
	for _, sh := range m.shards {
		for _, p := range sh.parts {
			switch {
			case p.reason != "":
				return "redis-cluster: " + p.reason, false
			case !p.up:
				why, pending = "redis-cluster: subscribing on "+sh.addr, true
			}
		}
	}
	return why, pending
}

// closeShards ends every partition and client; run's last act.
func (c *clusterBroker) closeShards() {
	for _, sh := range c.shards {
		sh.close()
	}
}
