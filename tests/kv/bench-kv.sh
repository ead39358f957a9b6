#!/usr/bin/env bash
# tests/kv/bench-kv.sh (make bench-kv): craft-kv next to redis, in one
# run, on this machine. A benchmark, never a test: it prints figures and
# ratios and fails only when something does not start.
#
#  1. the raw rate of synchronous 4 KiB writes (dd oflag=dsync: one
#     fdatasync each) in the data directory's file system
#  2. redis-benchmark -t set,get -d 64 -c 50 -P 1 and -P 16 against
#     (a) the leader of a 3-process craft-kv cluster (file storage,
#     fdatasync on every node, snapshots at the runtime's default
#     policy) and (b) one redis-server --appendonly yes --appendfsync
#     always (one copy, no replication)
#  3. closed loop: SET with 1, 16, 64 and 256 clients (-P 1) against
#     both: ops/s, p50, p99, and fsyncs/s on the craft-kv leader
#
# KV_BENCH_N: requests per run (default 200000; the 1-client runs do a
# tenth). KV_PORT (default 26380), KV_DIR, KV_BIN as kv-cluster.sh.
# KV_ARGS: more craft-kv options (e.g. --lease-reads).
set -u
cd "$(dirname "$0")/../.."
export KV_BIN=${KV_BIN:-build/craft-kv}
export KV_DIR=${KV_DIR:-build/kv-bench}
export KV_PORT=${KV_PORT:-26380}
export KV_NODES=3
KV_LIB=1 . examples/kv/kv-cluster.sh
N=${KV_BENCH_N:-200000}
REDIS_PORT=$((KV_PORT + 50))

for t in redis-server redis-benchmark redis-cli; do
    command -v $t >/dev/null || { echo "bench-kv: $t missing (make deps)"; exit 1; }
done

redis_pid=
cleanup() {
    kv_stop_cluster
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
}
trap cleanup EXIT

echo "bench-kv: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load:$(uptime | sed 's/.*load average://')"
echo "bench-kv: $(redis-server --version | cut -d' ' -f1-3)"

# 1. Raw fdatasync rate.
REDIS_DIR=$(cd "$(dirname "$KV_DIR")" 2>/dev/null && pwd)/$(basename "$KV_DIR")-redis
rm -rf "$KV_DIR" "$REDIS_DIR"
mkdir -p "$KV_DIR" "$REDIS_DIR"
dd_out=$(dd if=/dev/zero of="$KV_DIR/dsync.dat" bs=4096 count=2000 oflag=dsync 2>&1 | tail -1)
secs=$(echo "$dd_out" | sed -n 's/.* copied, \([0-9.]*\) s.*/\1/p')
fsync_rate=$(awk -v s="$secs" 'BEGIN { if (s > 0) printf "%.0f", 2000 / s; else print 0 }')
rm -f "$KV_DIR/dsync.dat"
echo "raw synchronous 4 KiB writes (dd oflag=dsync, 2000): $fsync_rate/s"

# 2. The servers.
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --appendonly yes \
    --appendfsync always --save '' --dir "$REDIS_DIR" \
    --logfile "$REDIS_DIR/redis.log" &
redis_pid=$!
kv_start_cluster
leader=$(kv_wait_leader 30) || { echo "bench-kv: no craft-kv leader"; exit 1; }
for t in $(seq 50); do redis-cli -p "$REDIS_PORT" PING >/dev/null 2>&1 && break; sleep 0.1; done
kv_port=$(kv_resp_port "$leader")
echo "craft-kv: 3 processes, leader node $leader (127.0.0.1:$kv_port); redis-server appendfsync always on 127.0.0.1:$REDIS_PORT"

syncs() { # the leader's craft_syncs_total
    exec 4<>"/dev/tcp/127.0.0.1/$(kv_metrics_port "$leader")"
    printf 'GET /metrics HTTP/1.0\r\n\r\n' >&4
    awk '/^craft_syncs_total/ { print $2 }' <&4
    exec 4<&-
}

# rb port args... -> "test rps p50 p99" lines from redis-benchmark --csv
rb() {
    _p=$1
    shift
    redis-benchmark -h 127.0.0.1 -p "$_p" --csv "$@" 2>/dev/null |
        awk -F, 'NR > 1 { gsub(/"/, ""); print $1, $2, $5, $7 }'
}

declare -A R
run_std() { # name port
    for P in 1 16; do
        while read -r t rps p50 p99; do
            R[$1,$t,$P]="$rps $p50 $p99"
        done < <(rb "$2" -t set,get -d 64 -c 50 -n "$N" -P $P)
    done
}
run_std kv "$kv_port"
run_std redis "$REDIS_PORT"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
f() { echo "${R[$1]:-0 0 0}" | cut -d' ' -f"$2"; }

echo
echo "redis-benchmark -t set,get -d 64 -c 50 -n $N (ops/s, p50 ms, p99 ms)"
printf '%-10s %-4s %14s %14s %8s\n' test P craft-kv "redis always" ratio
for t in SET GET; do
    for P in 1 16; do
        printf '%-10s %-4s %8.0f %5s %8.0f %5s %8s\n' "$t" "$P" \
            "$(f kv,$t,$P 1)" "$(f kv,$t,$P 2)" "$(f redis,$t,$P 1)" \
            "$(f redis,$t,$P 2)" "$(ratio "$(f kv,$t,$P 1)" "$(f redis,$t,$P 1)")"
    done
done

echo
echo "closed loop: SET -d 64 -P 1, by clients (ops/s, p50 ms, p99 ms; fsyncs/s on the craft-kv leader)"
printf '%-8s %10s %7s %7s %9s %10s %7s %7s %7s\n' clients craft-kv p50 p99 fsyncs/s redis p50 p99 ratio
for c in 1 16 64 256; do
    n=$N
    [ $c = 1 ] && n=$((N / 10))
    s0=$(syncs)
    t0=$(date +%s.%N)
    read -r _ krps kp50 kp99 < <(rb "$kv_port" -t set -d 64 -c $c -n $n -P 1)
    t1=$(date +%s.%N)
    s1=$(syncs)
    read -r _ rrps rp50 rp99 < <(rb "$REDIS_PORT" -t set -d 64 -c $c -n $n -P 1)
    fps=$(awk -v a="$s0" -v b="$s1" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", (b - a) / (t1 - t0) }')
    printf '%-8s %10.0f %7s %7s %9s %10.0f %7s %7s %7s\n' $c "$krps" "$kp50" "$kp99" "$fps" \
        "$rrps" "$rp50" "$rp99" "$(ratio "$krps" "$rrps")"
done
echo
echo "snapshots taken on the leader: $(kv_info_field "$leader" snapshots_taken), snapshot index $(kv_info_field "$leader" snapshot_index)"
