package server_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/server"
	"github.com/wsify/wsify/server/servertest"
)

// Measurements of what TLS and compression cost the server, with the
// clients in a child process (this test binary run again) so that the
// server's heap, RSS and CPU are its own:
//
//	go test -run '^$' -bench IdleMemory -benchtime 1x ./server      # memory per connection
//	go test -run '^$' -bench DeliveryCPU -benchtime 5000x ./server  # CPU per delivery

// benchEnv are the child's settings.
const (
	envChild = "WSIFY_BENCH_CHILD" // set: this process is the client side
	envAddr  = "WSIFY_BENCH_ADDR"
	envN     = "WSIFY_BENCH_N"
	envMode  = "WSIFY_BENCH_MODE" // ws, wss, wss-send (each sends 64 KiB once), deflate, stall
	envCert  = "WSIFY_BENCH_CERT" // PEM certificate to trust
)

const benchChannel = "bench"

// TestBenchClientProcess is the child: it holds the clients, says "ready"
// on stdout, counts what they receive and answers "wait N" on stdin with
// "done" once N messages arrived in all. It ends when stdin closes.
func TestBenchClientProcess(t *testing.T) {
	if os.Getenv(envChild) == "" {
		t.Skip("the client side of the benchmarks in this file")
	}
	n, _ := strconv.Atoi(os.Getenv(envN))
	var got atomic.Int64
	conns := make([]io.Closer, 0, n)
	for i := range n {
		c, err := benchDial(t, i)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		conns = append(conns, c)
		if ws, ok := c.(*websocket.Conn); ok {
			go benchRead(ws, &got)
		}
	}
	fmt.Println("ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		want, _ := strconv.ParseInt(strings.TrimPrefix(sc.Text(), "wait "), 10, 64)
		for got.Load() < want {
			time.Sleep(time.Millisecond)
		}
		fmt.Println("done")
	}
	for _, c := range conns {
		c.Close()
	}
	os.Exit(0)
}

func benchDial(t *testing.T, i int) (io.Closer, error) {
	addr, mode := os.Getenv(envAddr), os.Getenv(envMode)
	if mode == "stall" {
		return benchStall(t, addr)
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, EnableCompression: mode == "deflate"}
	scheme := "ws"
	if strings.HasPrefix(mode, "wss") {
		scheme, d.TLSClientConfig = "wss", benchTLS()
	}
	c, _, err := d.Dial(scheme+"://"+addr+"/ws", nil)
	if err != nil {
		return nil, fmt.Errorf("dial %d: %w", i, err)
	}
	c.WriteMessage(websocket.TextMessage, []byte(joinCmd(benchChannel, "j")))
	if _, p, err := c.ReadMessage(); err != nil || string(p) != okReply("j") {
		return nil, fmt.Errorf("join %d: %s %v", i, p, err)
	}
	if mode == "wss-send" { // one 64 KiB message, to a channel nobody joined
		c.WriteMessage(websocket.TextMessage, []byte(broadcastCmd("void", `"`+strings.Repeat("x", 64<<10-60)+`"`)))
	}
	return c, nil
}

// helloBytes is the ClientHello every stalled client sends.
var helloBytes []byte

// benchStall connects, sends a whole ClientHello and stalls.
func benchStall(t *testing.T, addr string) (io.Closer, error) {
	if helloBytes == nil {
		helloBytes = clientHello(t)
	}
	c, err := net.Dial("tcp", addr)
	if err == nil {
		_, err = c.Write(helloBytes)
	}
	return c, err
}

func benchTLS() *tls.Config {
	pem, _ := os.ReadFile(os.Getenv(envCert))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: pool}
}

func benchRead(c *websocket.Conn, got *atomic.Int64) {
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			return
		}
		got.Add(1)
	}
}

// clients is the child process as the parent drives it.
type clients struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func spawnClients(b *testing.B, s *server.Server, n int, mode string) *clients {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchClientProcess$")
	cmd.Env = append(os.Environ(), envChild+"=1", envAddr+"="+s.Addr().String(),
		envN+"="+strconv.Itoa(n), envMode+"="+mode, envCert+"="+servertest.SelfSigned(b).CertFile)
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &clients{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	b.Cleanup(func() { in.Close(); cmd.Wait() })
	c.expect(b, "ready")
	return c
}

func (c *clients) expect(b *testing.B, line string) {
	for c.out.Scan() {
		if c.out.Text() == line {
			return
		}
		if strings.HasPrefix(c.out.Text(), "error") {
			b.Fatal(c.out.Text())
		}
	}
	b.Fatalf("client process ended before %q", line)
}

// wait returns once the clients received total messages in all.
func (c *clients) wait(b *testing.B, total int) {
	fmt.Fprintf(c.in, "wait %d\n", total)
	c.expect(b, "done")
}

// footprint is the server process's live memory: heap and goroutine
// stacks in use after a GC, and its resident set.
func footprint() (heap, rss uint64) {
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			rss = kb << 10
		}
	}
	return m.HeapInuse + m.StackInuse, rss
}

// BenchmarkIdleMemory holds 2,000 idle joined connections (fewer when the
// fd limit is low) and reports what each costs the server. wss-send
// connections each sent one 64 KiB message first: crypto/tls keeps the
// input buffer that message grew.
func BenchmarkIdleMemory(b *testing.B) {
	for _, mode := range []string{"ws", "wss", "wss-send", "stall"} {
		b.Run(mode, func(b *testing.B) {
			n := benchConns(b)
			cfg := server.Config{MaxMessageBytes: 128 << 10, HandshakeTimeout: time.Minute, TLSHandshakes: 64}
			if mode != "ws" {
				c := servertest.SelfSigned(b)
				cfg.TLSCertFile, cfg.TLSKeyFile = c.CertFile, c.KeyFile
			}
			s := start(b, cfg)
			heap0, rss0 := footprint()
			g0 := runtime.NumGoroutine()
			spawnClients(b, s, n, mode)
			if mode == "stall" {
				// one goroutine per waiting handshake; leave some slack for
				// the previous run's goroutines still winding down
				eventually(b, "the handshakes to wait", func() bool { return runtime.NumGoroutine() >= g0+n-50 })
			} else {
				eventually(b, "the connections", func() bool { return s.Stats().Open == int64(n) })
			}
			heap1, rss1 := footprint()
			if p := os.Getenv("WSIFY_BENCH_HEAPPROFILE"); p != "" {
				f, _ := os.Create(p + "-" + mode)
				pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
			b.ReportMetric(float64(heap1-heap0)/float64(n), "heap-B/conn")
			b.ReportMetric(float64(int64(rss1)-int64(rss0))/float64(n), "rss-B/conn")
			b.ReportMetric(float64(runtime.NumGoroutine()-g0)/float64(n), "goroutines/conn")
		})
	}
}

func benchConns(b *testing.B) int {
	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	return min(2000, int(lim.Cur)/2-200)
}

// BenchmarkDeliveryCPU publishes to 200 subscribers and reports the
// server's CPU time (user+system, this process only: the clients run in
// another) per delivery, plain against TLS, and with compression.
func BenchmarkDeliveryCPU(b *testing.B) {
	for _, mode := range []string{"ws", "wss", "deflate"} {
		for _, size := range []int{128, 2048} {
			b.Run(fmt.Sprintf("%s/%dB", mode, size), func(b *testing.B) {
				benchDelivery(b, mode, size)
			})
		}
	}
}

func benchDelivery(b *testing.B, mode string, size int) {
	const subs, window = 200, 50
	cfg := server.Config{Compression: mode == "deflate"}
	if mode == "wss" {
		c := servertest.SelfSigned(b)
		cfg.TLSCertFile, cfg.TLSKeyFile = c.CertFile, c.KeyFile
	}
	s := start(b, cfg)
	cl := spawnClients(b, s, subs, mode)
	content := []byte(compressible(size))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 1; i <= b.N; i++ {
		s.Publish([]byte(benchChannel), content)
		if i%window == 0 || i == b.N {
			cl.wait(b, i*subs) // keep outboxes far from their limit
		}
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*subs), "server-ns/delivery")
	if s.Stats().SlowConsumers != 0 {
		b.Fatal("subscribers were dropped as slow consumers")
	}
}

// cpuTime is this process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
