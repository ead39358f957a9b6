#!/bin/sh
# tests/lincheck/run.sh: craft-lincheck on histories whose verdict is
# known, and against the simulator's own checker.
#
#   sh tests/lincheck/run.sh BUILD [BUGS_BUILD]
#
# tests/lincheck/ok-*.hist must be linearizable (exit 0), bad-*.hist not
# (exit 1), err-*.hist malformed (exit 2). Then craft-sim writes the
# histories of a few seeds (--history) and craft-lincheck must agree with
# the verdict the simulator reached; with BUGS_BUILD, a planted stale-read
# bug's history must be found not linearizable by both.
set -u
build=$1
bugs=${2:-}
tool=$build/craft-lincheck
dir=$(dirname "$0")
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
failed=0
passed=0

expect() { # want file
    "$tool" --quiet "$2" >"$tmp/out" 2>&1
    rc=$?
    if [ "$rc" -ne "$1" ]; then
        echo "lincheck: $2: exit $rc, want $1"
        cat "$tmp/out"
        failed=$((failed + 1))
    else
        passed=$((passed + 1))
    fi
}

for f in "$dir"/ok-*.hist; do expect 0 "$f"; done
for f in "$dir"/bad-*.hist; do expect 1 "$f"; done
for f in "$dir"/err-*.hist; do expect 2 "$f"; done
expect 2 "$tmp/does-not-exist"
printf 'invoke a put x 1\nok a\ninvoke a get x\nok a 1\n' | "$tool" --quiet - ||
    { echo "lincheck: stdin not read"; failed=$((failed + 1)); }

# The simulator's histories: linearizable runs.
for seed in 1 2 3; do
    "$build/craft-sim" --seed $seed --steps 100000 --quiet \
        --history "$tmp/sim.hist" >/dev/null || {
        echo "lincheck: craft-sim seed $seed failed"; failed=$((failed + 1)); }
    expect 0 "$tmp/sim.hist"
done

# A planted bug (reads answered without ReadIndex), its read check
# skipped so the run ends with the history checked: the simulator finds
# it not linearizable, and so must craft-lincheck.
if [ -n "$bugs" ]; then
    out=$("$bugs/craft-sim" --bug 2 --profile net --skip 0x800000 --seed 2 \
        --quiet --history "$tmp/bug.hist")
    if echo "$out" | grep -q '^VIOLATION of linearizability'; then
        expect 1 "$tmp/bug.hist"
    else
        echo "lincheck: planted bug 2 not found by craft-sim: $out"
        failed=$((failed + 1))
    fi
fi

echo "lincheck: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
