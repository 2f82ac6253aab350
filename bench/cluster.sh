#!/usr/bin/env bash
# cluster.sh: K wsify nodes on one port (SO_REUSEPORT) linked by a Redis
# broker hold CONNS joined idle connections between them, then a broadcast
# fans out to all of them. It prints the memory per connection (sum of the
# nodes' RSS growth over the connections they hold), the kernel's memory
# per connection (TCP buffers from /proc/net/sockstat and the socket slabs
# from /proc/slabinfo, both ends of each loopback connection), the CPU the
# nodes and Redis used over the run, and the delivery latency wsbench
# measured (p50/p99/max), and writes them to bench/out/cluster.json.
#
#   bench/cluster.sh                  # 8 nodes, 100,000 connections
#   NODES=4 CONNS=20000 bench/cluster.sh
#   BROKER=redis-cluster NODES=4 CONNS=20000 bench/cluster.sh   # or BROKER=nats
#   LOG_LEVEL=debug NODES=64 CONNS=1000000 MSGS=1 DRAIN=60s bench/cluster.sh
#
# Loopback only; every step is bounded and everything it starts is stopped
# on exit. Needs redis-server and redis-cli (make deps).
set -euo pipefail
cd "$(dirname "$0")/.."

NODES=${NODES:-8}
BROKER=${BROKER:-redis} # redis, redis-cluster or nats
CONNS=${CONNS:-100000}
MSGS=${MSGS:-5}
DRAIN=${DRAIN:-5s} # longest wait for the deliveries of the last publication
LOG_LEVEL=${LOG_LEVEL:-info} # the nodes'; debug logs every connection that ends badly
OUT=${OUT:-bench/out}
mkdir -p "$OUT"
tmp=$(mktemp -d)
pids=()
cleanup() {
	# Keep what the nodes said: a run that loses connections is read from these.
	mkdir -p "$OUT/cluster-logs" && cp "$tmp"/node*.log "$OUT/cluster-logs/" 2>/dev/null || true
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# cpu_ticks PID...: user+system CPU of the processes, in clock ticks.
cpu_ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }
# tcp_mem_kib: the kernel's TCP buffer memory (/proc/net/sockstat, in pages).
tcp_mem_kib() { awk -v pg="$(getconf PAGESIZE)" '/^TCP:/ {for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1) * pg / 1024}' /proc/net/sockstat; }
# slab_kib: the slab caches a TCP socket and its fd take (objects x size).
slab_kib() {
	awk '$1 ~ /^(TCP|request_sock_TCP|sock_inode_cache|filp|eventpoll_epi|eventpoll_pwq|tcp_bind_bucket|dentry)$/ {t += $3 * $4} END {printf "%d", t / 1024}' /proc/slabinfo 2>/dev/null || echo 0
}
sum_rss() { local t=0; for p in "${nodes[@]}"; do t=$((t + $(rss_kib "$p"))); done; echo $t; }
sum_fds() { local t=0; for p in "${nodes[@]}"; do t=$((t + $(ls "/proc/$p/fd" | wc -l))); done; echo $t; }
wait_for() { # wait_for SECONDS CMD...: poll until CMD succeeds
	local deadline=$((SECONDS + $1)); shift
	until "$@"; do
		[ $SECONDS -lt $deadline ] || { echo "cluster: timed out: $*" >&2; exit 1; }
		sleep 0.2
	done
}

command -v redis-server >/dev/null || { echo "cluster: redis-server missing: run make deps" >&2; exit 1; }
go build -o "$tmp/wsify" ./cmd/wsify
go build -o "$tmp/wsbench" ./bench/cmd/wsbench

# start_broker: run BROKER's server(s); sets broker_url and broker_pids.
broker_pids=()
start_broker() {
	case $BROKER in
	redis)
		local p; p=$(free_port)
		redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no >"$tmp/redis.log" 2>&1 &
		pids+=($!) broker_pids+=($!)
		wait_for 10 redis-cli -p "$p" ping >/dev/null 2>&1
		broker_url=redis://127.0.0.1:$p ;;
	redis-cluster) # 3 masters, no replicas: sharded pub/sub over every shard
		local addrs=() p
		for i in 1 2 3; do
			p=$(free_port); mkdir -p "$tmp/rc$i"
			(cd "$tmp/rc$i" && exec redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no \
				--cluster-enabled yes --cluster-config-file nodes.conf >"$tmp/rc$i/log" 2>&1) &
			pids+=($!) broker_pids+=($!)
			wait_for 10 redis-cli -p "$p" ping >/dev/null 2>&1
			addrs+=("127.0.0.1:$p")
		done
		redis-cli --cluster create "${addrs[@]}" --cluster-yes >"$tmp/rc-create.log" 2>&1
		wait_for 30 sh -c "redis-cli -p $p cluster info | grep -q cluster_state:ok"
		broker_url=redis-cluster://$(IFS=,; echo "${addrs[*]}") ;;
	nats)
		go build -o "$tmp/nats-server" github.com/nats-io/nats-server/v2
		local p; p=$(free_port)
		"$tmp/nats-server" -a 127.0.0.1 -p "$p" >"$tmp/nats.log" 2>&1 &
		pids+=($!) broker_pids+=($!)
		wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null
		broker_url=nats://127.0.0.1:$p ;;
	*) echo "cluster: BROKER=$BROKER: want redis, redis-cluster or nats" >&2; exit 1 ;;
	esac
}
start_broker

port=$(free_port)
nodes=()
for i in $(seq 1 "$NODES"); do
	WSIFY_LISTEN_ADDR=127.0.0.1:$port WSIFY_REUSE_PORT=true WSIFY_LOG_LEVEL=$LOG_LEVEL \
		WSIFY_BROKER=$BROKER WSIFY_BROKER_URL=$broker_url \
		WSIFY_PING_INTERVAL=0 \
		"$tmp/wsify" 2>"$tmp/node$i.log" &
	pids+=($!)
	nodes+=($!)
	wait_for 20 grep -q "wsify listening" "$tmp/node$i.log"
done
wait_for 20 curl -sf "http://127.0.0.1:$port/healthz" -o /dev/null
sleep 2 # let the runtimes settle before the baseline
rss0=$(sum_rss)
fds0=$(sum_fds) # each connection costs its node exactly one fd
tcpmem0=$(tcp_mem_kib); slab0=$(slab_kib)
node_cpu0=$(cpu_ticks "${nodes[@]}"); broker_cpu0=$(cpu_ticks "${broker_pids[@]}")
echo "cluster: $NODES nodes on 127.0.0.1:$port, $BROKER at $broker_url, baseline RSS $((rss0 / 1024)) MiB"

# Sample the nodes while wsbench holds the connections and fans out; keep
# the highest connection count and the RSS at that moment.
sample() {
	local best=0 best_rss=0
	while sleep 1; do
		local c r
		c=$(( $(sum_fds) - fds0 ))
		r=$(sum_rss)
		if [ "$c" -ge "$best" ]; then best=$c best_rss=$r best_tcp=$(tcp_mem_kib) best_slab=$(slab_kib); fi
		echo "$best $best_rss ${best_tcp:-0} ${best_slab:-0}" >"$tmp/peak"
	done
}
echo "0 0 0 0" >"$tmp/peak"
sample &
pids+=($!)

"$tmp/wsbench" -addr "127.0.0.1:$port" -pid "${nodes[0]}" \
	-conns "$CONNS" -msgs "$MSGS" -rate 1 -drain "$DRAIN" -out "$OUT" -name cluster-fanout fanout | tee "$tmp/fanout.txt"

read -r peak peak_rss peak_tcp peak_slab <"$tmp/peak"
alive=0
for p in "${nodes[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
echo "cluster: $alive of $NODES nodes alive after the fan-out; their logs in $OUT/cluster-logs"
hz=$(getconf CLK_TCK)
node_cpu=$(( ($(cpu_ticks "${nodes[@]}") - node_cpu0) * 1000 / hz ))
broker_cpu=$(( ($(cpu_ticks "${broker_pids[@]}") - broker_cpu0) * 1000 / hz ))
kernel_per_conn=$(( (peak_tcp - tcpmem0 + peak_slab - slab0) * 1024 / (peak > 0 ? peak : 1) ))
echo "cluster: kernel: TCP buffers $tcpmem0 -> $peak_tcp KiB, socket slabs $slab0 -> $peak_slab KiB: $kernel_per_conn bytes per connection (both ends on this host)"
echo "cluster: CPU over the run: nodes $node_cpu ms, $BROKER $broker_cpu ms"
per_conn=$(( (peak_rss - rss0) * 1024 / (peak > 0 ? peak : 1) ))
latency=$(grep '^{' "$tmp/fanout.txt" | tail -1)
echo "cluster: peak $peak connections over $NODES nodes; RSS $((rss0 / 1024)) -> $((peak_rss / 1024)) MiB: $per_conn bytes per connection"
python3 - "$OUT/cluster.json" "$NODES" "$peak" "$rss0" "$peak_rss" "$per_conn" "$latency" "$kernel_per_conn" "$node_cpu" "$broker_cpu" <<'EOF'
import json, sys
out, nodes, peak, rss0, rss1, per, lat, kper, ncpu, bcpu = sys.argv[1:]
rec = {"nodes": int(nodes), "connections": int(peak), "rss_before_kib": int(rss0),
       "rss_peak_kib": int(rss1), "rss_bytes_per_connection": int(per),
       "kernel_bytes_per_connection": int(kper), "nodes_cpu_ms": int(ncpu), "broker_cpu_ms": int(bcpu)}
try:
    rec["fanout"] = json.loads(lat)
except ValueError:
    rec["fanout"] = None
json.dump(rec, open(out, "w"), indent=1)
print(json.dumps(rec)[:400])
EOF
