package broker

import (
	"context"
	"strings"
	"sync"
	"time"
)

// Channel histories on Redis Cluster: the single-Redis scripts
// (redishistory.go), run on the master of the channel's slot as Publish
// is (onSlot: a MOVED reply followed once, nothing else retried), and
// publishing with SPUBLISH. Every key of a channel's history shares the
// slot of its shard channel. The master's node id goes with each call, so
// that a history written by another master (the one a replica replaced,
// or the one a slot came from) starts a new epoch. While a slot's keys
// are being migrated, a script whose keys are not all on one side is
// refused (ASK, TRYAGAIN): the call fails as unavailable, run nowhere.

// keyBase is what every key kept for a channel (history, idempotency,
// presence) starts with: the channel key, whose hash tag is the channel
// name, so they share its slot. A name starting with '}' leaves the
// channel key no hash tag (Redis hashes the whole key); its keys then take
// a tag made for that slot, under "<prefix>:}" where no channel key lives. Both forms end with the '}'
// that closes the channel name, and no suffix holds one, so two channels'
// keys never meet.
func (c *clusterBroker) keyBase(channel string) string {
	key := c.key(channel)
	if !strings.HasPrefix(channel, "}") {
		return key
	}
	return c.cfg.Prefix + ":}{" + slotTags()[keySlot(key)] + "}" + channel + "}"
}

// slotTags are, for each slot, a short hash tag that hashes to it: made
// once, the first time a name needs one (about 20 ms).
var slotTags = sync.OnceValue(func() *[clusterSlots]string {
	var tags [clusterSlots]string
	for i, found := 0, 0; found < clusterSlots; i++ {
		tag := strconv36(i)
		if s := crc16(tag) % clusterSlots; tags[s] == "" {
			tags[s] = tag
			found++
		}
	}
	return &tags
})

func strconv36(i int) string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	var b [8]byte
	n := len(b)
	for {
		n--
		b[n] = digits[i%36]
		if i /= 36; i == 0 {
			return string(b[n:])
		}
	}
}

// PublishAt runs the publish script on the channel's master (Historian).
func (c *clusterBroker) PublishAt(channel, content []byte, o Retention) (Position, error) {
	pos, _, err := c.PublishOnce(channel, content, o, "", 0)
	return pos, err
}

// PublishOnce runs the publish script with an idempotency key on the
// channel's master (Historian).
func (c *clusterBroker) PublishOnce(channel, content []byte, o Retention, key string, keep time.Duration) (Position, bool, error) {
	if !c.health.up.Load() {
		c.refused.Add(1)
		return Position{}, false, c.health.unavailable("redis-cluster")
	}
	ch := string(channel)
	keys := historyKeys(c.keyBase(ch), key)
	var res []any
	err := c.onSlot(keySlot(keys[0]), func(ctx context.Context, sh *shard, id string) error {
		var err error
		res, err = shardPublishScript.Run(ctx, sh.client, keys, publishArgs(o, id, c.key(ch), historyHead(c.node), content, keep)...).Slice()
		return err
	})
	return c.published1("redis-cluster", res, err)
}

// ReadHistory runs the read script on the channel's master (Historian).
func (c *clusterBroker) ReadHistory(channel []byte, o Retention) (Position, []Kept, error) {
	keys := historyKeys(c.keyBase(string(channel)), "")
	var res []any
	err := c.onSlot(keySlot(keys[0]), func(ctx context.Context, sh *shard, id string) error {
		var err error
		res, err = readScript.Run(ctx, sh.client, keys, newEpoch(), o.TTL.Milliseconds(), id).Slice()
		return err
	})
	return readKept("redis-cluster", res, err, o)
}
