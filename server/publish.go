package server

import (
	"fmt"

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
	if s.keepsHistory(channel) {
		if s.hist != nil {
			pos, err := s.publishRemote(channel, content)
			return 0, pos, err
		}
		n, pos := s.publishHistory(channel, content)
		return n, pos, nil
	}
	n, err := s.publish(channel, protocol.BroadcastFrame(channel, content))
	return n, nil, err
}

// publish hands an encoded publication to the broker and, once it took
// it, to the local subscribers.
func (s *Server) publish(channel, frame []byte) (int, error) {
	if err := s.link.b.Publish(channel, frame); err != nil {
		return 0, fmt.Errorf("server: publish: %w", err)
	}
	n := s.publishFrame(channel, frame)
	s.stats.published.Add(1)
	s.stats.deliveries.Add(uint64(n))
	return n, nil
}

// publishFrame queues an encoded publication on the local subscribers,
// with its compressed form built on demand when compression is on.
func (s *Server) publishFrame(channel, frame []byte) int {
	if g := s.ho.giving.Load(); g != nil { // a new process takes the subscribers over (handoff_give.go)
		return g.publish(channel, func() (int, []byte, uint64) { return s.publishLocal(channel, frame), frame, 0 })
	}
	return s.publishLocal(channel, frame)
}

// publishLocal queues an encoded publication on the local subscribers.
func (s *Server) publishLocal(channel, frame []byte) int {
	if !s.cfg.Compression {
		return s.hub.Publish(channel, frame)
	}
	return s.hub.PublishMessage(channel, deflateMessage(frame))
}

// Enqueue queues a publication for c (hub.Subscriber): the compressed form
// when c negotiated permessage-deflate, the plain frame otherwise.
func (c *conn) Enqueue(m *hub.Message) bool {
	if c.deflate {
		return c.enqueue(m.Variant())
	}
	return c.enqueue(m.Frame)
}
