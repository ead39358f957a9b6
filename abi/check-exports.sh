#!/bin/sh
# abi/check-exports.sh: the exported symbols of the shared library are
# exactly the functions the public headers declare with CRAFT_API.
#
#   sh abi/check-exports.sh LIB SONAME MAPFILE HEADER...
#
# Checks, from `nm -D --defined-only LIB`:
#  - every exported symbol is named craft_*;
#  - every one carries a default symbol version (name@@NODE) whose NODE is
#    a version node of MAPFILE;
#  - nothing more: every export is declared CRAFT_API in a HEADER;
#  - nothing less: every CRAFT_API function of the HEADERs is exported;
#  - the SONAME is SONAME.
set -u

lib=$1
soname=$2
map=$3
shift 3

fail=0
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

# Version nodes defined in the map ("CRAFT_1.0 {", "CRAFT_1.1 {").
sed -n 's/^[[:space:]]*\(CRAFT_[0-9][0-9]*\.[0-9][0-9]*\)[[:space:]]*{.*/\1/p' \
    "$map" | sort -u >"$tmp/nodes"

# Defined dynamic symbols as "name node" (node "-" when unversioned). The
# version nodes themselves show up as absolute (A) symbols: skip them.
nm -D --defined-only "$lib" | awk '$2 != "A" {
    n = index($3, "@@");
    if (n == 0) print $3, "-"; else print substr($3, 1, n - 1), substr($3, n + 2);
}' | sort -u >"$tmp/exports"

while read -r name node; do
    case $name in
    craft_*) ;;
    *) echo "check-exports: exports a non-craft_ symbol: $name"; fail=1 ;;
    esac
    if [ "$node" = "-" ]; then
        echo "check-exports: $name has no default symbol version"
        fail=1
    elif ! grep -qx "$node" "$tmp/nodes"; then
        echo "check-exports: $name is versioned $node, not a node of $map"
        fail=1
    fi
done <"$tmp/exports"
cut -d' ' -f1 "$tmp/exports" | sort -u >"$tmp/exported"

# Functions declared CRAFT_API: on each line that starts with CRAFT_API,
# the first craft_ identifier followed by "(".
grep -h '^[[:space:]]*CRAFT_API[[:space:]]' "$@" \
    | sed -n 's/^[^(]*[^A-Za-z0-9_]\(craft_[A-Za-z0-9_]*\)[[:space:]]*(.*/\1/p' \
    | sort -u >"$tmp/declared"

comm -13 "$tmp/declared" "$tmp/exported" >"$tmp/extra"
comm -23 "$tmp/declared" "$tmp/exported" >"$tmp/missing"
if [ -s "$tmp/extra" ]; then
    echo "check-exports: exported but not declared CRAFT_API in the headers:"
    sed 's/^/    /' "$tmp/extra"
    fail=1
fi
if [ -s "$tmp/missing" ]; then
    echo "check-exports: declared CRAFT_API but not exported by $lib:"
    sed 's/^/    /' "$tmp/missing"
    fail=1
fi

got=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if [ "$got" != "$soname" ]; then
    echo "check-exports: SONAME is '$got', expected '$soname'"
    fail=1
fi

n=$(wc -l <"$tmp/exported" | tr -d ' ')
if [ "$fail" -ne 0 ]; then
    echo "check-exports: FAILED ($lib exports $n symbols)"
    exit 1
fi
echo "exports: $n craft_* symbols, each declared in include/ and versioned" \
    "($(tr '\n' ' ' <"$tmp/nodes" | sed 's/ $//')); SONAME $got"
