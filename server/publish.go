package server

import (
	"fmt"
	"strconv"

	"github.com/wsify/wsify/hub"
	"github.com/wsify/wsify/protocol"
)

// A publication, from a client's broadcast, a POST /broadcast or another
// node through the broker, is encoded into one frame once (Publish, or the
// publishing node for the broker's), queued under the channel's lock on
// every local subscriber's outbox (hub, then Enqueue here, then enqueue in
// write.go) and written by the workers in chunks (Flush).

// Publish sends content (raw JSON) to every subscriber of channel on every
// node sharing the broker, encoded once, and returns how many local
// subscribers it reached. When the broker is down or does not take the
// publication it fails with an error wrapping broker.ErrUnavailable, and no
// local subscriber gets it either.
func (s *Server) Publish(channel, content []byte) (int, error) {
	n, _, err := s.PublishAt(channel, content)
	return n, err
}

// PublishAt is Publish that also returns the publication's position when
// channel keeps history (nil otherwise).
func (s *Server) PublishAt(channel, content []byte) (int, *protocol.Position, error) {
	return s.publishTo(channel, content, nil)
}

// publishTo publishes to the subscribers f lets through (all of them when
// f is nil) and returns how many of this node's it reached. On a channel
// whose history Redis keeps, the delivery comes back through Redis, so
// the count is this node's subscribers of the channel when Redis took
// the publication. A filtered publication on a channel with history is
// refused (protocol.ErrFilteredHistory): the history could not replay it
// to the right subscribers only.
func (s *Server) publishTo(channel, content []byte, f *hub.Filter) (int, *protocol.Position, error) {
	if s.keepsHistory(channel) {
		switch {
		case f != nil:
			return 0, nil, protocol.ErrFilteredHistory
		case s.hist != nil:
			pos, err := s.publishRemote(channel, content)
			if err != nil {
				return 0, nil, err
			}
			return s.hub.Subscribers(channel), pos, nil
		}
		n, pos := s.publishHistory(channel, content)
		return n, pos, nil
	}
	n, err := s.publish(channel, protocol.BroadcastFrame(channel, content), f)
	return n, nil, err
}

// publish hands an encoded publication, with its filter (nil: none), to
// the broker and, once it took it, to the local subscribers.
func (s *Server) publish(channel, frame []byte, f *hub.Filter) (int, error) {
	var err error
	if f == nil {
		err = s.link.b.Publish(channel, frame)
	} else {
		err = s.link.b.PublishFiltered(channel, f.Encoded(), frame)
	}
	if err != nil {
		return 0, fmt.Errorf("server: publish: %w", err)
	}
	n := s.publishFrame(channel, frame, f)
	s.stats.published.Add(1)
	s.stats.deliveries.Add(uint64(n))
	return n, nil
}

// publishFrame queues an encoded publication on the local subscribers f
// lets through, with its compressed form built on demand when
// compression is on.
func (s *Server) publishFrame(channel, frame []byte, f *hub.Filter) int {
	if g := s.ho.giving.Load(); g != nil { // a new process takes the subscribers over (handoff_give.go)
		return g.publish(channel, f, func() (int, []byte, uint64) { return s.publishLocal(channel, frame, f), frame, 0 })
	}
	return s.publishLocal(channel, frame, f)
}

// publishLocal queues an encoded publication on the local subscribers f
// lets through.
func (s *Server) publishLocal(channel, frame []byte, f *hub.Filter) int {
	if !s.cfg.Compression {
		return s.hub.PublishFiltered(channel, frame, f)
	}
	m := deflateMessage(frame)
	m.Filter = f
	return s.hub.PublishMessage(channel, m)
}

// Enqueue queues a publication for c (hub.Subscriber): the compressed form
// when c negotiated permessage-deflate, the plain frame otherwise. A
// publication whose filter leaves c out is skipped; an unfiltered one
// pays one nil check for the feature.
func (c *conn) Enqueue(m *hub.Message) bool {
	if m.Filter != nil && !c.admits(m.Filter) {
		m.Skip()
		return false
	}
	if c.deflate {
		return c.enqueue(m.Variant())
	}
	return c.enqueue(m.Frame)
}

// admits reports whether f lets c through: its user listed when f has a
// user list (an anonymous connection's "" never is: "to" refuses empty
// names), and its id not the one f excludes. It runs under the channel's lock, after the
// identity was set (before the connection could join anything).
func (c *conn) admits(f *hub.Filter) bool {
	user := ""
	if c.ident != nil {
		user = c.ident.User
	}
	return f.AdmitsUser(user) && !c.isID(f.Except())
}

// isID reports, without allocating, whether id is c's client id (id()):
// "<node id>-<connection number>".
func (c *conn) isID(id []byte) bool {
	if c.name != "" { // taken over from another process, with its id
		return string(id) == c.name
	}
	node := c.srv.nodeID
	if len(id) <= len(node)+1 || string(id[:len(node)]) != node || id[len(node)] != '-' {
		return false
	}
	var digits [20]byte
	return string(strconv.AppendUint(digits[:0], c.seq, 10)) == string(id[len(node)+1:])
}

// filterOf is the filter of a client broadcast's targets, nil when they
// narrow nothing: "to", and "echo":false as the sender's own id.
func (c *conn) filterOf(t *protocol.Targets) *hub.Filter {
	if !t.Narrowed() {
		return nil
	}
	var except []byte
	if t.NoEcho {
		except = []byte(c.id())
	}
	return hub.NewFilter(t.Only, t.To, except)
}
