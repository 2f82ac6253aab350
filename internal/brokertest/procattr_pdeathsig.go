//go:build linux || freebsd

package brokertest

import "syscall"

// dieWithParent has the kernel kill the broker when the test binary dies,
// so a crashed or killed test leaves no orphan holding the port.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
