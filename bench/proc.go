package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clkTck is USER_HZ, the unit of the CPU times in /proc/<pid>/stat. It is
// 100 on every Linux architecture Go supports.
const clkTck = 100

// procSample is what /proc says about one process at one instant.
type procSample struct {
	CPU     float64 // user+system seconds since the process started
	RSS     int64   // resident bytes (VmRSS)
	Threads int
	Writes  uint64 // write-type syscalls so far (syscw in /proc/<pid>/io)
}

func readProc(pid int) (procSample, error) {
	var s procSample
	var err error
	if s.CPU, err = procCPU(pid); err != nil {
		return s, err
	}
	if s.RSS, s.Threads, err = procStatus(pid); err != nil {
		return s, err
	}
	s.Writes, _ = procWrites(pid) // unreadable for another user's process: 0
	return s, nil
}

// procCPU returns utime+stime of pid (every thread, living or gone).
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("bench: reading cpu of pid %d: %w", pid, err)
	}
	// The command name may hold spaces and parentheses: fields start after the last ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: /proc/%d/stat: %d fields", pid, len(f))
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64) // field 14 of stat(5)
	st, _ := strconv.ParseUint(f[12], 10, 64) // field 15
	return float64(ut+st) / clkTck, nil
}

// procStatus returns VmRSS in bytes and the thread count of pid.
func procStatus(pid int) (rss int64, threads int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("bench: reading status of pid %d: %w", pid, err)
	}
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(line, ":")
		f := strings.Fields(v)
		switch {
		case k == "VmRSS" && len(f) > 0:
			kb, _ := strconv.ParseInt(f[0], 10, 64)
			rss = kb << 10
		case k == "Threads" && len(f) > 0:
			threads, _ = strconv.Atoi(f[0])
		}
	}
	return rss, threads, nil
}

// procWrites returns the write-type syscalls pid made (write, writev,
// sendmsg...), which shows how many frames leave per write.
func procWrites(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, nil
}

// systemCPU returns the busy and stolen CPU seconds of the whole machine
// (steal: time the hypervisor ran something else on our virtual CPUs).
func systemCPU() (busy, steal float64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	// user nice system idle iowait irq softirq steal (guest time is in user)
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseFloat(f, 64)
		switch i {
		case 0, 1, 2, 5, 6:
			busy += v
		case 7:
			steal += v
		}
	}
	return busy / clkTck, steal / clkTck
}

// loadAvg returns the 1-minute load average, to show how busy the box was.
func loadAvg() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// cpuSum returns the CPU seconds of pids; a process gone counts 0.
func cpuSum(pids []int) float64 {
	var sum float64
	for _, p := range pids {
		c, _ := procCPU(p)
		sum += c
	}
	return sum
}
