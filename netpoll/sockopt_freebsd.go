package netpoll

import "golang.org/x/sys/unix"

const (
	// FreeBSD's plain SO_REUSEPORT lets a second socket bind the port but
	// does not share the connections; SO_REUSEPORT_LB (FreeBSD 12) does what
	// Linux's SO_REUSEPORT does.
	soReusePort = unix.SO_REUSEPORT_LB
	tcpKeepIdle = unix.TCP_KEEPIDLE
)
