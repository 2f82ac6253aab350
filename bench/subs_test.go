package bench

import (
	"testing"
	"time"

	"github.com/wsify/wsify/protocol"
	"golang.org/x/sys/unix"
)

// subPair is a subscriber on one end of a socket pair and the other end,
// from which the test plays the server.
func subPair(t testing.TB) (*subSet, *subscriber, int) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0) // darwin has no SOCK_NONBLOCK
	if err != nil {
		t.Fatal(err)
	}
	unix.SetNonblock(fds[0], true)
	unix.SetNonblock(fds[1], true)
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	s, err := newSubSet(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.poll.close)
	return s, &subscriber{fd: fds[0]}, fds[1]
}

// broadcasts is n stamped broadcast frames of channel 0 numbered from seq.
func broadcasts(seq, n int) []byte {
	var b []byte
	for i := range n {
		content := appendContent(nil, channelName(0), seq+i, time.Now().UnixNano(), 100)
		b = protocol.AppendBroadcastFrame(b, []byte(channelName(0)), content)
	}
	return b
}

func TestSubscriberReadsFramesWithoutAllocating(t *testing.T) {
	s, sub, srv := subPair(t)
	const reads, perRead = 101, 8 // AllocsPerRun makes one warm-up call
	batches := make([][]byte, reads)
	for i := range batches {
		batches[i] = broadcasts(i*perRead, perRead)
	}
	i := 0
	allocs := testing.AllocsPerRun(reads-1, func() {
		unix.Write(srv, batches[i])
		i++
		s.readable(sub)
	})
	if allocs != 0 || sub.closed || s.recv.Load() != reads*perRead || s.latency.N != reads*perRead || s.disorder[0] != 0 {
		t.Fatalf("%v allocs per read; closed %v, received %d, timed %d, disorder %d", allocs, sub.closed, s.recv.Load(),
			s.latency.N, s.disorder[0])
	}
}

// BenchmarkSubscriberFrames is the worker's cost per received broadcast
// beyond the read syscall: parsing, the stamp, the counters, the histogram.
func BenchmarkSubscriberFrames(b *testing.B) {
	s, sub, _ := subPair(b)
	buf := broadcasts(0, 64)
	now := time.Now().UnixNano()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sub.nextSeq = 0
		for p := buf; len(p) > 0; {
			f, n := parseServerFrame(p)
			s.frame(sub, f, now)
			p = p[n:]
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*64), "ns/frame")
}
