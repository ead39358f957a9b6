#!/usr/bin/env bash
# examples/kv/kv-demo.sh (make demo): a tour of craft-kv. Three
# craft-kv processes on 127.0.0.1 (Raft over TCP, the file storage with
# fdatasync), a real redis client, the leader killed with SIGKILL, the
# failover, the old leader restarted from its data directory catching
# up, the rates, then everything stopped.
set -u
cd "$(dirname "$0")/../.."
export KV_BIN=${KV_BIN:-build/craft-kv}
export KV_DIR=${KV_DIR:-build/kv-demo}
export KV_PORT=${KV_PORT:-20380}
export KV_NODES=3
KV_LIB=1 . examples/kv/kv-cluster.sh
trap kv_stop_cluster EXIT

say() { printf '\n== %s\n' "$*"; }
run() { # shows the command, then runs it
    echo "\$ $*"
    "$@"
}
cli() { # node args: shown as the user would type it
    echo "\$ redis-cli -p $(kv_resp_port "$1") $(printf '%q ' "${@:2}")"
    kv_cli "$@"
}

say "1. Start 3 craft-kv processes (data in $KV_DIR)"
kv_start_cluster
leader=$(kv_wait_leader 30) || { echo "no leader: see $KV_DIR/n*.log"; exit 1; }
for i in 1 2 3; do
    echo "node $i: pid $(kv_pid $i), RESP 127.0.0.1:$(kv_resp_port $i), Raft 127.0.0.1:$(kv_raft_port $i)"
done
echo "leader: node $leader"
f1=$((leader % 3 + 1))
f2=$((f1 % 3 + 1))

say "2. Write and read with redis-cli, through any node"
cli "$leader" SET greeting "hello from the leader"
cli "$f1" SET counter 41
cli "$f2" INCR counter
cli "$f2" GET greeting
cli "$f1" MGET greeting counter
kv_cli "$f1" INFO raft | tr -d '\r' | grep -E '^(id|role|term|leader|leader_resp_addr|commit_index|member)' | sed 's/^/  /'

say "3. 2000 writes through node $f1; SIGKILL the leader (node $leader) in the middle"
seq 1 2000 | sed 's/.*/SET demo:& &/' >"$KV_DIR/writes.txt"
t0=$(date +%s.%N)
kv_cli "$f1" <"$KV_DIR/writes.txt" 2>&1 | grep -v '^$' >"$KV_DIR/acks.txt" &
writer=$!
sleep 0.7
echo "\$ kill -KILL $(kv_pid "$leader")"
kv_kill_node "$leader" KILL
wait $writer
t1=$(date +%s.%N)
acked=$(grep -c '^OK$' "$KV_DIR/acks.txt")
echo "acknowledged: $acked of 2000 in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s; other replies:"
grep -v '^OK$' "$KV_DIR/acks.txt" | sort | uniq -c | sed 's/^/  /'
new=$(kv_wait_leader 30 "$f1" "$f2") || { echo "no new leader"; exit 1; }
echo "new leader: node $new (term $(kv_info_field "$new" term))"

say "4. Every acknowledged write is there, on both live nodes"
awk '$0 == "OK" { print "GET demo:" NR }' "$KV_DIR/acks.txt" >"$KV_DIR/reads.txt"
awk '$0 == "OK" { print NR }' "$KV_DIR/acks.txt" >"$KV_DIR/expect.txt"
for n in "$f1" "$f2"; do
    kv_cli "$n" <"$KV_DIR/reads.txt" >"$KV_DIR/got.txt"
    if cmp -s "$KV_DIR/expect.txt" "$KV_DIR/got.txt"; then
        echo "node $n: all $acked acknowledged writes read back"
    else
        echo "node $n: MISSING WRITES"
        exit 1
    fi
done

say "5. Restart node $leader from its data directory; it catches up"
kv_start_node "$leader"
kv_wait_leader 30 >/dev/null
commit=$(kv_info_field "$new" commit_index)
for _ in $(seq 100); do
    a=$(kv_info_field "$leader" applied_index)
    [ -n "$a" ] && [ "$a" -ge "$commit" ] && break
    sleep 0.1
done
echo "node $leader: role $(kv_info_field "$leader" role), applied $(kv_info_field "$leader" applied_index), leader's commit $commit"
cli "$leader" GET demo:$(awk '$0 == "OK" { n = NR } END { print n }' "$KV_DIR/acks.txt")

say "6. Rates: redis-benchmark against the leader (fsync on every node)"
run redis-benchmark -p "$(kv_resp_port "$new")" -t set,get -d 64 -c 50 -n 20000 -q 2>/dev/null | tr '\r' '\n' | grep 'requests per second'
run redis-benchmark -p "$(kv_resp_port "$new")" -t set -d 64 -c 50 -n 100000 -P 16 -q 2>/dev/null | tr '\r' '\n' | grep 'requests per second'

say "7. Stop"
kv_stop_cluster
echo "stopped. make kv-cluster starts a cluster that stays up; make bench-kv compares with redis-server."
