package netpoll

import "golang.org/x/sys/unix"

const (
	// soReusePort spreads the connections of one port over every socket
	// bound to it, so several processes can share the load.
	soReusePort = unix.SO_REUSEPORT
	tcpKeepIdle = unix.TCP_KEEPIDLE
)
