package server

import (
	"fmt"
	"testing"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/hub"
)

// BenchmarkDeliveryFilter is one delivery (Enqueue, the writev, the
// peer's read) over a real socket, unfiltered and with the filters of
// targeted delivery that let the connection through, so the filter's
// check is paid and the frame still goes: what a filter adds to the cost
// of a delivery. bench/RESULTS.md has the figures.
//
//	go test -run '^$' -bench DeliveryFilter -count 6 ./server/
func BenchmarkDeliveryFilter(b *testing.B) {
	users := func(n int) [][]byte {
		out := make([][]byte, n)
		for i := range out {
			out[i] = fmt.Appendf(nil, "u%d", i)
		}
		out[n-1] = []byte("alice")
		return out
	}
	for _, c := range []struct {
		name   string
		filter *hub.Filter
	}{
		{"none", nil},
		{"except", hub.NewFilter(false, nil, []byte("abcdef12-4"))},
		{"to-4", hub.NewFilter(true, users(4), nil)},
		{"to-10", hub.NewFilter(true, users(10), nil)},
		{"to-1000", hub.NewFilter(true, users(1000), nil)},
	} {
		b.Run(c.name, func(b *testing.B) {
			conn, peer := deliveryFixture(b)
			conn.srv.nodeID, conn.seq = "abcdef12", 41
			conn.ident = &auth.Identity{User: "alice"}
			frame := deliveryFrame()
			m := &hub.Message{Frame: frame, Filter: c.filter}
			buf := make([]byte, 2*len(frame))
			b.ReportAllocs()
			for b.Loop() {
				if conn.Enqueue(m) {
					conn.Flush()
				}
				readFrame(b, peer, buf, frame)
			}
		})
	}
}

// BenchmarkFilterCheck is the filter's part of a delivery alone: the
// comparisons Enqueue makes before queueing, for a connection the filter
// lets through (the most it costs).
func BenchmarkFilterCheck(b *testing.B) {
	conn := &conn{srv: &Server{nodeID: "abcdef12"}, seq: 41, ident: &auth.Identity{User: "alice"}}
	for _, c := range []struct {
		name string
		f    *hub.Filter
	}{
		{"except", hub.NewFilter(false, nil, []byte("abcdef12-4"))},
		{"to-4", hub.NewFilter(true, [][]byte{[]byte("u1"), []byte("u2"), []byte("u3"), []byte("alice")}, nil)},
		{"to-10", hub.NewFilter(true, append(make([][]byte, 9, 10), []byte("alice")), nil)},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if !conn.admits(c.f) {
					b.Fatal("left out")
				}
			}
		})
	}
}
