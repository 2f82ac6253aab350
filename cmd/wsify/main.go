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
	log := o.server.Logger
	tookOver := o.server.TakeoverFrom != ""
	o.server.OnServing = func() {
		if err := sdNotify(readyState(tookOver)); err != nil {
			log.Warn("cannot tell systemd", "err", err)
		}
	}
	// Signals are caught before Start: a reload asked for as soon as the
	// service manager hears READY must not kill the process.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR2)
	srv, err := server.New(o.server)
	if err == nil {
		err = srv.Start()
	}
	if err != nil {
		fmt.Fprintln(stderr, "wsify:", err)
		return 1
	}
	return serveUntilSignal(srv, o.server, args, sig)
}

// serveUntilSignal serves until SIGINT or SIGTERM (a shutdown), or until
// a process started on SIGUSR2 (reload.go), or with --takeover from
// elsewhere, has taken everything over.
func serveUntilSignal(srv *server.Server, cfg server.Config, args []string, sig <-chan os.Signal) int {
	for {
		select {
		case <-srv.HandedOver():
			cfg.Logger.Info("every connection handed over; exiting")
			return 0
		case got := <-sig:
			if got == syscall.SIGUSR2 {
				if err := reexec(args, cfg.ControlSocket, cfg.Logger); err != nil {
					cfg.Logger.Error("cannot reload", "err", err)
				}
				continue
			}
			cfg.Logger.Info("shutting down", "signal", got.String())
			sdNotify("STOPPING=1")
			ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				cfg.Logger.Warn("shutdown incomplete", "err", err)
			}
			return 0
		}
	}
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
