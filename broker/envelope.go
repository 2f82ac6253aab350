package broker

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
)

// A publication travels on the broker as:
//
//	byte 0     'w', which marks a wsify publication and this layout
//	byte 1     n, the length of the publishing node's id
//	n bytes    the node id
//	the rest   the WebSocket frame exactly as the node sends it to clients
//
// The frame is encoded once on the publishing node and forwarded byte for
// byte by every receiving node; the node id lets a node ignore its own
// publications should the broker echo them back.
//
// A publication narrowed to some subscribers (PublishFiltered) has a
// layout of its own, so that a node that predates filters drops it as
// malformed (counted in Stats.Dropped) rather than deliver it to
// everyone:
//
//	byte 0     'f', a filtered publication
//	byte 1     n, the length of the publishing node's id
//	n bytes    the node id
//	4 bytes    m, the length of the filter, big-endian
//	m bytes    the filter, opaque here (hub.Filter's encoding)
//	the rest   the frame, as above
//
// Unfiltered publications keep the first layout, byte for byte.
const (
	envelopeMagic = 'w'
	filteredMagic = 'f'
)

// nodeIDLen is the length of the ids this package makes: random enough that
// nodes sharing a broker never collide.
const nodeIDLen = 8

type nodeID [nodeIDLen]byte

func newNodeID() (nodeID, error) {
	var id nodeID
	_, err := rand.Read(id[:])
	return id, err
}

func (id nodeID) String() string { return hex.EncodeToString(id[:]) }

// appendEnvelope wraps frame, narrowed by filter when it is not nil.
func appendEnvelope(dst []byte, node nodeID, filter, frame []byte) []byte {
	if filter == nil {
		dst = append(dst, envelopeMagic, nodeIDLen)
		dst = append(dst, node[:]...)
		return append(dst, frame...)
	}
	dst = append(dst, filteredMagic, nodeIDLen)
	dst = append(dst, node[:]...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(filter)))
	dst = append(dst, filter...)
	return append(dst, frame...)
}

// openEnvelope splits a payload from the broker into node id, filter (nil
// when the publication has none) and frame.
func openEnvelope(p []byte) (node, filter, frame []byte, ok bool) {
	if len(p) < 2 || (p[0] != envelopeMagic && p[0] != filteredMagic) || len(p) < 2+int(p[1]) {
		return nil, nil, nil, false
	}
	n := 2 + int(p[1])
	node, rest := p[2:n], p[n:]
	if p[0] == filteredMagic {
		if len(rest) < 4 || uint64(binary.BigEndian.Uint32(rest)) > uint64(len(rest)-4) {
			return nil, nil, nil, false
		}
		m := 4 + int(binary.BigEndian.Uint32(rest))
		filter, rest = rest[4:m], rest[m:]
		if filter == nil {
			filter = []byte{}
		}
	}
	return node, filter, rest, len(rest) > 0
}

// envelopes recycles the buffers publications are wrapped in; a driver's
// client has copied the payload out by the time its publish call returns.
var envelopes sync.Pool

// counters are what every driver counts, without locks.
type counters struct {
	published, received, dropped, own, refused atomic.Uint64
}

// publish wraps frame (with filter, when not nil) in node's envelope and
// hands it to send, unless h says the broker is down, and counts the
// outcome. send must not keep the payload: its buffer is pooled again
// once send returns.
func (c *counters) publish(h *health, driver string, node nodeID, filter, frame []byte, send func(payload []byte) error) error {
	if !h.up.Load() {
		c.refused.Add(1)
		return h.unavailable(driver)
	}
	bp, _ := envelopes.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	*bp = appendEnvelope((*bp)[:0], node, filter, frame)
	err := send(*bp)
	if cap(*bp) <= 64<<10 {
		envelopes.Put(bp)
	}
	if err != nil {
		c.refused.Add(1)
		return fmt.Errorf("broker: %s: publish: %w: %w", driver, failure(err), err)
	}
	c.published.Add(1)
	return nil
}

// accept opens a payload from the broker and tells whether its frame is
// for this node: another node's well-formed publication. filter is nil
// when the publication has none.
func (c *counters) accept(self nodeID, payload []byte) (filter, frame []byte, ok bool) {
	node, filter, frame, ok := openEnvelope(payload)
	switch {
	case !ok:
		c.dropped.Add(1)
		return nil, nil, false
	case bytes.Equal(node, self[:]):
		c.own.Add(1)
		return nil, nil, false
	}
	c.received.Add(1)
	return filter, frame, true
}

func (c *counters) fill(st *Stats) {
	st.Published = c.published.Load()
	st.Received = c.received.Load()
	st.Dropped = c.dropped.Load()
	st.Own = c.own.Load()
	st.Refused = c.refused.Load()
}
