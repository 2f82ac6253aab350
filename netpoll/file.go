package netpoll

import (
	"net"
	"os"
)

// fileConn hands fd to the Go runtime as a net.Conn. net.FileConn dups the
// fd once more, so the os.File and fd are closed here.
func fileConn(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "")
	c, err := net.FileConn(f)
	f.Close()
	return c, err
}
