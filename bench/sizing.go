package bench

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Sizing is how the tool spread its connections, and why.
type Sizing struct {
	FDLimit      uint64   `json:"fd_limit"`           // RLIMIT_NOFILE (soft, raised to hard)
	PerProc      int      `json:"conns_per_proc_max"` // connections one client process may hold
	Procs        int      `json:"procs"`              // client processes started
	PortRange    [2]int   `json:"port_range"`         // ip_local_port_range
	PerSource    int      `json:"ports_per_source"`   // ports the tool uses per source address at most
	Sources      []string `json:"sources"`            // source addresses used
	SourcesInUse []int    `json:"sources_ports_busy"` // their sockets already present (TIME_WAIT included)
	Note         string   `json:"note"`
}

// fdHeadroom is what a client process keeps for itself beside its sockets
// (epoll, pipes, the binary, the runtime).
const fdHeadroom = 256

// raiseFDLimit lifts the soft fd limit to the hard one; children (workers
// and the self-started server) inherit it.
func raiseFDLimit() uint64 {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil {
		return 1024
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	return uint64(lim.Cur) // int64 on FreeBSD
}

// size plans conns client connections (ports: how many ephemeral ports
// the run may use, which for churn exceeds the connections held at once):
// processes from the fd limit, source addresses from the port range and
// the sockets already bound to each address.
func size(conns, ports, procs, minProcs int) (Sizing, error) {
	sz := Sizing{FDLimit: raiseFDLimit()}
	sz.PerProc = int(sz.FDLimit-fdHeadroom) * 3 / 4 // "well under" the limit
	if sz.PerProc < 1 {
		return sz, fmt.Errorf("bench: fd limit %d too low", sz.FDLimit)
	}
	sz.Procs = max(procs, (conns+sz.PerProc-1)/sz.PerProc, minProcs)
	if conns/sz.Procs > sz.PerProc {
		return sz, fmt.Errorf("bench: %d connections over %d processes exceed %d per process (fd limit %d)",
			conns, sz.Procs, sz.PerProc, sz.FDLimit)
	}
	sz.PortRange = portRange()
	// connect() looks for a free port among one parity of the range first
	// and walks all of that half before it takes a port of the other: past
	// half the range per address, every connect costs ~35x more kernel CPU
	// (bench/RESULTS.md, "A million"). So an address gets most of one half.
	sz.PerSource = (sz.PortRange[1] - sz.PortRange[0] + 1) / 2 * 9 / 10
	if err := sz.pickSources(ports); err != nil {
		return sz, err
	}
	sz.Note = fmt.Sprintf("fd limit %d -> at most %d connections per client process -> %d processes; "+
		"%d ephemeral ports, %d used per source address at most -> %d source address(es)",
		sz.FDLimit, sz.PerProc, sz.Procs, sz.PortRange[1]-sz.PortRange[0]+1, sz.PerSource, len(sz.Sources))
	return sz, nil
}

func portRange() [2]int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	f := strings.Fields(string(b))
	if err != nil || len(f) != 2 {
		return [2]int{32768, 60999}
	}
	lo, _ := strconv.Atoi(f[0])
	hi, _ := strconv.Atoi(f[1])
	return [2]int{lo, hi}
}

// pickSources takes the fewest addresses among 127.0.0.2..254 whose free
// ports (PerSource minus the sockets already there, TIME_WAIT from
// earlier runs included) each hold an even share of ports.
func (sz *Sizing) pickSources(ports int) error {
	busy := socketsBySource()
	type cand struct {
		addr string
		busy int
	}
	var cands []cand
	for i := 2; i < 255; i++ {
		a := fmt.Sprintf("127.0.0.%d", i)
		cands = append(cands, cand{a, busy[a]})
	}
	slices.SortStableFunc(cands, func(a, b cand) int { return a.busy - b.busy })
	for k := 1; k <= len(cands); k++ {
		share := (ports + k - 1) / k
		if sz.PerSource-cands[k-1].busy >= share {
			for _, c := range cands[:k] {
				sz.Sources = append(sz.Sources, c.addr)
				sz.SourcesInUse = append(sz.SourcesInUse, c.busy)
			}
			return nil
		}
	}
	return fmt.Errorf("bench: no source addresses left for %d ports", ports)
}

// socketsBySource counts the IPv4 TCP sockets per local address.
func socketsBySource() map[string]int {
	n := make(map[string]int)
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return n
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		hexIP, _, _ := strings.Cut(fields[1], ":")
		v, err := strconv.ParseUint(hexIP, 16, 32)
		if err != nil || len(hexIP) != 8 {
			continue
		}
		// /proc/net/tcp prints the address as a host-order (little-endian) word.
		ip := netip.AddrFrom4([4]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)})
		n[ip.String()]++
	}
	return n
}
