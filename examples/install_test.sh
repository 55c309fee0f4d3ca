#!/bin/sh
# install_test.sh BUILD_DIR EXAMPLES_DIR: install libtock into a temporary
# prefix with `cmake --install`, then build the examples against it the way
# a user does, with `pkg-config --cflags --libs tock`, linked shared and
# linked static, and run them:
#   - embed_minimal, shared and static, ticks;
#   - keystats, run twice on one directory: the second run finds its jobs
#     unchanged (version 1), flushes land in its table, and the flushes that
#     fell while it was down are reported missed.
# Run by ctest (examples/CMakeLists.txt); CC and EXAMPLE_CFLAGS come from
# the build.
set -eu

build=$1
src=$2
cc=${CC:-cc}
extra=${EXAMPLE_CFLAGS:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tock-install-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() {
    echo "install_test: $*" >&2
    exit 1
}

# --------------------------------------------------------------- install
cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log" ||
    fail "cmake --install failed: $(tail -n 3 "$tmp/install.log")"
pc=$(find "$tmp/prefix" -name tock.pc | head -n 1)
[ -n "$pc" ] || fail "no tock.pc was installed"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
libdir=$(pkg-config --variable=libdir tock)
[ -f "$libdir/libtock.a" ] || fail "libtock.a is not in $libdir"
ls "$libdir"/libtock.so.* > /dev/null 2>&1 || fail "libtock.so.N is not in $libdir"
[ -f "$(pkg-config --variable=includedir tock)/tock/tock.h" ] ||
    fail "tock/tock.h is not under the includedir of tock.pc"
echo "installed: $(pkg-config --modversion tock) in $tmp/prefix"

# ------------------------------------------------------------------ build
cflags="-std=c11 -Wall -Wextra -Werror $extra"
# shellcheck disable=SC2046,SC2086
$cc $cflags -o "$tmp/minimal-shared" "$src/embed_minimal.c" \
    $(pkg-config --cflags --libs tock) ||
    fail "embed_minimal does not build with pkg-config --cflags --libs tock"
# Static: the archive explicitly (a directory with both prefers the .so),
# its dependencies from pkg-config --static.
static_libs=$(pkg-config --static --libs tock |
              sed 's/-ltock\b/-Wl,-Bstatic -ltock -Wl,-Bdynamic/')
# shellcheck disable=SC2046,SC2086
$cc $cflags -o "$tmp/minimal-static" "$src/embed_minimal.c" \
    $(pkg-config --cflags tock) $static_libs ||
    fail "embed_minimal does not build with pkg-config --static --libs tock"
# shellcheck disable=SC2046,SC2086
$cc $cflags -o "$tmp/keystats" "$src/keystats.c" \
    $(pkg-config --cflags --libs tock sqlite3) -lpthread ||
    fail "keystats does not build with pkg-config"

readelf -d "$tmp/minimal-shared" | grep -q 'NEEDED.*libtock\.so' ||
    fail "minimal-shared does not load libtock.so"
if readelf -d "$tmp/minimal-static" | grep -q 'NEEDED.*libtock'; then
    fail "minimal-static still loads libtock.so"
fi

# -------------------------------------------------------------------- run
LD_LIBRARY_PATH=$libdir
export LD_LIBRARY_PATH
"$tmp/minimal-shared" "sqlite:$tmp/minimal.db" > "$tmp/minimal-shared.out"
grep -q '^tick tick@' "$tmp/minimal-shared.out" ||
    fail "minimal-shared did not tick: $(cat "$tmp/minimal-shared.out")"
env -u LD_LIBRARY_PATH "$tmp/minimal-static" "sqlite:$tmp/minimal.db" \
    > "$tmp/minimal-static.out"
grep -q '^tick tick@' "$tmp/minimal-static.out" ||
    fail "minimal-static did not tick: $(cat "$tmp/minimal-static.out")"

mkdir "$tmp/k"
"$tmp/keystats" --every 500ms --seconds 2 --dir "$tmp/k" > "$tmp/k1.out"
grep -q '^event: succeeded flush@' "$tmp/k1.out" ||
    fail "keystats did not flush: $(cat "$tmp/k1.out")"
sleep 3 # down: flushes fall past their 2 s grace
"$tmp/keystats" --every 500ms --seconds 2 --dir "$tmp/k" > "$tmp/k2.out"
grep -q '^job flush .*version 1, last run ok' "$tmp/k2.out" ||
    fail "keystats' job did not persist: $(head -n 3 "$tmp/k2.out")"
grep -q '^event: missed ' "$tmp/k2.out" ||
    fail "keystats did not report missed flushes: $(cat "$tmp/k2.out")"
grep -q '^event: succeeded flush@' "$tmp/k2.out" ||
    fail "keystats did not flush after the restart: $(cat "$tmp/k2.out")"
rows=$(sqlite3 "$tmp/k/keystats.db" 'SELECT COUNT(DISTINCT flush) FROM keystrokes' 2>/dev/null || echo 0)
[ "$rows" -ge 4 ] || fail "keystats wrote $rows flushes into its table"
echo "ok: shared and static builds run; keystats kept its jobs, reported $(grep -c '^event: missed ' "$tmp/k2.out") missed flush events, wrote $rows flushes"
