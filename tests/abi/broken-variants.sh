#!/bin/sh
# tests/abi/broken-variants.sh: shows that `make abi-check` is not
# vacuous. It builds two deliberately broken copies of the library in a
# temporary directory and expects abi/check-abi.sh to reject each against
# the committed baseline:
#   1. a removed symbol (craft_version_string renamed away), and
#   2. a changed signature (craft_strerror taking a long).
# A third copy, with a function added, must still pass.
#
#   sh tests/abi/broken-variants.sh [CC]
set -eu

cc=${1:-cc}
top=$(pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/craft-abi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# build NAME [EXTRA_CFLAGS]: a copy of the library sources in $tmp/NAME,
# after the caller edited it through the hook below.
copy() {
    mkdir -p "$tmp/$1"
    cp -R "$top/include" "$top/abi" "$top/pkgconfig" "$top/Makefile" \
        "$top/mk" "$top/src" "$tmp/$1/"
}

# Builds copy NAME into NAME/build (the caller's make variables, such as
# BUILD, must not leak in through MAKEFLAGS) and records its library in
# $lib; a failed build fails the test.
build() {
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
        make -s -C "$tmp/$1" BUILD=build CC="$cc" \
        ${2:+EXTRA_CFLAGS="$2"} all >"$tmp/$1.build.log" 2>&1 || {
        cat "$tmp/$1.build.log"
        echo "abi-broken: building the $1 copy failed"
        exit 1
    }
    lib=$(ls "$tmp/$1"/build/libcraft.so.*.*.*)
}

expect() { # expect pass|fail NAME LIB
    if sh "$top/abi/check-abi.sh" "$top/abi/libcraft.abi" "$3" \
        "$tmp/$2/include" \
        >"$tmp/$2.log" 2>&1; then got=pass; else got=fail; fi
    if [ "$got" != "$1" ]; then
        cat "$tmp/$2.log"
        echo "abi-broken: $2: abi-check should $1 but did not"
        exit 1
    fi
    echo "abi-broken: $2: abi-check ${1}ed as it should"
}

copy removed
build removed -Dcraft_version_string=craft_version_string_gone
expect fail removed "$lib"

copy changed
sed -i 's/craft_strerror(int code)/craft_strerror(long code)/' \
    "$tmp/changed/include/craft/common.h" "$tmp/changed/src/util/strerror.c"
grep -q 'craft_strerror(long code)' "$tmp/changed/src/util/strerror.c"
build changed
expect fail changed "$lib"

copy added
sed -i 's/^CRAFT_API int craft_abi_version(void);/&\nCRAFT_API int craft_abi_test_added(void);/' \
    "$tmp/added/include/craft/common.h"
cat >>"$tmp/added/src/util/version.c" <<'C'
int craft_abi_test_added(void) { return 1; }
C
build added
expect pass added "$lib"
