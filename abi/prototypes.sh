#!/bin/sh
# abi/prototypes.sh: prints every CRAFT_API declaration of the public
# headers, one per line, whitespace normalised, sorted. `make abi-dump`
# stores it as abi/libcraft.prototypes; abi/check-abi.sh compares.
#
# Why beside the libabigail baseline: abidiff 2.2, comparing an abidw XML
# corpus with a library, misses a changed parameter type (int -> long) that
# it reports between two libraries. The text of the prototypes cannot
# miss it.
set -eu
dir=${1:-include}
cat "$dir/craft.h" "$dir"/craft/*.h |
    awk '/^[[:space:]]*CRAFT_API / { acc = ""; on = 1 }
         on { acc = acc " " $0 }
         on && /;/ { print acc; on = 0 }' |
    sed -e 's/[[:space:]]\{1,\}/ /g' -e 's/^ //' -e 's/ ;/;/' \
        -e 's/( /(/g' -e 's/ )/)/g' |
    LC_ALL=C sort
