#!/bin/sh
# tests/run-checks.sh: runs Check test programs and sums their results.
#
#   sh tests/run-checks.sh [-l LABEL] [-w WRAPPER] PROGRAM...
#
# Runs every PROGRAM (each a Check runner, see tests/unit/harness.h), with
# WRAPPER in front when given (e.g. valgrind), and parses Check's
# "NN%: Checks: C, Failures: F, Errors: E" line. A program that exits
# non-zero without such a line (a crash, a link to a missing symbol) or
# whose wrapper fails it (valgrind's error exit code) counts as one more
# failure. The last line printed is the summary:
#
#   LABEL: N passed, N failed
#
# Exit status: 0 when nothing failed.
set -u

label=tests
wrapper=
while getopts l:w: opt; do
    case $opt in
    l) label=$OPTARG ;;
    w) wrapper=$OPTARG ;;
    *) echo "usage: $0 [-l label] [-w wrapper] program..." >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

# A Check test left with no limit in no-fork mode could hang CI forever.
: "${CK_DEFAULT_TIMEOUT:=30}"
export CK_DEFAULT_TIMEOUT
limit=${CRAFT_TEST_TIMEOUT:-900}

passed=0
failed=0
bad_programs=
log=$(mktemp) || exit 2
trap 'rm -f "$log"' EXIT INT TERM

for prog in "$@"; do
    echo "== $prog${wrapper:+ (under ${wrapper%% *})}"
    # shellcheck disable=SC2086 # the wrapper is a command line
    case $prog in */*) ;; *) prog=./$prog ;; esac
    timeout "$limit" $wrapper "$prog" >"$log" 2>&1
    rc=$?
    cat "$log"
    line=$(grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        c=$(echo "$line" | sed 's/.*Checks: \([0-9]*\).*/\1/')
        f=$(echo "$line" | sed 's/.*Failures: \([0-9]*\).*/\1/')
        e=$(echo "$line" | sed 's/.*Errors: \([0-9]*\).*/\1/')
        passed=$((passed + c - f - e))
        failed=$((failed + f + e))
        if [ "$rc" -ne 0 ] && [ $((f + e)) -eq 0 ]; then
            # All checks passed but the program (or its wrapper) failed.
            failed=$((failed + 1))
            bad_programs="$bad_programs $prog(exit $rc)"
        elif [ "$rc" -ne 0 ]; then
            bad_programs="$bad_programs $prog"
        fi
    else
        failed=$((failed + 1))
        if [ "$rc" -eq 124 ]; then
            bad_programs="$bad_programs $prog(timeout ${limit}s)"
        else
            bad_programs="$bad_programs $prog(exit $rc, no Check summary)"
        fi
    fi
done

if [ -n "$bad_programs" ]; then
    echo "failing programs:$bad_programs"
fi
echo "$label: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
