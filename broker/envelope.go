package broker

import (
	"bytes"
	"crypto/rand"
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
const envelopeMagic = 'w'

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

func appendEnvelope(dst []byte, node nodeID, frame []byte) []byte {
	dst = append(dst, envelopeMagic, nodeIDLen)
	dst = append(dst, node[:]...)
	return append(dst, frame...)
}

// openEnvelope splits a payload from the broker into node id and frame.
func openEnvelope(p []byte) (node, frame []byte, ok bool) {
	if len(p) < 2 || p[0] != envelopeMagic || len(p) < 2+int(p[1]) {
		return nil, nil, false
	}
	n := 2 + int(p[1])
	return p[2:n], p[n:], len(p) > n
}

// envelopes recycles the buffers publications are wrapped in; a driver's
// client has copied the payload out by the time its publish call returns.
var envelopes sync.Pool

// counters are what every driver counts, without locks.
type counters struct {
	published, received, dropped, own, refused atomic.Uint64
}

// publish wraps frame in node's envelope and hands it to send, unless h
// says the broker is down, and counts the outcome. send must not keep the
// payload: its buffer is pooled again once send returns.
func (c *counters) publish(h *health, driver string, node nodeID, frame []byte, send func(payload []byte) error) error {
	if !h.up.Load() {
		c.refused.Add(1)
		return h.unavailable(driver)
	}
	bp, _ := envelopes.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	*bp = appendEnvelope((*bp)[:0], node, frame)
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
// for this node: another node's well-formed publication.
func (c *counters) accept(self nodeID, payload []byte) ([]byte, bool) {
	node, frame, ok := openEnvelope(payload)
	switch {
	case !ok:
		c.dropped.Add(1)
		return nil, false
	case bytes.Equal(node, self[:]):
		c.own.Add(1)
		return nil, false
	}
	c.received.Add(1)
	return frame, true
}

func (c *counters) fill(st *Stats) {
	st.Published = c.published.Load()
	st.Received = c.received.Load()
	st.Dropped = c.dropped.Load()
	st.Own = c.own.Load()
	st.Refused = c.refused.Load()
}
