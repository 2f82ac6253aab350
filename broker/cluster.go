package broker

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// clusterBroker rides on Redis Cluster sharded pub/sub (SPUBLISH,
// SSUBSCRIBE): a publication travels only within the shard that owns its
// channel's slot, so the cluster's pub/sub traffic grows with its shards.
//
// The run goroutine owns the slot map and which partition holds each
// wanted channel. A partition is one subscription connection to a master,
// with its own wish list and goroutine, reconnecting by itself like the
// single-Redis driver's session. Channels go to partition slot mod
// Partitions of their slot's master, so a node holds at most Partitions
// subscription connections per master whatever the number of channels.
//
// Publications are routed by this driver's own slot map rather than by a
// go-redis ClusterClient: that client retries a command whose connection
// failed after it was written, and a SPUBLISH retried after a lost reply
// delivers twice. Here only a MOVED reply, which Redis sends for a command
// it did not run, is followed.
type clusterBroker struct {
	cfg       Config
	h         Handlers
	node      nodeID
	self      string // envelope head of this node's publications
	keyPrefix string // "<Prefix>:{": the channel name is the key's hash tag
	url       clusterURL
	wish      *wishlist      // the node's; each partition has its own, tracked
	confirmed *confirmations // channels a partition's master confirmed (Confirmer)
	health    *health
	pres      *presenceRedis // who is in each channel (redispresence.go)
	counters

	slots  atomic.Pointer[slotMap] // what Publish routes by; nil until loaded
	events chan partEvent          // partitions' state changes, for run
	stale  chan struct{}           // Publish met a MOVED reply: reload the slot map
	stuck  chan *shard             // a master left unansweredLimit publications in a row unanswered
	msgs   chan *redis.Message     // what the partitions receive, for deliver

	// run's own state
	shards   map[string]*shard     // current masters by address
	assigned map[string]*partition // wanted channel -> its partition; nil while its slot has no master
	reload   reloadState
	judged   bool // a state has been reported

	ctx       context.Context // ends at Close
	cancel    context.CancelFunc
	done      chan struct{} // closed when run has returned
	delivered chan struct{} // closed when deliver has returned
	closeOnce sync.Once
}

// slotMap is one version of the cluster's slot map, never changed once
// stored: Publish reads it without a lock.
type slotMap struct {
	owner  [clusterSlots]*shard // nil: no master serves the slot
	shards map[string]*shard
	ids    map[string]string // master address -> its cluster node id
}

func openCluster(cfg Config, h Handlers, node nodeID) (*clusterBroker, error) {
	u, err := parseClusterURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	c := &clusterBroker{cfg: cfg, h: h, node: node, keyPrefix: cfg.Prefix + ":{", url: u,
		wish: newWishlist(), confirmed: newConfirmations(), health: newHealth(h.State),
		events: make(chan partEvent, 64), stale: make(chan struct{}, 1), stuck: make(chan *shard, 1), msgs: make(chan *redis.Message, 256),
		shards: map[string]*shard{}, assigned: map[string]*partition{},
		done: make(chan struct{}), delivered: make(chan struct{})}
	c.self = string(appendEnvelope(nil, node, nil, nil))
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.pres = c.newPresence()
	subscribeControl(c, h)
	go c.run()
	go c.deliver()
	return c, nil
}

// key is the Redis channel of a wsify channel. Its hash tag is the channel
// name, so keys made later for the same channel (history, presence) can
// share its slot: "<Prefix>:{<channel>}:history".
func (c *clusterBroker) key(channel string) string { return c.keyPrefix + channel + "}" }

// channelOf is the wsify channel of a Redis channel key.
func (c *clusterBroker) channelOf(key string) (string, bool) {
	name, ok := strings.CutPrefix(key, c.keyPrefix)
	if !ok {
		return "", false
	}
	return strings.CutSuffix(name, "}")
}

// Publish sends the publication to the master of its channel's slot and
// waits for it to take it (onSlot).
func (c *clusterBroker) Publish(channel, frame []byte) error {
	return c.PublishFiltered(channel, nil, frame)
}

// Control publishes payload on the nodes' control channel.
func (c *clusterBroker) Control(payload []byte) error {
	return c.Publish([]byte(controlChannel), payload)
}

// PublishFiltered is Publish with the filter in the envelope.
func (c *clusterBroker) PublishFiltered(channel, filter, frame []byte) error {
	key := c.key(string(channel))
	return c.publish(c.health, "redis-cluster", c.node, filter, frame, func(p []byte) error {
		return c.onSlot(keySlot(key), func(ctx context.Context, sh *shard, _ string) error {
			return sh.client.SPublish(ctx, key, p).Err()
		})
	})
}

// onSlot runs call on the master of slot as the slot map has it, with the
// master's node id, within the timeout. A MOVED reply means it was not run
// there: the slot map is reloaded and call made once more where Redis
// said. Nothing else is retried: a command whose reply was lost may have
// run.
func (c *clusterBroker) onSlot(slot uint16, call func(ctx context.Context, sh *shard, id string) error) error {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.Timeout)
	defer cancel()
	m := c.slots.Load()
	if m == nil || m.owner[slot] == nil {
		return fmt.Errorf("slot %d has %w", slot, errNoMaster)
	}
	sh := m.owner[slot]
	err := call(ctx, sh, m.ids[sh.addr])
	if addr, ok := movedTo(err); ok {
		c.markStale()
		if next := m.shards[addr]; next != nil {
			sh = next
			err = call(ctx, sh, m.ids[addr])
		}
	}
	c.noteAnswer(sh, err)
	return err
}

// noteAnswer counts the publications in a row a master did not answer, as
// the single-Redis driver does: at the limit run replaces the shard's
// connections, and the broker is down until they are confirmed again.
func (c *clusterBroker) noteAnswer(sh *shard, err error) {
	if noteUnanswered(&sh.unanswered, err) {
		select {
		case c.stuck <- sh:
		default:
		}
	}
}

// movedTo reads the address of a MOVED reply.
func movedTo(err error) (string, bool) {
	if err == nil || !strings.HasPrefix(err.Error(), "MOVED ") {
		return "", false
	}
	f := strings.Fields(err.Error())
	if len(f) != 3 {
		return "", false
	}
	return f[2], true
}

func (c *clusterBroker) markStale() {
	select {
	case c.stale <- struct{}{}:
	default:
	}
}

func (c *clusterBroker) Subscribe(channel []byte)   { c.wish.set(channel, true) }
func (c *clusterBroker) Unsubscribe(channel []byte) { c.wish.set(channel, false) }
func (c *clusterBroker) Health() Health             { return c.health.get() }
func (c *clusterBroker) Blocking() bool             { return true }

// Subscribed reports whether the master of channel's slot confirmed this
// node's subscription (Confirmer).
func (c *clusterBroker) Subscribed(channel []byte) bool { return c.confirmed.has(string(channel)) }

// WaitSubscribed waits until the master of channel's slot, as the slot map
// now has it, confirms this node's subscription (Confirmer). A channel
// moved to another master (slot migration, failover) waits again for the
// subscription there.
func (c *clusterBroker) WaitSubscribed(ctx context.Context, channel []byte) error {
	return c.confirmed.wait(ctx, string(channel))
}

func (c *clusterBroker) Stats() Stats {
	st := Stats{Driver: "redis-cluster", Node: c.node.String(), URL: c.cfg.RedactedURL(), Subscriptions: c.wish.clients()}
	c.counters.fill(&st)
	c.health.fill(&st)
	return st
}

func (c *clusterBroker) Close() error {
	c.closeOnce.Do(func() {
		c.pres.close() // writes the last leaves while the cluster is still there
		c.cancel()
		<-c.done
		<-c.delivered
	})
	return nil
}

// deliver hands what every partition receives to the Message handler on
// one goroutine, as the Handlers contract says. A channel lives on one
// partition at a time, so its publications keep Redis's order.
func (c *clusterBroker) deliver() {
	defer close(c.delivered)
	for {
		select {
		case <-c.ctx.Done():
			return
		case m := <-c.msgs:
			c.handle(m)
		}
	}
}

func (c *clusterBroker) handle(m *redis.Message) {
	name, ok := c.channelOf(m.Channel)
	c.deliverMessage(c.h, c.node, c.self, name, ok, m.Payload)
}
