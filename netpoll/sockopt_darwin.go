package netpoll

import "golang.org/x/sys/unix"

const (
	// darwin's SO_REUSEPORT lets several sockets bind the port, but the
	// kernel does not balance connections between them as Linux does.
	soReusePort = unix.SO_REUSEPORT
	// darwin names the keep-alive idle time TCP_KEEPALIVE.
	tcpKeepIdle = unix.TCP_KEEPALIVE
)
