package broker

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wsify/wsify/internal/backoff"
)

// The presence writer of a node on Redis (redispresence.go): changes are
// taken without waiting, as the wanted state of each (channel, client),
// and one goroutine writes them in pipelines grouped by the Redis holding
// their slot, then publishes the batch's events, stamps the node's entry
// of every channel it has members in, and writes a channel's members
// again when its entry had expired.

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

// keys are a channel's keys for the scripts that stamp: p, pu, px, pn, po.
func (p *presenceRedis) keys(channel string) []string {
	tag := p.tag(channel)
	return []string{tag + ":p", tag + ":pu", tag + ":px", tag + ":pn:" + p.node, tag + ":po"}
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
						removePresence.EvalSha(ctx, pipe, []string{keys[0], keys[1], keys[3], keys[4]}, k.client, op.m.User, p.node)
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
