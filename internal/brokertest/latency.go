package brokertest

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// LatencyProxy forwards TCP connections to target, delaying every byte by
// d in each direction, and returns its address. It closes with the test.
func LatencyProxy(t testing.TB, target string, d time.Duration) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			t.Cleanup(func() { in.Close(); out.Close() })
			go delayCopy(out, in, d)
			go delayCopy(in, out, d)
		}
	}()
	return ln.Addr().String()
}

// delayCopy copies src to dst, each chunk d after it was read, in order.
func delayCopy(dst io.WriteCloser, src io.Reader, d time.Duration) {
	type chunk struct {
		due time.Time
		b   []byte
	}
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{time.Now().Add(d), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	dst.Close()
}

// SlowDial is a broker.Config.Dial that reaches the addresses slow says
// are slow through a LatencyProxy of d each way (one per address), and the
// others directly.
func SlowDial(t testing.TB, d time.Duration, slow func(addr string) bool) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var mu sync.Mutex
	proxies := map[string]string{}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if slow(addr) {
			mu.Lock()
			p, ok := proxies[addr]
			if !ok {
				p = LatencyProxy(t, addr, d)
				proxies[addr] = p
			}
			mu.Unlock()
			addr = p
		}
		var dl net.Dialer
		return dl.DialContext(ctx, network, addr)
	}
}
