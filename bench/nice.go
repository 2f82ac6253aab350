package bench

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// setNice gives every thread of this process the scheduling priority n
// (negative: ahead of the box's other work; root only). Threads and
// processes started afterwards inherit it, so the server, the workers and
// the authorizer all run at n. On a shared machine this keeps other jobs
// from distorting latency; the report says when it was used.
func setNice(n int) error {
	if n == 0 {
		return nil
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("bench: nice: %w", err)
	}
	for _, t := range tasks {
		tid, _ := strconv.Atoi(t.Name())
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, n); err != nil {
			return fmt.Errorf("bench: nice %d: %w", n, err)
		}
	}
	return nil
}
