package broker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Channel history on Redis. A channel's history is two keys sharing one
// hash slot ({<prefix>:<channel>} is their hash tag, for Redis Cluster):
//
//	{wsify:news}:m   hash: e (the epoch), o (the offset of the latest publication)
//	{wsify:news}:h   list: "<offset> <unix ms> <content>", oldest first, trimmed to the size
//
// One Lua script takes the next offset, appends to the list and PUBLISHes
// "h<len><node id><offset> <content>" on the channel, atomically: every
// node, the publisher's included, delivers what the subscription brings,
// so offsets arrive in order everywhere, and a publication a node can
// deliver is already in the list a recovering join reads. Both keys expire
// a TTL after the last publication. A lost hash (flushed, evicted,
// expired) or a list lost under a live hash gets a new epoch.

// historyMagic starts the payload of a publication with history.
const historyMagic = "h"

// epochOf makes the epoch a channel gets when its history starts again.
func newEpoch() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// freshEpoch is the script fragment that starts a new epoch when the hash
// is gone, or the list is gone while the hash says publications were made.
const freshEpoch = `
local e = redis.call('HGET', KEYS[1], 'e')
local o = tonumber(redis.call('HGET', KEYS[1], 'o') or '0')
if (not e) or (o > 0 and redis.call('EXISTS', KEYS[2]) == 0) then
  e = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', e)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// publishScript: KEYS meta, list; ARGV fresh epoch, ttl ms, size, pub/sub
// channel, envelope head, content. Returns {offset, epoch}.
var publishScript = redis.NewScript(freshEpoch + `
o = redis.call('HINCRBY', KEYS[1], 'o', 1)
redis.call('RPUSH', KEYS[2], o .. ' ' .. now .. ' ' .. ARGV[6])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[5] .. o .. ' ' .. ARGV[6])
return {o, e}
`)

// readScript: KEYS meta, list; ARGV fresh epoch, ttl ms. Returns {offset,
// epoch, now ms, entries}.
var readScript = redis.NewScript(freshEpoch + `
return {o, e, now, redis.call('LRANGE', KEYS[2], 0, -1)}
`)

func (r *redisBroker) historyKeys(channel []byte) []string {
	tag := "{" + r.keyPrefix + string(channel) + "}"
	return []string{tag + ":m", tag + ":h"}
}

// PublishAt runs the publish script (Historian).
func (r *redisBroker) PublishAt(channel, content []byte, o Retention) (Position, error) {
	var pos Position
	if !r.health.up.Load() {
		r.refused.Add(1)
		return pos, r.health.unavailable("redis")
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.Timeout)
	defer cancel()
	head := historyMagic + string([]byte{nodeIDLen}) + string(r.node[:])
	res, err := publishScript.Run(ctx, r.client, r.historyKeys(channel),
		newEpoch(), o.TTL.Milliseconds(), o.Size, r.key(channel), head, content).Slice()
	r.noteAnswer(err)
	if err == nil {
		pos, err = position(res)
	}
	if err != nil {
		r.refused.Add(1)
		return pos, fmt.Errorf("broker: redis: publish: %w: %w", ErrUnavailable, err)
	}
	r.published.Add(1)
	return pos, nil
}

// ReadHistory runs the read script (Historian).
func (r *redisBroker) ReadHistory(channel []byte, o Retention) (Position, []Kept, error) {
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.Timeout)
	defer cancel()
	res, err := readScript.Run(ctx, r.client, r.historyKeys(channel), newEpoch(), o.TTL.Milliseconds()).Slice()
	var pos Position
	if err == nil {
		pos, err = position(res)
	}
	if err != nil {
		return pos, nil, fmt.Errorf("broker: redis: read history: %w: %w", ErrUnavailable, err)
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

// deliverHistory hands a publication with history to the node, its own
// included: every node delivers them in Redis's order.
func (r *redisBroker) deliverHistory(m *redis.Message) {
	name, ok := strings.CutPrefix(m.Channel, r.keyPrefix)
	p := m.Payload[len(historyMagic):]
	if !ok || len(p) < 1 || len(p) < 1+int(p[0]) {
		r.dropped.Add(1)
		return
	}
	off, content, ok := strings.Cut(p[1+int(p[0]):], " ")
	o, err := strconv.ParseUint(off, 10, 64)
	if !ok || err != nil {
		r.dropped.Add(1)
		return
	}
	r.received.Add(1)
	if r.h.Publication != nil {
		r.h.Publication([]byte(name), o, []byte(content))
	}
}
