package hub

import "sync"

// Message is one publication as its subscribers receive it: Frame, encoded
// once for all of them, and an optional variant of it (such as the
// permessage-deflate form) that is built at most once, by the first
// subscriber that asks for it, and then shared.
type Message struct {
	Frame []byte
	// Filter, when set, narrows who receives it: a subscriber that it
	// leaves out queues nothing and calls Skip. Nil: every subscriber.
	Filter *Filter

	skipped int // subscribers Filter left out; Enqueue runs under the channel's lock

	variant func(frame []byte) []byte // builds the variant; nil: none
	once    sync.Once                 // runs build
	alt     []byte                    // the variant, set by build
}

// Skip records, from Enqueue, that the subscriber was left out by the
// filter, so the publication's count of receivers leaves it out too.
func (m *Message) Skip() { m.skipped++ }

// messagePool recycles the variant-less messages of Publish: subscribers
// keep the bytes they queue, never the Message.
var messagePool = sync.Pool{New: func() any { return new(Message) }}

// NewMessage returns a message carrying frame whose variant, when a
// subscriber asks for one, is variant(frame). A nil variant, or one that
// returns nil, means the variant is frame itself.
func NewMessage(frame []byte, variant func(frame []byte) []byte) *Message {
	return &Message{Frame: frame, variant: variant}
}

// Variant returns the variant frame, building it on the first call. It is
// safe for concurrent use and does not allocate after the first call.
func (m *Message) Variant() []byte {
	m.once.Do(m.build)
	return m.alt
}

func (m *Message) build() {
	m.alt = m.Frame
	if m.variant != nil {
		if v := m.variant(m.Frame); v != nil {
			m.alt = v
		}
	}
}
