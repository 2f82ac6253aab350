//go:build linux

package main

import (
	"bufio"
	"bytes"
	binenc "encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The fleet is this test binary run again as a process of idle clients
// (fleetEnv set): many joined connections held on one epoll loop, no
// goroutine each, so they fit under the race detector's goroutine limit
// and live in a process of their own, as the servers' fds do. Each joins
// one channel, answers pings and checks what it receives: publications
// {"p":"post","i":n} numbered 0, 1, 2... per channel, each once, in order.
//
// It speaks on stdin and stdout: it prints "ready" once every connection
// has joined; on "check {channel: count}" it waits until each connection
// got its channel's count and prints a fleetReport as one JSON line.

const fleetEnv = "WSIFY_TEST_FLEET" // addr,count,groups

type fleetReport struct {
	Conns  int      `json:"conns"`
	OK     int      `json:"ok"`     // got exactly their channel's publications
	Closed int      `json:"closed"` // closed by the server or the network
	Errors []string `json:"errors"` // the first few things wrong
}

type fleetConn struct {
	fd      int
	channel string
	joined  bool
	closed  bool
	next    int    // the number expected next
	left    []byte // start of a frame not yet complete
	err     string
}

type fleet struct {
	ep    int
	mu    sync.Mutex         // guards conns and the state in them: the loop holds it per turn
	conns map[int]*fleetConn // by fd
	buf   []byte
}

func fleetMain() int {
	var addr string
	var count, groups int
	if _, err := fmt.Sscanf(strings.ReplaceAll(os.Getenv(fleetEnv), ",", " "), "%s %d %d", &addr, &count, &groups); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		return 2
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		return 1
	}
	f := &fleet{ep: ep, conns: map[int]*fleetConn{}, buf: make([]byte, 256<<10)}
	if err := f.dialAll(addr, count, groups); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		return 1
	}
	var stop atomic.Bool
	go f.loop(&stop)
	for !f.all(func(c *fleetConn) bool { return c.joined || c.closed }) {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		want, ok := strings.CutPrefix(in.Text(), "check ")
		if !ok {
			continue
		}
		var counts map[string]int
		json.Unmarshal([]byte(want), &counts)
		deadline := time.Now().Add(60 * time.Second)
		for !f.all(func(c *fleetConn) bool { return c.closed || c.err != "" || c.next >= counts[c.channel] }) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		b, _ := json.Marshal(f.report(counts))
		fmt.Println(string(b))
	}
	stop.Store(true)
	return 0
}

// dialAll opens count connections, 16 at a time, from 127.0.0.2 and up
// (5,000 each), each joined to channel idle-(i % groups).
func (f *fleet) dialAll(addr string, count, groups int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < count; i = int(next.Add(1) - 1) {
				if err := f.dial(addr, fmt.Sprintf("127.0.0.%d", 2+i/5000), fmt.Sprintf("idle-%d", i%groups)); err != nil {
					errs <- fmt.Errorf("connection %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// dial connects, upgrades, sends the join and hands the socket to the loop.
func (f *fleet) dial(addr, src, channel string) error {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	req := "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(nc, req); err != nil {
		return err
	}
	var head []byte
	buf := make([]byte, 512)
	for !bytes.Contains(head, []byte("\r\n\r\n")) {
		n, err := nc.Read(buf)
		if err != nil {
			return err
		}
		head = append(head, buf[:n]...)
	}
	end := bytes.Index(head, []byte("\r\n\r\n")) + 4
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 101")) {
		return fmt.Errorf("handshake: %q", head[:end])
	}
	join := fmt.Sprintf(`{"command":"join","args":{"channel":%q},"id":1}`, channel)
	if _, err := nc.Write(clientFrame(0x1, []byte(join))); err != nil {
		return err
	}
	file, err := nc.(*net.TCPConn).File() // a duplicate, which outlives nc
	if err != nil {
		return err
	}
	fd, err := unix.Dup(int(file.Fd()))
	file.Close()
	if err != nil {
		return err
	}
	unix.SetNonblock(fd, true)
	c := &fleetConn{fd: fd, channel: channel, left: append([]byte(nil), head[end:]...)}
	f.mu.Lock()
	f.conns[fd] = c
	f.mu.Unlock()
	return unix.EpollCtl(f.ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)})
}

// clientFrame is a final, masked (with a zero key) client frame.
func clientFrame(op byte, p []byte) []byte {
	b := []byte{0x80 | op}
	switch {
	case len(p) < 126:
		b = append(b, 0x80|byte(len(p)))
	default:
		b = append(b, 0x80|126)
		b = binenc.BigEndian.AppendUint16(b, uint16(len(p)))
	}
	return append(append(b, 0, 0, 0, 0), p...)
}

func (f *fleet) loop(stop *atomic.Bool) {
	events := make([]unix.EpollEvent, 256)
	for !stop.Load() {
		n, err := unix.EpollWait(f.ep, events, 50)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		f.mu.Lock()
		for _, ev := range events[:max(n, 0)] {
			if c := f.conns[int(ev.Fd)]; c != nil && !c.closed {
				f.readable(c)
			}
		}
		f.mu.Unlock()
	}
}

func (f *fleet) readable(c *fleetConn) {
	for {
		off := copy(f.buf, c.left)
		n, err := unix.Read(c.fd, f.buf[off:])
		if errors.Is(err, unix.EAGAIN) {
			return
		}
		if n <= 0 {
			c.closed = true
			unix.Close(c.fd)
			return
		}
		b := f.buf[:off+n]
		for !c.closed {
			op, p, used := serverFrame(b)
			if used == 0 {
				break
			}
			f.frame(c, op, p)
			b = b[used:]
		}
		c.left = append(c.left[:0], b...)
	}
}

// serverFrame parses an unmasked server frame; used is 0 when b does not
// hold a whole one.
func serverFrame(b []byte) (op byte, p []byte, used int) {
	if len(b) < 2 {
		return 0, nil, 0
	}
	n, h := int(b[1]&0x7f), 2
	switch n {
	case 126:
		if len(b) < 4 {
			return 0, nil, 0
		}
		n, h = int(binenc.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return 0, nil, 0
		}
		n, h = int(binenc.BigEndian.Uint64(b[2:])), 10
	}
	if len(b) < h+n {
		return 0, nil, 0
	}
	return b[0] & 0x0f, b[h : h+n], h + n
}

func (f *fleet) frame(c *fleetConn, op byte, p []byte) {
	switch op {
	case 0x9: // ping: a pong keeps the connection alive past the ping timeout
		unix.Write(c.fd, clientFrame(0xA, p))
	case 0x8:
		c.closed = true
		c.fail(fmt.Sprintf("closed by the server: %q", p))
		unix.Close(c.fd)
	case 0x1:
		if !c.joined {
			c.joined = string(p) == `{"id":1,"ok":true}`
			if !c.joined {
				c.fail(fmt.Sprintf("join answered %s", p))
			}
			return
		}
		var m struct {
			Channel string
			Content struct {
				P string
				I int
			}
		}
		switch err := json.Unmarshal(p, &m); {
		case err != nil || m.Channel != c.channel || m.Content.P != "post":
			c.fail(fmt.Sprintf("unexpected message %s", p))
		case m.Content.I != c.next:
			c.fail(fmt.Sprintf("%s: got %d, want %d", c.channel, m.Content.I, c.next))
		}
		c.next = m.Content.I + 1
	}
}

func (c *fleetConn) fail(msg string) {
	if c.err == "" {
		c.err = msg
	}
}

func (f *fleet) all(cond func(*fleetConn) bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		if !cond(c) {
			return false
		}
	}
	return true
}

func (f *fleet) report(counts map[string]int) fleetReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := fleetReport{Conns: len(f.conns)}
	for _, c := range f.conns {
		switch {
		case c.closed:
			r.Closed++
		case c.err == "" && c.next == counts[c.channel]:
			r.OK++
		}
		if c.err != "" && len(r.Errors) < 5 {
			r.Errors = append(r.Errors, c.err)
		} else if c.err == "" && !c.closed && c.next != counts[c.channel] && len(r.Errors) < 5 {
			r.Errors = append(r.Errors, fmt.Sprintf("%s: got %d of %d", c.channel, c.next, counts[c.channel]))
		}
	}
	return r
}
