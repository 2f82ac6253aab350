package bench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// listenerPID finds the process that holds the TCP socket listening on
// port, through the socket's inode in /proc/net/tcp{,6} and /proc/*/fd.
func listenerPID(port int) (int, error) {
	inode := listenInode("/proc/net/tcp", port)
	if inode == "" {
		inode = listenInode("/proc/net/tcp6", port)
	}
	if inode == "" {
		return 0, fmt.Errorf("bench: no listening socket on port %d; pass -pid", port)
	}
	want := "socket:[" + inode + "]"
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if l, err := os.Readlink(fd); err == nil && l == want {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			return pid, nil
		}
	}
	return 0, fmt.Errorf("bench: no process holds the listener on port %d (another user's?); pass -pid", port)
}

func listenInode(path string, port int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	suffix := fmt.Sprintf(":%04X", port)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		// sl local rem st ... inode is field 9; st 0A is LISTEN.
		if len(fl) > 9 && strings.HasSuffix(fl[1], suffix) && fl[3] == "0A" {
			return fl[9]
		}
	}
	return ""
}
