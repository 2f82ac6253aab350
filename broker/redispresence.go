package broker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wsify/wsify/internal/backoff"
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

// addPresence: KEYS p, pu, px, pn; ARGV node, ttl, client, user, member.
// Returns live.
var addPresence = redis.NewScript(`
if redis.call('HSETNX', KEYS[1], ARGV[3], ARGV[5]) == 1 and ARGV[4] ~= '' then
  redis.call('HINCRBY', KEYS[2], ARGV[4], 1)
end
redis.call('HSET', KEYS[4], ARGV[3], ARGV[4])
` + presenceStamp + `
return live
`)

// removePresence: KEYS p, pu, pn; ARGV client, user.
var removePresence = redis.NewScript(`
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 and ARGV[2] ~= '' then
  if redis.call('HINCRBY', KEYS[2], ARGV[2], -1) <= 0 then redis.call('HDEL', KEYS[2], ARGV[2]) end
end
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
`)

// refreshPresence: KEYS p, pu, px, pn; ARGV node, ttl. Returns live.
var refreshPresence = redis.NewScript(presenceStamp + `
return live
`)

// readPresence removes members of expired nodes, then answers. KEYS p, pu,
// px; ARGV mode ("count" or "list"), pn prefix, budget, max. Returns {-1}
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
      if redis.call('HDEL', KEYS[1], kv[i]) == 1 and kv[i + 1] ~= '' then
        if redis.call('HINCRBY', KEYS[2], kv[i + 1], -1) <= 0 then redis.call('HDEL', KEYS[2], kv[i + 1]) end
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

// Change records ch for the writer (Presencer).
func (p *presenceRedis) Change(ch PresenceChange) {
	channel := string(ch.Channel)
	p.mu.Lock()
	if ch.Keep {
		p.pending[presenceKey{channel, ch.Member.Client}] = presenceOp{ch.Member, ch.Joined}
		p.trackLocked(channel, ch.Member, ch.Joined)
	}
	if ch.Event != nil {
		if len(p.events) < maxPendingEvents {
			p.events = append(p.events, presenceEvent{channel, p.env(ch.Event)})
		} else {
			p.counts.dropped.Add(1)
		}
	}
	p.seq++
	p.mu.Unlock()
	p.started.Do(func() { go p.run() })
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *presenceRedis) trackLocked(channel string, m Member, joined bool) {
	set := p.local[channel]
	if joined {
		if set == nil {
			set = map[string]Member{}
			p.local[channel] = set
		}
		set[m.Client] = m
		return
	}
	delete(set, m.Client)
	if len(set) == 0 {
		delete(p.local, channel)
	}
}

// rewriteLocked queues every member this node has in channel again: its
// entry had expired, so readers may have removed some of them.
func (p *presenceRedis) rewriteLocked(channel string) {
	for client, m := range p.local[channel] {
		k := presenceKey{channel, client}
		if _, ok := p.pending[k]; !ok {
			p.pending[k] = presenceOp{m, true}
		}
	}
}

func (p *presenceRedis) run() {
	defer close(p.done)
	tick := time.NewTicker(p.ttl / 3)
	defer tick.Stop()
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	attempt := 0
	var next time.Time
	for {
		select {
		case <-p.ctx.Done():
			p.write(context.Background())
			return
		case <-p.wake:
		case <-tick.C:
			p.refresh()
		case <-retry.C:
		}
		if attempt > 0 && time.Now().Before(next) {
			continue // backing off: the retry timer comes back
		}
		if p.write(p.ctx) {
			attempt = 0
			continue
		}
		attempt++
		d := backoff.Delay(p.cfg.MinBackoff, p.cfg.MaxBackoff, attempt)
		next = time.Now().Add(d)
		retry.Reset(d)
	}
}

// write writes what is pending and reports whether all of it went. What
// failed stays pending unless a later change replaced it; the events of
// a failed batch are dropped, as publications are while the broker is
// down.
func (p *presenceRedis) write(parent context.Context) bool {
	p.mu.Lock()
	ops, events, seq := p.pending, p.events, p.seq
	p.pending, p.events = map[presenceKey]presenceOp{}, nil
	p.mu.Unlock()
	var failed map[presenceKey]presenceOp
	var stale []string
	if len(ops) > 0 || len(events) > 0 {
		ctx, cancel := context.WithTimeout(parent, p.cfg.Timeout)
		failed, stale = p.writeOps(ctx, ops)
		p.publishEvents(ctx, events)
		cancel()
	}
	p.mu.Lock()
	for k, op := range failed {
		if _, newer := p.pending[k]; !newer {
			p.pending[k] = op
		}
	}
	for _, ch := range stale {
		p.rewriteLocked(ch)
	}
	p.tried, p.failing = seq, len(failed) > 0
	close(p.written)
	p.written = make(chan struct{})
	again := len(stale) > 0
	p.mu.Unlock()
	if again {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	return len(failed) == 0
}

// keys are a channel's keys for the scripts that stamp: p, pu, px, pn.
func (p *presenceRedis) keys(channel string) []string {
	tag := p.tag(channel)
	return []string{tag + ":p", tag + ":pu", tag + ":px", tag + ":pn:" + p.node}
}

// byClient groups items by the Redis that holds their channel's slot.
func byClient[T any](p *presenceRedis, items []T, channel func(T) string) (map[*redis.Client][]T, []T) {
	out := map[*redis.Client][]T{}
	var lost []T
	for _, it := range items {
		c, err := p.client(p.tag(channel(it)))
		if err != nil {
			lost = append(lost, it)
			continue
		}
		out[c] = append(out[c], it)
	}
	return out, lost
}

// writeOps runs the add and remove scripts; it returns the ops that
// failed and the channels whose node entry had expired.
func (p *presenceRedis) writeOps(ctx context.Context, ops map[presenceKey]presenceOp) (failed map[presenceKey]presenceOp, stale []string) {
	keys := make([]presenceKey, 0, len(ops))
	for k := range ops {
		keys = append(keys, k)
	}
	groups, lost := byClient(p, keys, func(k presenceKey) string { return k.channel })
	failed = map[presenceKey]presenceOp{}
	for _, k := range lost {
		failed[k] = ops[k]
	}
	ttl := p.ttl.Milliseconds()
	for c, ks := range groups {
		for len(ks) > 0 {
			chunk := ks[:min(len(ks), pipelineSize)]
			ks = ks[len(chunk):]
			cmds, err := runScripts(ctx, c, func(pipe redis.Pipeliner) {
				for _, k := range chunk {
					op, keys := ops[k], p.keys(k.channel)
					if op.joined {
						addPresence.EvalSha(ctx, pipe, keys, p.node, ttl, k.client, op.m.User, op.m.JSON)
					} else {
						removePresence.EvalSha(ctx, pipe, []string{keys[0], keys[1], keys[3]}, k.client, op.m.User)
					}
				}
			})
			if err != nil {
				p.failed(err)
				for _, k := range chunk {
					failed[k] = ops[k]
				}
				continue
			}
			for i, k := range chunk {
				if live, _ := cmds[i].(*redis.Cmd).Int64(); ops[k].joined && live == 0 {
					stale = append(stale, k.channel)
				}
			}
		}
	}
	return failed, stale
}

// publishEvents publishes the join and leave events in their order.
func (p *presenceRedis) publishEvents(ctx context.Context, events []presenceEvent) {
	if len(events) == 0 {
		return
	}
	groups, lost := byClient(p, events, func(e presenceEvent) string { return e.channel })
	p.counts.dropped.Add(uint64(len(lost)))
	for c, evs := range groups {
		for len(evs) > 0 {
			chunk := evs[:min(len(evs), pipelineSize)]
			evs = evs[len(chunk):]
			_, err := c.Pipelined(ctx, func(pipe redis.Pipeliner) error {
				for _, e := range chunk {
					p.publish(ctx, pipe, e.channel, e.payload)
				}
				return nil
			})
			if err != nil {
				p.failed(err)
				p.counts.dropped.Add(uint64(len(chunk)))
			}
		}
	}
}

// refresh stamps this node's entry of every channel it has members in,
// one script call per channel, and queues the members of a channel whose
// entry had expired to be written again.
func (p *presenceRedis) refresh() {
	p.mu.Lock()
	channels := make([]string, 0, len(p.local))
	for ch := range p.local {
		channels = append(channels, ch)
	}
	p.mu.Unlock()
	groups, _ := byClient(p, channels, func(ch string) string { return ch })
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.Timeout)
	defer cancel()
	var stale []string
	for c, chs := range groups {
		for len(chs) > 0 {
			chunk := chs[:min(len(chs), pipelineSize)]
			chs = chs[len(chunk):]
			cmds, err := runScripts(ctx, c, func(pipe redis.Pipeliner) {
				for _, ch := range chunk {
					refreshPresence.EvalSha(ctx, pipe, p.keys(ch), p.node, p.ttl.Milliseconds())
				}
			})
			if err != nil {
				p.failed(err)
				continue // the next tick tries again, well within the TTL
			}
			for i, ch := range chunk {
				if live, _ := cmds[i].(*redis.Cmd).Int64(); live == 0 {
					stale = append(stale, ch)
				}
			}
		}
	}
	p.mu.Lock()
	for _, ch := range stale {
		p.rewriteLocked(ch)
	}
	p.mu.Unlock()
}

// runScripts runs a pipeline of EVALSHA calls, loading the scripts and
// running it once more when Redis did not know them (a fresh or
// restarted server): every script is idempotent, so running one twice
// is harmless.
func runScripts(ctx context.Context, c *redis.Client, fill func(redis.Pipeliner)) ([]redis.Cmder, error) {
	cmds, err := c.Pipelined(ctx, func(pipe redis.Pipeliner) error { fill(pipe); return nil })
	if err == nil || !redis.HasErrorPrefix(err, "NOSCRIPT") {
		return cmds, err
	}
	for _, s := range presenceScripts {
		if err := s.Load(ctx, c).Err(); err != nil {
			return nil, err
		}
	}
	return c.Pipelined(ctx, func(pipe redis.Pipeliner) error { fill(pipe); return nil })
}

// waitWritten returns once every change taken before the call has been
// written, or tried: a node reads its own changes. It does not wait while
// writes are failing, nor past ctx.
func (p *presenceRedis) waitWritten(ctx context.Context) {
	p.mu.Lock()
	want := p.seq
	for p.tried < want && !p.failing {
		w := p.written
		p.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return
		}
		p.mu.Lock()
	}
	p.mu.Unlock()
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
	keys := []string{tag + ":p", tag + ":pu", tag + ":px"}
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
		env:    func(frame []byte) []byte { return appendEnvelope(nil, r.node, frame) },
		tag:    func(channel string) string { return "{" + r.keyPrefix + channel + "}" },
		client: func(string) (*redis.Client, error) { return r.client, nil },
		publish: func(ctx context.Context, p redis.Pipeliner, channel string, payload []byte) {
			p.Publish(ctx, r.key([]byte(channel)), payload)
		},
		failed: func(error) {},
	})
}

// newPresence is the cluster's presence: a channel's keys are in its
// channel's slot ("<prefix>:{<channel>}:p", ...), on the master the
// driver's slot map names.
func (c *clusterBroker) newPresence() *presenceRedis {
	return newPresenceRedis(&presenceRedis{node: c.node.String(), cfg: c.cfg, health: c.health, counts: &c.counters,
		env:    func(frame []byte) []byte { return appendEnvelope(nil, c.node, frame) },
		tag:    c.key,
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
