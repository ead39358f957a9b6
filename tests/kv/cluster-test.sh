#!/usr/bin/env bash
# tests/kv/cluster-test.sh: craft-kv as users run it: 3 processes on
# 127.0.0.1 over TCP with the file storage, driven with redis-cli.
#
#  1. SET/GET/INCR/MGET/DEL on the leader and on followers (forwarded
#     writes, ReadIndex reads on every node)
#  2. a pipeline of 1,000 commands (redis-cli --pipe)
#  3. a malformed request and an oversized bulk string: -ERR, then the
#     connection is closed; the server keeps serving
#  4. SIGKILL of the leader during writes: every acknowledged write is
#     readable afterwards from every node; the old leader restarts from
#     its data directory (snapshot + log) and catches up
#  5. membership: a fourth node joins (--join, RAFT.ADD), one is removed
#     (RAFT.REMOVE), leadership is transferred (RAFT.TRANSFER); the data
#     stays intact
#
# Prints "kv-cluster: N passed, N failed" last; exit status 0 when all
# passed. KV_BIN, KV_DIR, KV_PORT (default 16380) as kv-cluster.sh.
set -u

cd "$(dirname "$0")/../.."
export KV_BIN=${KV_BIN:-build/craft-kv}
export KV_DIR=${KV_DIR:-build/kv/cluster-test}
export KV_PORT=${KV_PORT:-16380}
export KV_NODES=3
KV_LIB=1 . examples/kv/kv-cluster.sh

passed=0
failed=0
ok() {
    passed=$((passed + 1))
    echo "  ok   $*"
}
fail() {
    failed=$((failed + 1))
    echo "  FAIL $*"
}
check() { # description expected actual
    if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected '$2', got '$3'"; fi
}
finish() {
    KV_NODES=4 kv_stop_cluster
    # Built with a sanitizer (make asan-kv / tsan-kv): any report fails.
    if grep -l 'Sanitizer' "$KV_DIR"/n*.log >/dev/null 2>&1; then
        fail "sanitizer reports in $(grep -l 'Sanitizer' "$KV_DIR"/n*.log | tr '\n' ' ')"
        grep -h -A30 'Sanitizer' "$KV_DIR"/n*.log | head -80
    fi
    echo "kv-cluster: $passed passed, $failed failed"
    if [ $failed -ne 0 ]; then
        for f in "$KV_DIR"/n*.log; do
            echo "---- $f (last 15 lines)"
            tail -n 15 "$f"
        done
        exit 1
    fi
    exit 0
}

if ! command -v redis-cli >/dev/null 2>&1; then
    echo "kv-cluster-test: redis-cli missing (make deps installs redis-tools)"
    fail "redis-cli present"
    finish
fi

# 1. Start; basic commands through every node.
kv_start_cluster
leader=$(kv_wait_leader 30) || { fail "a leader within 30 s"; finish; }
ok "3 processes, leader $leader"
f1=$((leader % 3 + 1))
f2=$((f1 % 3 + 1))
check "SET on the leader" OK "$(kv_cli "$leader" SET a 1)"
check "SET on a follower (forwarded)" OK "$(kv_cli "$f1" SET b 2)"
check "GET of the follower's write on the other follower" 2 "$(kv_cli "$f2" GET b)"
check "INCR on a follower" 2 "$(kv_cli "$f2" INCR a)"
check "INCRBY on the leader" 12 "$(kv_cli "$leader" INCRBY a 10)"
check "INCR on a non-integer" "ERR value is not an integer or out of range" \
    "$(kv_cli "$f1" SET s x >/dev/null; kv_cli "$f1" INCR s)"
check "MGET" "$(printf '12\n2\n')" "$(kv_cli "$f1" MGET a b nokey | head -2)"
check "SET NX on an existing key" "" "$(kv_cli "$f2" SET a 5 NX)"
check "DEL" 1 "$(kv_cli "$f1" DEL s)"
check "EXISTS" 2 "$(kv_cli "$f2" EXISTS a b s)"
check "unknown command" "ERR unknown command 'NOPE'" "$(kv_cli "$f2" NOPE)"

# 2. A pipeline of 1,000 commands.
for i in $(seq 1 1000); do
    printf '*3\r\n$3\r\nSET\r\n$%d\r\np%d\r\n$%d\r\n%d\r\n' \
        $((${#i} + 1)) "$i" ${#i} "$i"
done >"$KV_DIR/pipe.txt"
out=$(kv_cli "$f1" --pipe <"$KV_DIR/pipe.txt" 2>&1 | tail -1)
check "pipeline of 1,000 SETs through a follower" "errors: 0, replies: 1000" "$out"
check "the pipeline's last write on the leader" 1000 "$(kv_cli "$leader" GET p1000)"
check "DBSIZE" 1002 "$(kv_cli "$f2" DBSIZE)"
# An expired key is not counted (it stays in the table until a write
# meets it).
check "SET with PX" OK "$(kv_cli "$leader" SET shortlived x PX 3000)"
check "DBSIZE with the key" 1003 "$(kv_cli "$leader" DBSIZE)"
sleep 3.5
check "DBSIZE once it expired" 1002 "$(kv_cli "$leader" DBSIZE)"
check "DBSIZE once it expired, on a follower" 1002 "$(kv_cli "$f2" DBSIZE)"

# 3. Malformed and oversized requests: an error, then the connection is
# closed by the server (cat ends).
raw() { # node bytes -> what the server answers before closing
    exec 3<>"/dev/tcp/127.0.0.1/$(kv_resp_port "$1")"
    printf '%b' "$2" >&3
    timeout 10 cat <&3 | tr -d '\r'
    exec 3<&-
}
check "malformed request" "-ERR Protocol error: invalid bulk length" \
    "$(raw "$f1" '*1\r\n$abc\r\n')"
check "oversized bulk string" "-ERR Protocol error: invalid bulk length" \
    "$(raw "$leader" '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$999999999\r\n')"
check "replies before a malformed request are kept" "$(printf '+PONG\n-ERR Protocol error: expected '"'"'$'"'"'')" \
    "$(raw "$f2" '*1\r\n$4\r\nPING\r\n*1\r\n:1\r\n')"
check "still serving after bad requests" PONG "$(kv_cli "$f1" PING)"

# 4. SIGKILL the leader during writes (through a follower that stays).
check "RAFT.SNAPSHOT on the leader" 1 \
    "$(kv_cli "$leader" RAFT.SNAPSHOT | grep -c '^[0-9][0-9]*$')"
seq 1 3000 | sed 's/.*/SET w& &/' >"$KV_DIR/writes.txt"
# (redis-cli prints an empty line after each error reply: dropped.)
kv_cli "$f1" <"$KV_DIR/writes.txt" 2>&1 | grep -v '^$' >"$KV_DIR/acks.txt" &
writer=$!
sleep 1
kv_kill_node "$leader" KILL
wait $writer
acked=$(grep -c '^OK$' "$KV_DIR/acks.txt")
lines=$(wc -l <"$KV_DIR/acks.txt")
check "one reply per write" 3000 "$lines"
if [ "$acked" -gt 100 ]; then ok "$acked of 3000 writes acknowledged"; else fail "only $acked writes acknowledged"; fi
new=$(kv_wait_leader 30 "$f1" "$f2") || fail "a new leader within 30 s"
if [ -n "$new" ] && [ "$new" != "$leader" ]; then ok "new leader $new"; else fail "new leader ($new)"; fi
# Every acknowledged write, from both live nodes.
awk '$0 == "OK" { print "GET w" NR }' "$KV_DIR/acks.txt" >"$KV_DIR/reads.txt"
awk '$0 == "OK" { print NR }' "$KV_DIR/acks.txt" >"$KV_DIR/expect.txt"
for n in "$f1" "$f2"; do
    kv_cli "$n" <"$KV_DIR/reads.txt" >"$KV_DIR/got$n.txt"
    if cmp -s "$KV_DIR/expect.txt" "$KV_DIR/got$n.txt"; then
        ok "every acknowledged write readable on node $n"
    else
        fail "acknowledged writes lost on node $n"
    fi
done
# The old leader restarts from disk and catches up.
kv_start_node "$leader"
kv_wait_leader 30 >/dev/null || fail "the restarted node sees the leader"
commit=$(kv_info_field "$new" commit_index)
t=0
while [ "$(kv_info_field "$leader" applied_index)" -lt "$commit" ] 2>/dev/null && [ $t -lt 150 ]; do
    sleep 0.2
    t=$((t + 1))
done
applied=$(kv_info_field "$leader" applied_index)
if [ -n "$applied" ] && [ "$applied" -ge "$commit" ]; then ok "restarted node caught up (applied $applied >= $commit)"; else fail "restarted node at $applied, commit $commit"; fi
kv_cli "$leader" <"$KV_DIR/reads.txt" >"$KV_DIR/gotr.txt"
if cmp -s "$KV_DIR/expect.txt" "$KV_DIR/gotr.txt"; then ok "every acknowledged write readable on the restarted node"; else fail "restarted node misses writes"; fi

# 5. Membership: node 4 joins through a follower, node $f2 leaves,
# leadership moves to node 4.
kv_start_node 4 --join "127.0.0.1:$(kv_resp_port "$f1")"
t=0
while [ "$(kv_info_field "$new" members)" != 4 ] && [ $t -lt 150 ]; do
    sleep 0.2
    t=$((t + 1))
done
check "node 4 joined" 4 "$(kv_info_field "$new" members)"
check "node 4 reads the data" 1000 "$(kv_cli 4 GET p1000)"
check "write through node 4" OK "$(kv_cli 4 SET joined yes)"
cur=$(kv_wait_leader 30 4 "$f1")
rm_node=$f2
[ "$rm_node" = "$cur" ] && rm_node=$leader
check "RAFT.REMOVE $rm_node" OK "$(kv_cli 4 RAFT.REMOVE "$rm_node")"
check "members after the removal" 3 "$(kv_info_field 4 members)"
kv_kill_node "$rm_node"
check "RAFT.TRANSFER 4" OK "$(kv_cli "$f1" RAFT.TRANSFER 4)"
check "node 4 leads" 4 "$(kv_wait_leader 30 4)"
check "data intact after the changes" "$(printf '12\n2\n1000\nyes')" \
    "$(kv_cli "$f1" MGET a b p1000 joined)"
finish
