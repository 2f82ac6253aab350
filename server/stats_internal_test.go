package server

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/protocol"
)

// TestCountingDoesNotAllocate pins the counters the connection paths bump,
// and the connection log check at info level, to zero allocations.
func TestCountingDoesNotAllocate(t *testing.T) {
	s, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	c := &conn{srv: s, remote: netip.MustParseAddrPort("127.0.0.1:9")}
	denied := &auth.Error{Status: 403, Err: auth.ErrDenied}
	for name, f := range map[string]func(){
		"command":    func() { s.stats.command(protocol.KindJoin, resultOK) },
		"authorized": func() { s.stats.authorized(nil, time.Millisecond) },
		"denied":     func() { s.stats.authorized(denied, 3*time.Second) },
		"closed":     func() { s.connOpened(); s.connClosed(ws.StatusPolicyViolation); c.logClosed(discSlowConsumer) },
		"rejected":   func() { s.stats.rejected(reasonAuthDenied); c.logRejected("auth_denied", "x") },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", name, n)
		}
	}
}

// BenchmarkWriteMetrics is the cost of one scrape, process metrics included.
func BenchmarkWriteMetrics(b *testing.B) {
	s, err := New(Config{Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil {
		err = s.Start()
	}
	if err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	b.ReportAllocs()
	for b.Loop() {
		s.writeMetrics(io.Discard)
	}
}
