//go:build linux || darwin || freebsd

package netpoll

import "golang.org/x/sys/unix"

// SetLingerZero makes the coming close of fd abortive: the kernel sends a
// reset and frees the socket at once, dropping unsent data, instead of
// retransmitting it and a FIN to a peer that may be gone.
func SetLingerZero(fd int) error {
	return unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
}
