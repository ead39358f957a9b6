#!/bin/sh
# abi/check-abi.sh: compares a built libcraft.so with the libabigail
# baseline. New functions pass; any change to what the baseline has (a
# removed symbol, a changed signature, a changed public type) fails.
# Accepted without a new baseline (abi/libcraft.suppr): changes to the
# structs behind opaque handles (not ABI), and a versioned struct grown at
# its end (abi/layout.sh checks that its old members did not move or
# change). Any other reviewed, compatible change is accepted by
# regenerating the baseline with `make abi-dump` in the same commit.
#
# Beside it, BASELINE.prototypes (abi/prototypes.sh) holds the text of
# every public prototype: each must still be there, unchanged (new ones
# are fine). See abi/prototypes.sh for why both are needed.
#
#   sh abi/check-abi.sh BASELINE.abi LIB [INCLUDE_DIR]
set -u

baseline=$1
lib=$2
incdir=${3:-include}
here=$(dirname "$0")
protos=${baseline%.abi}.prototypes

if [ ! -f "$baseline" ]; then
    echo "abi-check: no baseline $baseline yet; make one with 'make abi-dump'"
    exit 1
fi

suppr=$here/libcraft.suppr
abidiff --headers-dir2 include --no-added-syms --suppressions "$suppr" \
    "$baseline" "$lib"
rc=$?
# abidiff's status is a bit field: 1 error, 2 usage error, 4 ABI change,
# 8 incompatible ABI change.
if [ $((rc & 3)) -ne 0 ]; then
    echo "abi-check: abidiff failed (status $rc)"
    exit 1
fi
if [ $((rc & 8)) -ne 0 ]; then
    echo "abi-check: INCOMPATIBLE change against $baseline"
    exit 1
fi
# libabigail calls a changed signature only "a change" (4); for a C
# library every change to an existing symbol is a break.
if [ $((rc & 4)) -ne 0 ]; then
    echo "abi-check: the ABI changed against $baseline (see above)"
    exit 1
fi
# The versioned structs' members, which the suppressions let grow at the
# end: every member of the baseline keeps its offset and type.
now=$(mktemp)
if ! abidw --headers-dir "$incdir" --no-corpus-path --out-file "$now" \
        "$lib"; then
    rm -f "$now"
    echo "abi-check: abidw failed on $lib"
    exit 1
fi
gone=$(LC_ALL=C comm -23 "$(sh "$here/layout.sh" "$baseline" >"$now.base" &&
                            echo "$now.base")" \
                         "$(sh "$here/layout.sh" "$now" >"$now.cur" &&
                            echo "$now.cur")")
rm -f "$now" "$now.base" "$now.cur"
if [ -n "$gone" ]; then
    echo "abi-check: public struct members moved or changed against $baseline:"
    echo "$gone"
    exit 1
fi
if [ -f "$protos" ]; then
    now=$(mktemp)
    sh "$here/prototypes.sh" "$incdir" >"$now"
    # Lines of the baseline that the current headers lack.
    gone=$(LC_ALL=C comm -23 "$protos" "$now")
    rm -f "$now"
    if [ -n "$gone" ]; then
        echo "abi-check: public prototypes removed or changed against $protos:"
        echo "$gone"
        exit 1
    fi
fi
echo "abi-check: $lib is compatible with $baseline"
