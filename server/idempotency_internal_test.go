package server

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wsify/wsify/protocol"
)

// TestIdempotencyKeysExpireAndAreBounded: a node's key is scoped to its
// channel, kept its TTL and no longer, forgotten when its publication
// failed, and the oldest go first past the bound. A retry that comes while
// the first is in flight waits for its outcome.
func TestIdempotencyKeysExpireAndAreBounded(t *testing.T) {
	m := newIdempotency(time.Minute)
	t0 := time.Unix(1000, 0)
	e, first := m.claim("news", "k", t0)
	if !first {
		t.Fatal("a fresh key is not first")
	}
	waited := make(chan *protocol.Position)
	go func() {
		e2, first := m.claim("news", "k", t0.Add(time.Second))
		if first {
			waited <- nil
			return
		}
		<-e2.done
		waited <- e2.pos
	}()
	pos := &protocol.Position{Offset: 7, Epoch: "e"}
	m.settle(e, pos, nil)
	if got := <-waited; got != pos {
		t.Fatalf("the retry in flight got %v", got)
	}
	if _, first := m.claim("sport", "k", t0); !first {
		t.Fatal("a key is scoped to its channel")
	}
	if _, first := m.claim("news", "k", t0.Add(time.Minute-time.Millisecond)); first {
		t.Fatal("forgotten before its TTL")
	}
	if _, first := m.claim("news", "k", t0.Add(time.Minute)); !first {
		t.Fatal("kept past its TTL")
	}

	failed, _ := m.claim("news", "f", t0.Add(time.Minute))
	m.settle(failed, nil, errors.New("broker down"))
	if _, first := m.claim("news", "f", t0.Add(time.Minute)); !first {
		t.Fatal("the key of a failed publication is kept: a retry could not publish")
	}

	b := newIdempotency(time.Hour)
	for i := range maxIdempotencyKeys + 10 {
		e, _ := b.claim("c", fmt.Sprint(i), t0)
		b.settle(e, nil, nil)
	}
	if len(b.byKey) != maxIdempotencyKeys {
		t.Fatalf("%d keys kept; want at most %d", len(b.byKey), maxIdempotencyKeys)
	}
	if _, first := b.claim("c", "5", t0); !first {
		t.Fatal("an oldest key is kept past the bound")
	}
	if _, first := b.claim("c", fmt.Sprint(maxIdempotencyKeys+9), t0); first {
		t.Fatal("a newest key was forgotten")
	}
}
