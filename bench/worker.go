package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// roleEnv names the variable that turns the re-executed binary into a
// worker or an authorizer.
const roleEnv = "WSBENCH_ROLE"

// Child runs the process as a worker or authorizer when the coordinator
// started it as one, and then exits; otherwise it returns. Call it first
// in main (and in TestMain).
func Child() {
	switch os.Getenv(roleEnv) {
	case "worker":
		os.Exit(workerMain(os.Stdin, os.Stdout))
	case "authorizer":
		os.Exit(authorizerMain(os.Stdin, os.Stdout))
	}
}

// workerMain reads the job, runs it until "stop" (or stdin closing) and
// writes the result.
func workerMain(in io.Reader, out io.Writer) int {
	raiseFDLimit()
	rd := bufio.NewReader(in)
	line, err := rd.ReadBytes('\n')
	var j job
	if err == nil {
		err = json.Unmarshal(line, &j)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsbench worker: reading job:", err)
		return 2
	}
	stop := make(chan struct{})
	go func() { waitStop(rd); close(stop) }()
	w := newLineWriter(out)
	var res workerResult
	switch j.Kind {
	case "subscribe":
		res, err = runSubscribe(j, w, stop)
	case "churn":
		res, err = runChurn(j, w, stop)
	default:
		err = fmt.Errorf("unknown job %q", j.Kind)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsbench worker:", err)
		return 1
	}
	w.write(event{Type: "result", Progress: res.Progress, Result: &res})
	return 0
}

// waitStop returns at the line "stop" or at the end of input.
func waitStop(rd *bufio.Reader) {
	for {
		line, err := rd.ReadString('\n')
		if err != nil || strings.TrimSpace(line) == "stop" {
			return
		}
	}
}

// reportEvery writes progress lines until done closes.
func reportEvery(w *lineWriter, every time.Duration, p func() progress, done <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			w.write(event{Type: "progress", Progress: p()})
		}
	}
}

// runSubscribe opens j.Count connections that join their channel and
// holds them, reading broadcasts, until stop.
func runSubscribe(j job, w *lineWriter, stop <-chan struct{}) (workerResult, error) {
	set, err := newSubSet(int(raiseFDLimit()), max(j.Channels, 1))
	if err != nil {
		return workerResult{}, fmt.Errorf("epoll: %w", err)
	}
	var halt atomic.Bool
	loopDone := make(chan struct{})
	go func() { set.loop(&halt); close(loopDone) }()
	repDone := make(chan struct{})
	go reportEvery(w, 100*time.Millisecond, set.progress, repDone)
	dialAll(j, set, stop)
	<-stop
	halt.Store(true)
	<-loopDone
	close(repDone)
	return set.result(), nil
}

// dialAll opens the job's connections on j.Dialers goroutines.
func dialAll(j job, set *subSet, stop <-chan struct{}) {
	d := newDialer(j.Addr, j.Sources, time.Duration(j.Timeout))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(j.Dialers, 1) {
		wg.Go(func() {
			for k := int(next.Add(1) - 1); k < j.Count && !closed(stop); k = int(next.Add(1) - 1) {
				subscribeOne(d, j, set, j.First+k*max(j.Stride, 1))
			}
		})
	}
	wg.Wait()
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// subscribeOne opens connection i, sends its join and hands it to the set.
func subscribeOne(d *dialer, j job, set *subSet, i int) {
	c, pending, err := d.dial(i)
	if err != nil {
		set.fail(failReason(err))
		return
	}
	fd, err := detach(c)
	if err != nil {
		set.fail("detach")
		return
	}
	ch := i % max(j.Channels, 1)
	if frame := joinFrame(channelName(ch), i); !writeAll(fd, frame) {
		unix.Close(fd)
		set.fail("join_write")
		return
	}
	if err := set.add(fd, ch, pending); err != nil {
		set.fail(err.Error())
	}
}

// writeAll writes a small frame to a fresh non-blocking socket, which has
// room for it.
func writeAll(fd int, b []byte) bool {
	n, err := unix.Write(fd, b)
	return err == nil && n == len(b)
}
