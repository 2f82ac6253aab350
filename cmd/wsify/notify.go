package main

import (
	"fmt"
	"net"
	"os"
)

// sdNotify tells systemd (Type=notify) about this process, when it runs
// under it: READY=1 once serving, with MAINPID= when this process took
// over from the one systemd started, STOPPING=1 on shutdown. The protocol
// is one datagram to $NOTIFY_SOCKET (sd_notify(3)); without it nothing is
// sent.
func sdNotify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' { // an abstract socket
		path = "\x00" + path[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}

// readyState is what sdNotify says once this process serves.
func readyState(tookOver bool) string {
	if tookOver {
		return fmt.Sprintf("MAINPID=%d\nREADY=1", os.Getpid())
	}
	return "READY=1"
}
