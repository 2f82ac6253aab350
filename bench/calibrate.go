package bench

import (
	"fmt"
	"net"
	"runtime"

	"golang.org/x/sys/unix"
)

// Calibration is what the machine's kernel charges, at the time of the
// run, for the bare operation a delivery is made of: a small write to a
// loopback TCP socket (its receive-side processing included, no wakeup).
// VM hosts change this from minute to minute; dividing the server's CPU
// per write by it shows what is the server's own and what is the box's.
type Calibration struct {
	WriteUs float64 `json:"loopback_write_us"` // CPU per write of Size bytes
	Size    int     `json:"size"`
	Writes  int     `json:"writes"`
}

// calibrate writes size bytes rounds times to each of pairs loopback
// sockets nobody reads (the data fits their buffers) on one locked thread
// and returns the thread's CPU per write.
func calibrate(size, pairs, rounds int) (Calibration, error) {
	c := Calibration{Size: size, Writes: pairs * rounds}
	fds, err := loopbackPairs(pairs)
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	if err != nil {
		return c, err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	msg := make([]byte, size)
	t0 := threadCPU()
	for range rounds {
		for i := 0; i < len(fds); i += 2 {
			if _, err := unix.Write(fds[i], msg); err != nil {
				return c, fmt.Errorf("bench: calibrate: %w", err)
			}
		}
	}
	c.WriteUs = float64(threadCPU()-t0) / 1e3 / float64(c.Writes)
	return c, nil
}

func threadCPU() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return ts.Nano()
}

// loopbackPairs returns n connected pairs as raw fds: writer, reader, ...
func loopbackPairs(n int) ([]int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: calibrate: %w", err)
	}
	defer ln.Close()
	var fds []int
	for range n {
		w, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return fds, fmt.Errorf("bench: calibrate: %w", err)
		}
		r, err := ln.Accept()
		if err != nil {
			w.Close()
			return fds, fmt.Errorf("bench: calibrate: %w", err)
		}
		wfd, err1 := detach(w)
		rfd, err2 := detach(r)
		fds = append(fds, wfd, rfd)
		if err1 != nil || err2 != nil {
			return fds, fmt.Errorf("bench: calibrate: %v %v", err1, err2)
		}
	}
	return fds, nil
}
