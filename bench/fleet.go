package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// fleet is the coordinator's handle on its worker processes.
type fleet struct {
	procs []*workerProc
}

// workerProc is one worker process.
type workerProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	result chan *workerResult // the final report, or nil when the worker died

	mu   sync.Mutex
	last progress // latest progress line; guarded by mu
	done bool     // a churn worker finished its cycles; guarded by mu
}

// startFleet starts one worker process per job.
func startFleet(jobs []job) (*fleet, error) {
	f := &fleet{}
	for _, j := range jobs {
		p, err := startWorker(j)
		if err != nil {
			f.kill()
			return nil, err
		}
		f.procs = append(f.procs, p)
	}
	return f, nil
}

func startWorker(j job) (*workerProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: worker: %w", err)
	}
	p := &workerProc{cmd: exec.Command(exe), result: make(chan *workerResult, 1)}
	p.cmd.Env = append(os.Environ(), roleEnv+"=worker")
	p.cmd.Stderr = os.Stderr
	p.stdin, _ = p.cmd.StdinPipe()
	stdout, _ := p.cmd.StdoutPipe()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: starting worker: %w", err)
	}
	go p.readEvents(stdout)
	line, _ := json.Marshal(j)
	if _, err := p.stdin.Write(append(line, '\n')); err != nil {
		p.cmd.Process.Kill()
		return nil, fmt.Errorf("bench: sending job: %w", err)
	}
	return p, nil
}

// readEvents follows the worker's stdout until it exits.
func (p *workerProc) readEvents(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var res *workerResult
	for sc.Scan() {
		var ev event
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		p.mu.Lock()
		p.last = ev.Progress
		p.done = p.done || ev.Type == "done"
		p.mu.Unlock()
		if ev.Type == "result" {
			res = ev.Result
		}
	}
	p.result <- res
}

func (f *fleet) pids() []int {
	var pids []int
	for _, p := range f.procs {
		pids = append(pids, p.cmd.Process.Pid)
	}
	return pids
}

// progress sums the workers' latest progress lines.
func (f *fleet) progress() (sum progress, allDone bool) {
	allDone = true
	for _, p := range f.procs {
		p.mu.Lock()
		sum.add(p.last)
		allDone = allDone && p.done
		p.mu.Unlock()
	}
	return sum, allDone
}

// stop asks every worker for its result and waits for them to exit.
func (f *fleet) stop(timeout time.Duration) ([]*workerResult, error) {
	for _, p := range f.procs {
		io.WriteString(p.stdin, "stop\n")
	}
	deadline := time.After(timeout)
	var out []*workerResult
	for i, p := range f.procs {
		select {
		case r := <-p.result:
			if r == nil {
				return out, fmt.Errorf("bench: worker %d ended without a result", i)
			}
			out = append(out, r)
		case <-deadline:
			f.kill()
			return out, fmt.Errorf("bench: workers did not report within %s", timeout)
		}
		p.stdin.Close()
		p.cmd.Wait()
	}
	return out, nil
}

// kill ends every worker at once (error paths).
func (f *fleet) kill() {
	for _, p := range f.procs {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
}
