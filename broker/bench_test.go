package broker_test

import (
	"testing"
	"time"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/internal/brokertest"
)

// BenchmarkRedisHop and BenchmarkNATSHop time one publication from one
// node's Publish to the other node's Message handler, one at a time: the
// latency a broker adds to a cross-node delivery.
func BenchmarkRedisHop(b *testing.B) {
	benchHop(b, broker.Config{Driver: "redis", URL: brokertest.StartRedis(b).URL()})
}

func BenchmarkNATSHop(b *testing.B) {
	benchHop(b, broker.Config{Driver: "nats", URL: brokertest.StartNATS(b).URL()})
}

func benchHop(b *testing.B, cfg broker.Config) {
	got := make(chan struct{}, 1)
	up := make(chan struct{}, 2)
	open := func(onMsg func(ch, frame []byte)) broker.Broker {
		br, err := broker.Open(cfg, broker.Handlers{Message: onMsg, State: func(h broker.Health) {
			if h.Up {
				up <- struct{}{}
			}
		}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { br.Close() })
		return br
	}
	pub := open(nil)
	sub := open(func(_, _ []byte) { got <- struct{}{} })
	<-up
	<-up
	sub.Subscribe([]byte("bench"))
	frame := make([]byte, 100)
	for !hop(pub, got, frame, 10*time.Millisecond) { // until the subscription is in place
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := pub.Publish([]byte("bench"), frame); err != nil {
			b.Fatal(err)
		}
		<-got
	}
}

// hop publishes frame once and reports whether it arrived within d.
func hop(pub broker.Broker, got <-chan struct{}, frame []byte, d time.Duration) bool {
	pub.Publish([]byte("bench"), frame)
	select {
	case <-got:
		return true
	case <-time.After(d):
		return false
	}
}
