package broker

import (
	"context"
	"sync"
	"time"
)

// Presencer is a broker that knows who is in a channel on every node
// sharing it (the memory bus, redis and redis-cluster drivers), and
// carries join and leave events to them.
type Presencer interface {
	// Change records that a connection of this node joined or left a
	// channel, and hands its event to the other nodes. It never waits on
	// the network: a networked driver writes changes in the background,
	// in order, the event after the change it tells of.
	Change(PresenceChange)
	// Members returns the JSON of every member of channel, in no order,
	// and their count; when more than max are present it returns only
	// the count. A change this node made before the call is in the answer.
	Members(ctx context.Context, channel []byte, max int) (members [][]byte, total int, err error)
	// Count returns how many clients, and how many distinct users, are
	// present in channel, without reading its members.
	Count(ctx context.Context, channel []byte) (PresenceCount, error)
}

// Member is one connection as presence lists it.
type Member struct {
	Client string // the connection's id, unique among the nodes
	User   string // "": anonymous, counted as a client and not as a user
	JSON   []byte // what presence lists, encoded once by the caller
}

// PresenceChange is a connection joining or leaving a channel.
type PresenceChange struct {
	Channel []byte
	Member  Member
	Joined  bool   // false: it left
	Keep    bool   // the channel keeps presence: record the change
	Event   []byte // the frame that tells the other nodes' subscribers; nil: none
}

// PresenceCount is what presence_stats answers.
type PresenceCount struct {
	Clients int // connections present
	Users   int // distinct non-empty users among them
}

// DefaultPresenceTTL is Config.PresenceTTL's default.
const DefaultPresenceTTL = 30 * time.Second

// presenceTable is presence kept in the process: the memory bus's, shared
// by the nodes of a named bus.
type presenceTable struct {
	mu       sync.Mutex
	channels map[string]*presenceSet // guarded by mu
}

// presenceSet is one channel's members and a count per user, so that
// distinct users is a map length, never a walk over the members.
type presenceSet struct {
	members map[string]Member // by client id
	users   map[string]int    // members per non-empty user
}

func newPresenceTable() *presenceTable {
	return &presenceTable{channels: map[string]*presenceSet{}}
}

// change applies a change that keeps presence.
func (t *presenceTable) change(ch PresenceChange) {
	t.mu.Lock()
	defer t.mu.Unlock()
	set := t.channels[string(ch.Channel)]
	if ch.Joined {
		if set == nil {
			set = &presenceSet{members: map[string]Member{}, users: map[string]int{}}
			t.channels[string(ch.Channel)] = set
		}
		set.add(ch.Member)
		return
	}
	if set != nil && set.remove(ch.Member.Client) && len(set.members) == 0 {
		delete(t.channels, string(ch.Channel))
	}
}

func (s *presenceSet) add(m Member) {
	if _, ok := s.members[m.Client]; ok {
		return
	}
	s.members[m.Client] = m
	if m.User != "" {
		s.users[m.User]++
	}
}

// remove forgets client and reports whether it was present.
func (s *presenceSet) remove(client string) bool {
	m, ok := s.members[client]
	if !ok {
		return false
	}
	delete(s.members, client)
	if m.User != "" {
		if s.users[m.User]--; s.users[m.User] <= 0 {
			delete(s.users, m.User)
		}
	}
	return true
}

func (t *presenceTable) members(channel []byte, max int) ([][]byte, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	set := t.channels[string(channel)]
	if set == nil {
		return nil, 0
	}
	if len(set.members) > max {
		return nil, len(set.members)
	}
	out := make([][]byte, 0, len(set.members))
	for _, m := range set.members {
		out = append(out, m.JSON)
	}
	return out, len(out)
}

func (t *presenceTable) count(channel []byte) PresenceCount {
	t.mu.Lock()
	defer t.mu.Unlock()
	set := t.channels[string(channel)]
	if set == nil {
		return PresenceCount{}
	}
	return PresenceCount{Clients: len(set.members), Users: len(set.users)}
}

// Change records ch in the bus's table and hands its event to the other
// nodes of the bus (Presencer).
func (m *memoryBroker) Change(ch PresenceChange) {
	if ch.Keep {
		m.bus.presence.change(ch)
	}
	if ch.Event != nil {
		m.Publish(ch.Channel, ch.Event)
	}
}

// Members reads the bus's table (Presencer).
func (m *memoryBroker) Members(_ context.Context, channel []byte, max int) ([][]byte, int, error) {
	members, n := m.bus.presence.members(channel, max)
	return members, n, nil
}

// Count reads the bus's table (Presencer).
func (m *memoryBroker) Count(_ context.Context, channel []byte) (PresenceCount, error) {
	return m.bus.presence.count(channel), nil
}
