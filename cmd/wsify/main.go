// Command wsify runs a wsify node: a WebSocket pub/sub server on an epoll
// event loop. Configuration comes from flags and WSIFY_* variables; see
// wsify --help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/wsify/wsify/server"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

func run(args []string, getenv func(string) string, stderr io.Writer) int {
	o, err := parseOptions(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "wsify:", err)
		return 2
	}
	o.server.Logger = newLogger(stderr, o.logLevel, o.logFormat)
	srv, err := server.New(o.server)
	if err == nil {
		err = srv.Start()
	}
	if err != nil {
		fmt.Fprintln(stderr, "wsify:", err)
		return 1
	}
	return serveUntilSignal(srv, o.server)
}

func serveUntilSignal(srv *server.Server, cfg server.Config) int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	got := <-sig
	cfg.Logger.Info("shutting down", "signal", got.String())
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		cfg.Logger.Warn("shutdown incomplete", "err", err)
	}
	return 0
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
