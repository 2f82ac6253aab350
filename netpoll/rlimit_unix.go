//go:build linux || darwin || freebsd

package netpoll

import "golang.org/x/sys/unix"

// FileLimit is the process's soft limit on open files, which bounds how
// many sockets it can hold, capped at 1<<31; -1 when it cannot be read.
// The Go runtime has already raised the soft limit to the hard one.
func FileLimit() int {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return -1
	}
	// Rlimit.Cur is uint64 on Linux and darwin, int64 on FreeBSD, whose
	// "unlimited" is the largest int64.
	return int(min(uint64(lim.Cur), 1<<31))
}
