package server

import (
	"net/netip"
	"time"

	"github.com/wsify/wsify/broker"
	"github.com/wsify/wsify/protocol"
)

// SlowBrokerUnsubscribe makes every broker opened from now on wait d before
// each Unsubscribe, widening the window in which a join and a leave of one
// channel on two workers could reach the broker out of order. It returns
// the function that undoes it.
func SlowBrokerUnsubscribe(d time.Duration) (undo func()) {
	wrapBroker = func(b broker.Broker) broker.Broker { return slowUnsubscribe{b, d} }
	return func() { wrapBroker = func(b broker.Broker) broker.Broker { return b } }
}

type slowUnsubscribe struct {
	broker.Broker
	d time.Duration
}

func (s slowUnsubscribe) Unsubscribe(channel []byte) {
	time.Sleep(s.d)
	s.Broker.Unsubscribe(channel)
}

// AdvanceClock moves s's clock (now(), which the rate limit and the ping
// sweeper read) d forward, so a test sees time pass without sleeping.
func AdvanceClock(s *Server, d time.Duration) { s.lim.skew.Add(int64(d)) }

// PanicOnChannel makes every command naming channel panic before it runs,
// as a bug would. It returns the function that undoes it.
func PanicOnChannel(channel string) (undo func()) {
	commandHook = func(cmd *protocol.Command) {
		if string(cmd.Channel) == channel {
			panic("test: a bug in a command handler")
		}
	}
	return func() { commandHook = nil }
}

// RemoteClient makes protected mode take clients from ip, a loopback
// address, as remote, for servers started from now on. It returns the
// function that undoes it.
func RemoteClient(ip string) (undo func()) {
	remoteForTest = netip.MustParseAddr(ip)
	return func() { remoteForTest = netip.Addr{} }
}

// HandoffCounts is what s handed over: connections, bytes read and not
// parsed, bytes queued and not written, and messages begun.
func HandoffCounts(s *Server) (conns, unparsed, unsent, fragmented int64) {
	return s.ho.handed.Load(), s.ho.unparsed.Load(), s.ho.unsent.Load(), s.ho.fragmented.Load()
}

// SlowHandoff makes handoffs send connections n at a time with a pause of
// d after each batch. It returns the function that undoes it.
func SlowHandoff(n int, d time.Duration) (undo func()) {
	batchConns, batchPause = n, d
	return func() { batchConns, batchPause = handoffMaxFDs, 0 }
}

const handoffMaxFDs = 250
