package broker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Channel history on Redis. A channel's history is two keys sharing one
// hash slot ({<prefix>:<channel>} is their hash tag; on Redis Cluster the
// channel key's own, see clusterBroker.keyBase):
//
//	{wsify:news}:m   hash: e (the epoch), o (the offset of the latest publication),
//	                 b (the offset the epoch began after), n (redis-cluster: the id
//	                 of the master that wrote it)
//	{wsify:news}:h   list: "<offset> <unix ms> <content>", oldest first, trimmed to the size
//	{wsify:news}:i:K string "<offset> <epoch>": the publication made under idempotency key K
//
// One Lua script takes the next offset, appends to the list and PUBLISHes
// (SPUBLISHes on a cluster) "h<len><node id><offset> <content>" on the
// channel, atomically: every node, the publisher's included, delivers what
// the subscription brings, so offsets arrive in order everywhere, and a
// publication a node can deliver is already in the list a recovering join
// reads. Both keys expire a TTL after the last publication. A lost hash
// (flushed, evicted, expired), a list lost under a live hash, or (on a
// cluster) a hash written by another master than the one serving the slot
// now gets a new epoch: a replica that took over may lack the last
// publications its master acknowledged, and a recovery across that gap
// would miss them silently. Offsets go on from where they were (past
// them, offsetJump, after a change of master), so a subscriber that stays
// joined sees them grow.

// offsetJump is how far offsets jump when another master's history
// starts a new epoch: the replica that took over may hold a lower offset
// than publications its master delivered before dying, and a subscriber
// that stayed joined throughout (it is not told of the new epoch) must see
// offsets keep growing, or a client dropping offsets it saw already as
// duplicates would drop new publications. Far more than a replica lags.
const offsetJump = "1048576"

// historyMagic starts the payload of a publication with history.
const historyMagic = "h"

// newEpoch makes the epoch a channel gets when its history starts again.
func newEpoch() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// freshEpoch is the script fragment that starts a new epoch when the hash
// is gone, the list is gone while the hash says publications were made in
// this epoch, or another master wrote the hash. KEYS meta, list; ARGV[1]
// fresh epoch, ARGV[2] ttl ms, ARGV[3] the id of the master running the
// script (redis-cluster; empty on a single Redis).
const freshEpoch = `
local e = redis.call('HGET', KEYS[1], 'e')
local o = tonumber(redis.call('HGET', KEYS[1], 'o') or '0')
local b = tonumber(redis.call('HGET', KEYS[1], 'b') or '0')
local moved = e and ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'n') ~= ARGV[3]
if (not e) or (o > b and redis.call('EXISTS', KEYS[2]) == 0) or moved then
  if moved and o > 0 then
    o = o + ` + offsetJump + `
  end
  e = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', e, 'b', o, 'o', o)
  if ARGV[3] ~= '' then
    redis.call('HSET', KEYS[1], 'n', ARGV[3])
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// replayed is the script fragment that answers a publication whose
// idempotency key (KEYS[3], when given) was used already with the first
// one's position, before anything is written.
const replayed = `
if KEYS[3] then
  local prev = redis.call('GET', KEYS[3])
  if prev then
    local sp = string.find(prev, ' ', 1, true)
    return {tonumber(string.sub(prev, 1, sp - 1)), string.sub(prev, sp + 1), 1}
  end
end
`

// publishScript: KEYS meta, list[, idempotency key]; ARGV fresh epoch, ttl
// ms, master id, size, pub/sub channel, envelope head, content, ms to keep
// the idempotency key. Returns {offset, epoch, replayed (0 or 1)}. cmd is
// PUBLISH or SPUBLISH.
func publishScript(cmd string) *redis.Script {
	return redis.NewScript(replayed + freshEpoch + `
o = redis.call('HINCRBY', KEYS[1], 'o', 1)
redis.call('RPUSH', KEYS[2], o .. ' ' .. now .. ' ' .. ARGV[7])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[4]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('` + cmd + `', ARGV[5], ARGV[6] .. o .. ' ' .. ARGV[7])
if KEYS[3] then
  redis.call('SET', KEYS[3], o .. ' ' .. e, 'PX', ARGV[8])
end
return {o, e, 0}
`)
}

var (
	redisPublishScript = publishScript("PUBLISH")
	shardPublishScript = publishScript("SPUBLISH")
)

// readScript: KEYS meta, list; ARGV fresh epoch, ttl ms, master id.
// Returns {offset, epoch, now ms, entries}.
var readScript = redis.NewScript(freshEpoch + `
return {o, e, now, redis.call('LRANGE', KEYS[2], 0, -1)}
`)

// historyKeys are the keys of a channel's history whose names start with
// base: meta, list, and the idempotency key's when key is not empty.
func historyKeys(base, key string) []string {
	keys := []string{base + ":m", base + ":h"}
	if key != "" {
		keys = append(keys, base+":i:"+key)
	}
	return keys
}

// historyHead is the head of a publication's payload with history.
func historyHead(node nodeID) string {
	return historyMagic + string([]byte{nodeIDLen}) + string(node[:])
}

// publishArgs are publishScript's ARGV.
func publishArgs(o Retention, master, channel, head string, content []byte, keep time.Duration) []any {
	return []any{newEpoch(), o.TTL.Milliseconds(), master, o.Size, channel, head, content, max(1, keep.Milliseconds())}
}

// PublishAt runs the publish script (Historian).
func (r *redisBroker) PublishAt(channel, content []byte, o Retention) (Position, error) {
	pos, _, err := r.PublishOnce(channel, content, o, "", 0)
	return pos, err
}

// PublishOnce runs the publish script with an idempotency key (Historian).
func (r *redisBroker) PublishOnce(channel, content []byte, o Retention, key string, keep time.Duration) (Position, bool, error) {
	if !r.health.up.Load() {
		r.refused.Add(1)
		return Position{}, false, r.health.unavailable("redis")
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.Timeout)
	defer cancel()
	res, err := redisPublishScript.Run(ctx, r.client, historyKeys(r.keyBase(channel), key),
		publishArgs(o, "", r.key(channel), historyHead(r.node), content, keep)...).Slice()
	r.noteAnswer(err)
	return r.published1("redis", res, err)
}

// published1 reads the publish script's answer and counts it.
func (c *counters) published1(driver string, res []any, err error) (Position, bool, error) {
	var pos Position
	if err == nil {
		pos, err = position(res)
	}
	if err != nil {
		c.refused.Add(1)
		return pos, false, fmt.Errorf("broker: %s: publish: %w: %w", driver, failure(err), err)
	}
	again := len(res) > 2 && res[2] == int64(1)
	if !again {
		c.published.Add(1)
	}
	return pos, again, nil
}

func (r *redisBroker) keyBase(channel []byte) string {
	return "{" + r.keyPrefix + string(channel) + "}"
}

// ReadHistory runs the read script (Historian).
func (r *redisBroker) ReadHistory(channel []byte, o Retention) (Position, []Kept, error) {
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.Timeout)
	defer cancel()
	res, err := readScript.Run(ctx, r.client, historyKeys(r.keyBase(channel), ""), newEpoch(), o.TTL.Milliseconds(), "").Slice()
	return readKept("redis", res, err, o)
}

// readKept reads the read script's answer: the publications younger than
// the TTL.
func readKept(driver string, res []any, err error, o Retention) (Position, []Kept, error) {
	var pos Position
	if err == nil {
		pos, err = position(res)
	}
	if err == nil && len(res) < 4 {
		err = errors.New("short script reply")
	}
	if err != nil {
		return pos, nil, fmt.Errorf("broker: %s: read history: %w: %w", driver, ErrUnavailable, err)
	}
	now, _ := res[2].(int64)
	raw, _ := res[3].([]any)
	kept := make([]Kept, 0, len(raw))
	for _, v := range raw {
		k, at, ok := parseEntry(v)
		if ok && now-at <= o.TTL.Milliseconds() {
			kept = append(kept, k)
		}
	}
	return pos, kept, nil
}

// Subscribed reports whether Redis confirmed the subscription (Confirmer).
func (r *redisBroker) Subscribed(channel []byte) bool { return r.confirmed.has(string(channel)) }

// WaitSubscribed waits for Redis to confirm the subscription (Historian).
func (r *redisBroker) WaitSubscribed(ctx context.Context, channel []byte) error {
	return r.confirmed.wait(ctx, string(channel))
}

func position(res []any) (Position, error) {
	if len(res) < 2 {
		return Position{}, errors.New("short script reply")
	}
	o, ok1 := res[0].(int64)
	e, ok2 := res[1].(string)
	if !ok1 || !ok2 || o < 0 {
		return Position{}, fmt.Errorf("unexpected script reply %v", res)
	}
	return Position{Offset: uint64(o), Epoch: e}, nil
}

// parseEntry reads "<offset> <unix ms> <content>".
func parseEntry(v any) (Kept, int64, bool) {
	s, _ := v.(string)
	off, rest, ok1 := strings.Cut(s, " ")
	at, content, ok2 := strings.Cut(rest, " ")
	o, err1 := strconv.ParseUint(off, 10, 64)
	t, err2 := strconv.ParseInt(at, 10, 64)
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		return Kept{}, 0, false
	}
	return Kept{Offset: o, Content: []byte(content)}, t, true
}

// deliverHistory hands a publication with history (payload
// "h<len><node id><offset> <content>") on channel to the node, its own
// included: every node delivers them in Redis's order.
func (c *counters) deliverHistory(h Handlers, channel, payload string) {
	p := payload[len(historyMagic):]
	if len(p) < 1 || len(p) < 1+int(p[0]) {
		c.dropped.Add(1)
		return
	}
	off, content, ok := strings.Cut(p[1+int(p[0]):], " ")
	o, err := strconv.ParseUint(off, 10, 64)
	if !ok || err != nil {
		c.dropped.Add(1)
		return
	}
	c.received.Add(1)
	if h.Publication != nil {
		h.Publication([]byte(channel), o, []byte(content))
	}
}
