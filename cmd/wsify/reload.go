package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
)

// On SIGUSR2 wsify starts its own binary again, as nginx does for a binary
// upgrade: the file at the same path, so a deploy replaces the file and
// signals. The child gets the same arguments and environment plus
// --takeover on this process's control socket; it takes every socket over
// and this process exits once it holds nothing (README: Deploying). If the
// child cannot take over, it exits and this process serves on.

// reexec starts the process that takes this one over.
func reexec(args []string, controlSocket string, log *slog.Logger) error {
	if controlSocket == "" {
		return errors.New("SIGUSR2 needs a control socket (WSIFY_CONTROL_SOCKET) for the new process to take over on")
	}
	exe, err := os.Executable() // Linux: /proc/self/exe, less " (deleted)" when the file was replaced
	if err != nil {
		return fmt.Errorf("re-exec: %w", err)
	}
	cmd := exec.Command(exe, append(withoutTakeover(args), "--takeover", controlSocket)...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("re-exec %s: %w", exe, err)
	}
	log.Info("started a new process to take over", "pid", cmd.Process.Pid, "binary", exe)
	go func() {
		if err := cmd.Wait(); err != nil {
			log.Warn("the new process exited; serving on", "pid", cmd.Process.Pid, "err", err)
		}
	}()
	return nil
}

// withoutTakeover drops a --takeover of args: a process that took over once
// passes its own control socket to the next.
func withoutTakeover(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "-") || name != "takeover" {
			out = append(out, args[i])
			continue
		}
		if !hasValue {
			i++ // its value
		}
	}
	return out
}
