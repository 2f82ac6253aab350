//go:build linux || darwin || freebsd

package netpoll

import (
	"fmt"
	"net"
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

// ToNetConn turns fd into a net.Conn served by the Go runtime's poller. fd
// itself is left open for the caller to close through CloseFD. net.FileConn
// dups once more, so the file of DupFile is closed here.
func ToNetConn(fd int) (net.Conn, error) {
	f, err := DupFile(fd)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return net.FileConn(f)
}
