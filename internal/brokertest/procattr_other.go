//go:build !linux && !freebsd

package brokertest

import "syscall"

// dieWithParent has nothing to ask for: darwin has no parent-death signal.
// The tests still stop the broker on cleanup; only a test binary killed
// outright leaves it running.
func dieWithParent() *syscall.SysProcAttr { return nil }
