package bench

import "golang.org/x/sys/unix"

// setBindNoPort lets connect, not bind, pick the source port of fd.
func setBindNoPort(fd int) error {
	return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
}

// cloexecSocket opens a blocking, close-on-exec IPv4 stream socket.
func cloexecSocket() (int, error) {
	return unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
}
