package broker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Presence on Redis, for the redis and redis-cluster drivers. A channel's
// presence is four kinds of keys sharing its hash tag, so one slot:
//
//	<tag>:p          hash: client id -> member JSON (what presence lists)
//	<tag>:pu         hash: user -> how many of its connections are present
//	<tag>:pn:<node>  hash: client id -> user, the members a node added
//	<tag>:px         zset: node id -> when its members expire (unix ms)
//
// presence_stats is HLEN of p and of pu: no member is read to count. A
// node stamps its px entry at every write and refreshes it, one command
// per channel it has members in, every TTL/3. A node that stops (SIGKILL,
// a partition) lets its entry expire; every read first removes the
// members of expired nodes (from their pn hash, at most cleanBudget per
// script call, the reader calling again until none is left), so a dead
// node's members stop counting at most TTL after its last refresh. A node
// whose entry had expired, or was removed, writes all its members again.
// Every key expires 2 TTL after the last write or refresh, so a channel
// whose nodes all died leaves nothing behind even if nobody reads it.
//
// Writes never wait on a worker: Change records the wanted state of each
// (channel, client) and a goroutine writes it in pipelines, retrying what
// failed, and then publishes the join and leave events of the batch, so an
// event is never seen before the change it tells of.

// cleanBudget bounds the dead members one read script removes, so that a
// node's death never holds Redis for long; readPresence then answers -1 and
// the reader calls again, at most cleanSteps times.
const (
	cleanBudget = 1000
	cleanSteps  = 200
	// pipelineSize bounds the commands of one pipeline.
	pipelineSize = 512
	// maxPendingEvents bounds the join and leave events waiting to be
	// published; past it they are dropped and counted (Stats.Dropped).
	maxPendingEvents = 10000
)

// presenceStamp ends every script that writes for a node: it stamps the
// node's px entry TTL ahead, keeps every key 2 TTL, and sets live to 1 when
// the entry was there and unexpired, so the node's members were all kept.
// KEYS p, pu, px, pn; ARGV node, ttl ms.
const presenceStamp = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local was = redis.call('ZSCORE', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[3], now + ttl, ARGV[1])
for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], 2 * ttl) end
local live = 0
if was and tonumber(was) >= now then live = 1 end
`

// addPresence: KEYS p, pu, px, pn, po; ARGV node, ttl, client, user,
// member. The node becomes the member's owner (po): a connection handed
// to another process (handoff) is owned by the last node that added it,
// whatever order the two nodes' writes land in. Returns live.
var addPresence = redis.NewScript(`
if redis.call('HSETNX', KEYS[1], ARGV[3], ARGV[5]) == 1 and ARGV[4] ~= '' then
  redis.call('HINCRBY', KEYS[2], ARGV[4], 1)
end
redis.call('HSET', KEYS[4], ARGV[3], ARGV[4])
redis.call('HSET', KEYS[5], ARGV[3], ARGV[1])
` + presenceStamp + `
return live
`)

// removePresence: KEYS p, pu, pn, po; ARGV client, user, node. Only the
// member's owner removes it; another node only forgets it had it.
var removePresence = redis.NewScript(`
redis.call('HDEL', KEYS[3], ARGV[1])
if redis.call('HGET', KEYS[4], ARGV[1]) ~= ARGV[3] then return 0 end
redis.call('HDEL', KEYS[4], ARGV[1])
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 and ARGV[2] ~= '' then
  if redis.call('HINCRBY', KEYS[2], ARGV[2], -1) <= 0 then redis.call('HDEL', KEYS[2], ARGV[2]) end
end
return 1
`)

// refreshPresence: KEYS p, pu, px, pn; ARGV node, ttl. Returns live.
var refreshPresence = redis.NewScript(presenceStamp + `
return live
`)

// readPresence removes members of expired nodes (those they still own),
// then answers. KEYS p, pu, px, po; ARGV mode ("count" or "list"), pn prefix, budget, max. Returns {-1}
// when expired members are left to remove, {clients, users} for count,
// {n} for a list over max and {n, members} otherwise. The pn hashes of
// dead nodes are not known in advance; they share the tag, so the slot.
var readPresence = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local budget = tonumber(ARGV[3])
if budget > 0 then
  local dead = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. now, 'LIMIT', 0, 8)
  for _, node in ipairs(dead) do
    local pn = ARGV[2] .. node
    local kv = redis.call('HRANDFIELD', pn, budget, 'WITHVALUES')
    for i = 1, #kv, 2 do
      if redis.call('HGET', KEYS[4], kv[i]) == node then
        redis.call('HDEL', KEYS[4], kv[i])
        if redis.call('HDEL', KEYS[1], kv[i]) == 1 and kv[i + 1] ~= '' then
          if redis.call('HINCRBY', KEYS[2], kv[i + 1], -1) <= 0 then redis.call('HDEL', KEYS[2], kv[i + 1]) end
        end
      end
      redis.call('HDEL', pn, kv[i])
    end
    budget = budget - #kv / 2
    if redis.call('EXISTS', pn) == 0 then redis.call('ZREM', KEYS[3], node) end
    if budget <= 0 then return {-1} end
  end
  if #dead == 8 then return {-1} end
end
local n = redis.call('HLEN', KEYS[1])
if ARGV[1] == 'count' then return {n, redis.call('HLEN', KEYS[2])} end
if n > tonumber(ARGV[4]) then return {n} end
return {n, redis.call('HVALS', KEYS[1])}
`)

var presenceScripts = []*redis.Script{addPresence, removePresence, refreshPresence, readPresence}

// presenceRedis keeps a node's presence in Redis (single or cluster).
type presenceRedis struct {
	node   string // this node's id, hex
	ttl    time.Duration
	cfg    Config
	health *health
	counts *counters
	env    func(frame []byte) []byte // a frame in this node's envelope
	// tag is the hash tag of channel's keys, braces included; client is
	// the Redis that holds a tag's slot; publish queues an event on p;
	// failed hears each error of a Redis (the cluster reloads its map on
	// MOVED).
	tag     func(channel string) string
	client  func(tag string) (*redis.Client, error)
	publish func(ctx context.Context, p redis.Pipeliner, channel string, payload []byte)
	failed  func(error)

	mu      sync.Mutex
	local   map[string]map[string]Member // this node's members by channel and client; guarded by mu
	pending map[presenceKey]presenceOp   // states not yet written; guarded by mu
	events  []presenceEvent              // events not yet published, in order; guarded by mu
	seq     uint64                       // changes taken; guarded by mu
	tried   uint64                       // changes a write has been attempted for; guarded by mu
	failing bool                         // the last write failed; guarded by mu
	written chan struct{}                // closed after each write attempt; guarded by mu

	wake    chan struct{}
	ctx     context.Context // ends at close
	cancel  context.CancelFunc
	started sync.Once // the writer starts with the first change: a node without presence runs none
	done    chan struct{}
}

type presenceKey struct{ channel, client string }

type presenceOp struct {
	m      Member
	joined bool
}

type presenceEvent struct {
	channel string
	payload []byte // enveloped
}

func newPresenceRedis(p *presenceRedis) *presenceRedis {
	p.ttl = p.cfg.PresenceTTL
	p.local = map[string]map[string]Member{}
	p.pending = map[presenceKey]presenceOp{}
	p.written = make(chan struct{})
	p.wake = make(chan struct{}, 1)
	p.done = make(chan struct{})
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p
}

// close writes what is pending, within the timeout, and stops.
func (p *presenceRedis) close() {
	p.cancel()
	p.started.Do(func() { close(p.done) }) // never started: nothing to wait for
	<-p.done
}

// read runs readPresence until no expired member is left to remove.
func (p *presenceRedis) read(ctx context.Context, channel []byte, mode string, max int) ([]any, error) {
	if !p.health.up.Load() {
		return nil, fmt.Errorf("broker: presence: %w: down", ErrUnavailable)
	}
	p.waitWritten(ctx)
	tag := p.tag(string(channel))
	c, err := p.client(tag)
	if err != nil {
		return nil, fmt.Errorf("broker: presence: %w: %w", ErrUnavailable, err)
	}
	keys := []string{tag + ":p", tag + ":pu", tag + ":px", tag + ":po"}
	budget := cleanBudget
	for step := 0; ; step++ {
		if step == cleanSteps {
			budget = 0 // answer with what is left
		}
		res, err := readPresence.Run(ctx, c, keys, mode, tag+":pn:", budget, max).Slice()
		if err != nil {
			p.failed(err)
			return nil, fmt.Errorf("broker: presence: %w: %w", ErrUnavailable, err)
		}
		if n, ok := res[0].(int64); !ok || n >= 0 {
			return res, nil
		}
	}
}

// Members reads channel's members (Presencer).
func (p *presenceRedis) Members(ctx context.Context, channel []byte, max int) ([][]byte, int, error) {
	res, err := p.read(ctx, channel, "list", max)
	if err != nil {
		return nil, 0, err
	}
	n, _ := res[0].(int64)
	if len(res) < 2 {
		return nil, int(n), nil
	}
	raw, _ := res[1].([]any)
	out := make([][]byte, 0, len(raw))
	for _, v := range raw {
		s, _ := v.(string)
		out = append(out, []byte(s))
	}
	return out, int(n), nil
}

// Count reads channel's counts (Presencer).
func (p *presenceRedis) Count(ctx context.Context, channel []byte) (PresenceCount, error) {
	res, err := p.read(ctx, channel, "count", 0)
	if err != nil {
		return PresenceCount{}, err
	}
	if len(res) < 2 {
		return PresenceCount{}, fmt.Errorf("broker: presence: %w: unexpected reply %v", ErrUnavailable, res)
	}
	clients, _ := res[0].(int64)
	users, _ := res[1].(int64)
	return PresenceCount{Clients: int(clients), Users: int(users)}, nil
}

// newPresence is the single Redis's presence: every key on its server.
func (r *redisBroker) newPresence() *presenceRedis {
	return newPresenceRedis(&presenceRedis{node: r.node.String(), cfg: r.cfg, health: r.health, counts: &r.counters,
		env:    func(frame []byte) []byte { return appendEnvelope(nil, r.node, nil, frame) },
		tag:    func(channel string) string { return r.keyBase([]byte(channel)) },
		client: func(string) (*redis.Client, error) { return r.client, nil },
		publish: func(ctx context.Context, p redis.Pipeliner, channel string, payload []byte) {
			p.Publish(ctx, r.key([]byte(channel)), payload)
		},
		failed: func(error) {},
	})
}

// newPresence is the cluster's presence: a channel's keys are in its
// channel's slot ("<prefix>:{<channel>}:p", ..., keyBase), on the master
// the driver's slot map names.
func (c *clusterBroker) newPresence() *presenceRedis {
	return newPresenceRedis(&presenceRedis{node: c.node.String(), cfg: c.cfg, health: c.health, counts: &c.counters,
		env:    func(frame []byte) []byte { return appendEnvelope(nil, c.node, nil, frame) },
		tag:    c.keyBase,
		client: c.slotClient,
		publish: func(ctx context.Context, p redis.Pipeliner, channel string, payload []byte) {
			p.SPublish(ctx, c.key(channel), payload)
		},
		failed: func(err error) {
			if _, ok := movedTo(err); ok {
				c.markStale()
			}
		},
	})
}

// slotClient is the client of the master that holds key's slot.
func (c *clusterBroker) slotClient(key string) (*redis.Client, error) {
	slot := keySlot(key)
	m := c.slots.Load()
	if m == nil || m.owner[slot] == nil {
		return nil, fmt.Errorf("slot %d has no master", slot)
	}
	return m.owner[slot].client, nil
}

func (r *redisBroker) Change(ch PresenceChange) { r.pres.Change(ch) }
func (r *redisBroker) Members(ctx context.Context, channel []byte, max int) ([][]byte, int, error) {
	return r.pres.Members(ctx, channel, max)
}
func (r *redisBroker) Count(ctx context.Context, channel []byte) (PresenceCount, error) {
	return r.pres.Count(ctx, channel)
}

func (c *clusterBroker) Change(ch PresenceChange) { c.pres.Change(ch) }
func (c *clusterBroker) Members(ctx context.Context, channel []byte, max int) ([][]byte, int, error) {
	return c.pres.Members(ctx, channel, max)
}
func (c *clusterBroker) Count(ctx context.Context, channel []byte) (PresenceCount, error) {
	return c.pres.Count(ctx, channel)
}
