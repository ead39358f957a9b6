#!/bin/sh
# tests/install/run.sh: `make install-test`.
#
# Installs craft into a temporary DESTDIR with PREFIX=/usr/local, builds
# tests/install/smoke.c against it with pkg-config, shared and static,
# runs both, uninstalls, and checks that nothing is left behind.
# Environment (set by the Makefile): CC MAKE BUILD PKG_CONFIG VERSION SONAME.
set -eu

: "${CC:=cc}" "${MAKE:=make}" "${BUILD:=build}" "${PKG_CONFIG:=pkg-config}"
prefix=/usr/local
root=$(mktemp -d "${TMPDIR:-/tmp}/craft-install.XXXXXX")
out=$(mktemp -d "${TMPDIR:-/tmp}/craft-install-out.XXXXXX")
libdir=$root$prefix/lib
trap 'rm -rf "$root" "$out"' EXIT INT TERM

step() { echo "  INSTALL-TEST $*"; }
die() { echo "install-test: $*" >&2; exit 1; }

step "make install DESTDIR=$root PREFIX=$prefix"
$MAKE --no-print-directory -s install DESTDIR="$root" PREFIX="$prefix" \
    BUILD="$BUILD" >/dev/null

for f in include/craft.h lib/libcraft.so."$VERSION" lib/libcraft.a \
         lib/pkgconfig/craft.pc; do
    [ -f "$root$prefix/$f" ] || die "missing $prefix/$f"
done
for f in include/craft/*.h; do
    [ -f "$root$prefix/$f" ] || die "missing $prefix/$f"
done
[ "$(readlink "$libdir/$SONAME")" = "libcraft.so.$VERSION" ] \
    || die "$SONAME is not a symlink to libcraft.so.$VERSION"
[ "$(readlink "$libdir/libcraft.so")" = "$SONAME" ] \
    || die "libcraft.so is not a symlink to $SONAME"

# Only the temporary root's .pc files; -I/-L get the sysroot prefix.
PKG_CONFIG_PATH=$libdir/pkgconfig
PKG_CONFIG_LIBDIR=$libdir/pkgconfig
PKG_CONFIG_SYSROOT_DIR=$root
export PKG_CONFIG_PATH PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR

v=$($PKG_CONFIG --modversion craft)
[ "$v" = "$VERSION" ] || die "pkg-config says version $v, expected $VERSION"
$PKG_CONFIG --static --libs craft | grep -q -- '-lpthread' \
    || die "Libs.private lacks -lpthread"

cflags=$($PKG_CONFIG --cflags craft)
libs=$($PKG_CONFIG --libs craft)
static_libs=$($PKG_CONFIG --static --libs craft)

step "shared: $CC smoke.c \$(pkg-config --cflags --libs craft)"
# shellcheck disable=SC2086
$CC -std=c11 -Wall -Wextra -Werror $cflags -o "$out/smoke-shared" \
    tests/install/smoke.c $libs
readelf -d "$out/smoke-shared" | grep -q "NEEDED.*\[$SONAME\]" \
    || die "smoke-shared does not need $SONAME"
LD_LIBRARY_PATH=$libdir "$out/smoke-shared"

step "static: $CC -static smoke.c \$(pkg-config --static --cflags --libs craft)"
# shellcheck disable=SC2086
$CC -std=c11 -Wall -Wextra -Werror -static $cflags -o "$out/smoke-static" \
    tests/install/smoke.c $static_libs
if readelf -d "$out/smoke-static" 2>/dev/null | grep -q 'NEEDED.*libcraft'; then
    die "smoke-static still needs libcraft.so"
fi
"$out/smoke-static"

step "make uninstall DESTDIR=$root PREFIX=$prefix"
$MAKE --no-print-directory -s uninstall DESTDIR="$root" PREFIX="$prefix" \
    BUILD="$BUILD" >/dev/null
left=$(find "$root" ! -type d)
[ -z "$left" ] || die "uninstall left files behind:
$left"

echo "install: make install, pkg-config (shared and static), make uninstall OK"
