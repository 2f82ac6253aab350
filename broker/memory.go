package broker

import (
	"slices"
	"strings"
	"sync"
)

// bus connects the memory brokers of one process that share its name. An
// unnamed bus is private to one node: nobody can hear its publications.
type bus struct {
	private  bool // no other node can join: Publish has no one to call
	mu       sync.RWMutex
	subs     map[string][]*memoryBroker // nodes wanting each channel; guarded by mu
	presence *presenceTable             // who is in each channel, on every node of the bus (presence.go)
}

// buses are the named buses of the process ("memory://NAME").
var buses = struct {
	sync.Mutex
	m map[string]*bus // guarded by the embedded Mutex
}{m: map[string]*bus{}}

func busNamed(url string) *bus {
	name, ok := strings.CutPrefix(url, "memory://")
	if !ok || name == "" {
		return &bus{private: true, subs: map[string][]*memoryBroker{}, presence: newPresenceTable()}
	}
	buses.Lock()
	defer buses.Unlock()
	if buses.m[name] == nil {
		buses.m[name] = &bus{subs: map[string][]*memoryBroker{}, presence: newPresenceTable()}
	}
	return buses.m[name]
}

// memoryBroker is the default driver: publications go to the other nodes
// on its bus by plain function calls. It is always up.
type memoryBroker struct {
	bus  *bus
	h    Handlers
	node nodeID
	counters
	health *health
	count  int // channels this node subscribed; guarded by bus.mu
}

func openMemory(cfg Config, h Handlers, node nodeID) *memoryBroker {
	m := &memoryBroker{bus: busNamed(cfg.URL), h: h, node: node, health: newHealth(nil)}
	m.health.set(true, "")
	return m
}

// Publish calls the Message handler of every other node that wants
// channel, under the bus's read lock: handlers must not Subscribe.
func (m *memoryBroker) Publish(channel, frame []byte) error {
	m.published.Add(1)
	if m.bus.private { // the single-node default: no process-wide lock per publication
		return nil
	}
	m.bus.mu.RLock()
	defer m.bus.mu.RUnlock()
	for _, n := range m.bus.subs[string(channel)] {
		if n != m && n.h.Message != nil {
			n.received.Add(1)
			n.h.Message(channel, frame)
		}
	}
	return nil
}

func (m *memoryBroker) Subscribe(channel []byte) {
	m.bus.mu.Lock()
	defer m.bus.mu.Unlock()
	if subs := m.bus.subs[string(channel)]; !slices.Contains(subs, m) {
		m.bus.subs[string(channel)] = append(subs, m)
		m.count++
	}
}

func (m *memoryBroker) Unsubscribe(channel []byte) {
	m.bus.mu.Lock()
	defer m.bus.mu.Unlock()
	m.unsubscribeLocked(string(channel))
}

func (m *memoryBroker) unsubscribeLocked(channel string) {
	subs := m.bus.subs[channel]
	if !slices.Contains(subs, m) {
		return
	}
	m.count--
	subs = slices.DeleteFunc(subs, func(n *memoryBroker) bool { return n == m })
	if len(subs) == 0 {
		delete(m.bus.subs, channel)
		return
	}
	m.bus.subs[channel] = subs
}

func (m *memoryBroker) Health() Health { return m.health.get() }

// Blocking is false: a publication is function calls to the other nodes.
func (m *memoryBroker) Blocking() bool { return false }

func (m *memoryBroker) Stats() Stats {
	st := Stats{Driver: "memory", Node: m.node.String(), Subscriptions: m.subscriptions()}
	m.counters.fill(&st)
	m.health.fill(&st)
	return st
}

func (m *memoryBroker) subscriptions() int {
	m.bus.mu.RLock()
	defer m.bus.mu.RUnlock()
	return m.count
}

// Close drops every subscription of this node.
func (m *memoryBroker) Close() error {
	m.bus.mu.Lock()
	defer m.bus.mu.Unlock()
	for ch := range m.bus.subs {
		m.unsubscribeLocked(ch)
	}
	return nil
}
