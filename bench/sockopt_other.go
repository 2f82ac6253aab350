//go:build !linux

package bench

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// setBindNoPort does nothing: only Linux has IP_BIND_ADDRESS_NO_PORT, so
// elsewhere bind takes a source port per connection and the tool runs out
// of ports at one source address's range.
func setBindNoPort(int) error { return nil }

// cloexecSocket opens a blocking, close-on-exec IPv4 stream socket. Without
// SOCK_CLOEXEC the flag is set after the fact under syscall.ForkLock, so a
// worker started meanwhile does not inherit the fd.
func cloexecSocket() (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	return fd, err
}
