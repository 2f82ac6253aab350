package netpoll

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// writev goes through x/sys's Writev, that is libSystem's writev: darwin
// programs must not make system calls by number. Writev wants byte slices,
// so the iovecs are turned back into them, on the stack.
func writev(fd int, iov []unix.Iovec) (int, error) {
	var bufs [maxIovecs][]byte
	for i, v := range iov {
		bufs[i] = unsafe.Slice(v.Base, v.Len)
	}
	for {
		n, err := unix.Writev(fd, bufs[:len(iov)])
		if err != unix.EINTR {
			return n, err
		}
	}
}
