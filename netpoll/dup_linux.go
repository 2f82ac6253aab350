//go:build linux

package netpoll

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// DupFile returns a duplicate of the non-blocking socket fd as an *os.File
// served by the Go runtime's poller, so a goroutine can wait on it with
// deadlines (SetDeadline, SyscallConn) while fd stays registered, disarmed,
// with the Poller. Closing the file leaves fd open.
func DupFile(fd int) (*os.File, error) {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("netpoll: dup: %w", err)
	}
	return os.NewFile(uintptr(dup), "socket"), nil
}
