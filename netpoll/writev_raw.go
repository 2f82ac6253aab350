//go:build linux || freebsd

package netpoll

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// writev is the bare system call: x/sys's Writev would rebuild the iovecs
// on the heap.
func writev(fd int, iov []unix.Iovec) (int, error) {
	for {
		r, _, e := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
		switch e {
		case 0:
			return int(r), nil
		case unix.EINTR:
			continue
		default:
			return 0, e
		}
	}
}
