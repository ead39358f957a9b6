#!/bin/sh
# examples/kv/kv-cluster.sh: a local craft-kv cluster on 127.0.0.1.
#
#   kv-cluster.sh start    fresh data directories under $KV_DIR, N
#                          processes, wait for a leader, print how to
#                          connect
#   kv-cluster.sh stop     stop them by the pids in $KV_DIR/n*.pid
#   kv-cluster.sh status   the role of each
#
# Sourced with KV_LIB=1 it only defines the functions (the tests, the
# demo and the benchmark use them).
#
# Environment: KV_BIN (the craft-kv program), KV_DIR (state, logs,
# pids), KV_NODES (3), KV_PORT (base port, 6380: node i serves RESP on
# KV_PORT+i, Raft on KV_PORT+1000+i, metrics on KV_PORT+3000+i),
# KV_ARGS (more craft-kv options for every node).

KV_BIN=${KV_BIN:-build/craft-kv}
KV_DIR=${KV_DIR:-build/kv-cluster}
KV_NODES=${KV_NODES:-3}
KV_PORT=${KV_PORT:-6380}
KV_ARGS=${KV_ARGS:-}
REDIS_CLI=${REDIS_CLI:-redis-cli}

kv_resp_port() { echo $((KV_PORT + $1)); }
kv_raft_port() { echo $((KV_PORT + 1000 + $1)); }
kv_metrics_port() { echo $((KV_PORT + 3000 + $1)); }

kv_cli() { # node args...
    _n=$1
    shift
    $REDIS_CLI -h 127.0.0.1 -p "$(kv_resp_port "$_n")" "$@"
}

kv_bootstrap_spec() {
    _s=
    _i=1
    while [ "$_i" -le "$KV_NODES" ]; do
        _s="$_s${_s:+,}$_i=127.0.0.1:$(kv_raft_port $_i)"
        _i=$((_i + 1))
    done
    echo "$_s"
}

# kv_start_node i [extra args]: starts node i (bootstrap spec on a fresh
# directory is ignored on restart by craft-kv itself).
kv_start_node() {
    _i=$1
    shift
    mkdir -p "$KV_DIR"
    # In a subshell: the server is no job of this shell (no "Killed"
    # notices when a test kills it).
    # shellcheck disable=SC2086
    (
        "$KV_BIN" --id "$_i" --data-dir "$KV_DIR/n$_i" \
            --raft "127.0.0.1:$(kv_raft_port "$_i")" \
            --resp "127.0.0.1:$(kv_resp_port "$_i")" \
            --metrics "127.0.0.1:$(kv_metrics_port "$_i")" \
            $KV_ARGS "$@" >>"$KV_DIR/n$_i.log" 2>&1 &
        echo $! >"$KV_DIR/n$_i.pid"
    )
}

kv_pid() { cat "$KV_DIR/n$1.pid" 2>/dev/null; }

# kv_kill_node i [signal]: stops node i (default SIGTERM) and waits.
kv_kill_node() {
    _p=$(kv_pid "$1")
    [ -n "$_p" ] || return 0
    kill "-${2:-TERM}" "$_p" 2>/dev/null
    _t=0
    while kill -0 "$_p" 2>/dev/null && [ $_t -lt 100 ]; do
        sleep 0.1
        _t=$((_t + 1))
    done
    kill -KILL "$_p" 2>/dev/null
    rm -f "$KV_DIR/n$1.pid"
}

kv_info_field() { # node field
    kv_cli "$1" INFO 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"
}

# kv_wait_leader [timeout_s] [node...]: prints the leader's id once every
# listed node (default: all) knows the same leader. Fails at once when a
# node's port is answered by another process than the one started here
# (another cluster on the same ports: its answers would be taken for
# ours).
kv_wait_leader() {
    _to=${1:-30}
    shift 2>/dev/null
    _nodes=${*:-$(seq 1 "$KV_NODES")}
    _end=$(($(date +%s) + _to))
    while [ "$(date +%s)" -le "$_end" ]; do
        _l=
        _ok=1
        for _n in $_nodes; do
            _info=$(kv_cli "$_n" INFO 2>/dev/null | tr -d '\r')
            _x=$(echo "$_info" | sed -n 's/^leader://p')
            _pa=$(echo "$_info" | sed -n 's/^process_id://p')
            _pm=$(kv_pid "$_n")
            if [ -n "$_pa" ] && [ -n "$_pm" ] && [ "$_pa" != "$_pm" ]; then
                echo "kv-cluster: port $(kv_resp_port "$_n") of node $_n is answered by pid $_pa, not by the node started here (pid $_pm): another cluster on these ports? (KV_PORT)" >&2
                return 1
            fi
            if [ -z "$_x" ] || [ "$_x" = 0 ]; then
                _ok=0
                break
            fi
            if [ -n "$_l" ] && [ "$_l" != "$_x" ]; then
                _ok=0
                break
            fi
            _l=$_x
        done
        if [ $_ok = 1 ] && [ -n "$_l" ] &&
            [ -n "$(kv_cli "$_l" RAFT.LEADER 2>/dev/null | sed -n 2p)" ]; then
            echo "$_l"
            return 0
        fi
        sleep 0.2
    done
    return 1
}

kv_start_cluster() {
    kv_stop_cluster
    rm -rf "$KV_DIR"
    mkdir -p "$KV_DIR"
    _spec=$(kv_bootstrap_spec)
    _i=1
    while [ "$_i" -le "$KV_NODES" ]; do
        kv_start_node "$_i" --bootstrap "$_spec"
        _i=$((_i + 1))
    done
    kv_wait_leader 30 >/dev/null
}

kv_stop_cluster() {
    for _f in "$KV_DIR"/n*.pid; do
        [ -f "$_f" ] || continue
        _i=$(basename "$_f" .pid | sed 's/^n//')
        kv_kill_node "$_i"
    done
}

if [ "${KV_LIB:-0}" = 1 ]; then
    return 0 2>/dev/null || exit 0
fi

case "${1:-}" in
start)
    if ! command -v "$REDIS_CLI" >/dev/null 2>&1; then
        echo "kv-cluster: $REDIS_CLI not found (make deps installs redis-tools)" >&2
        exit 1
    fi
    kv_start_cluster
    l=$(kv_wait_leader 30) || {
        echo "kv-cluster: no leader within 30 s; logs in $KV_DIR/n*.log" >&2
        exit 1
    }
    echo "kv-cluster: $KV_NODES craft-kv processes, data in $KV_DIR, leader: node $l"
    i=1
    while [ "$i" -le "$KV_NODES" ]; do
        echo "  node $i: pid $(kv_pid $i), redis-cli -p $(kv_resp_port $i)," \
            "raft 127.0.0.1:$(kv_raft_port $i)," \
            "metrics http://127.0.0.1:$(kv_metrics_port $i)/metrics"
        i=$((i + 1))
    done
    echo "try:  redis-cli -p $(kv_resp_port 1) SET greeting hello"
    echo "      redis-cli -p $(kv_resp_port 2) GET greeting"
    echo "      redis-cli -p $(kv_resp_port 3) INFO raft"
    echo "stop: make kv-cluster-stop"
    ;;
stop)
    kv_stop_cluster
    echo "kv-cluster: stopped"
    ;;
status)
    i=1
    while [ "$i" -le "$KV_NODES" ]; do
        echo "node $i: pid $(kv_pid $i) role $(kv_info_field $i role) leader $(kv_info_field $i leader)"
        i=$((i + 1))
    done
    ;;
*)
    echo "usage: kv-cluster.sh start|stop|status" >&2
    exit 2
    ;;
esac
