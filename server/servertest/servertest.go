// Package servertest starts real wsify servers for tests in other packages,
// as net/http/httptest does for net/http: in this process, on a free
// loopback port, shut down when the test ends. It also makes the
// self-signed certificate TLS tests share, and a buffer their loggers and
// child processes can write.
package servertest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/wsify/wsify/server"
)

// Start runs a server with cfg until t ends. An empty cfg.Addr means a free
// port on 127.0.0.1, a nil cfg.Logger discards the logs.
func Start(t testing.TB, cfg server.Config) *server.Server {
	t.Helper()
	s, err := TryStart(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TryStart is Start for tests that expect the start may fail: it returns
// the error of server.New or Start instead of failing t.
func TryStart(t testing.TB, cfg server.Config) (*server.Server, error) {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := server.New(cfg)
	if err == nil {
		err = s.Start()
	}
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s, nil
}
