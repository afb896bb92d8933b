#!/usr/bin/env bash
# Issue 14: `dpkg-buildpackage` builds the three Debian packages from a copy of the source
# tree (libmcp0, libmcp-dev, libmcp-tools), with the project's version; their contents are
# where Debian puts them; dpkg would install them on this machine (--no-act: every dependency is
# satisfied, nothing is changed); unpacked, mcp-products --version runs, its man page renders,
# and a program built against libmcp-dev with pkg-config runs with libmcp0's library.
set -euo pipefail
SRC_ROOT=${MCP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
for t in dpkg-buildpackage dh fakeroot dpkg-deb; do
  command -v "$t" >/dev/null || { echo "FAIL: $t missing (scripts/deps.sh installs dpkg-dev, debhelper, fakeroot)"; exit 1; }
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
want=$(sed -n 's/^project(libmcp VERSION \([0-9.]*\).*/\1/p' "$SRC_ROOT/CMakeLists.txt")
deb_version=$(sed -n '1s/^libmcp (\([^)]*\)).*/\1/p' "$SRC_ROOT/debian/changelog")
[ "$deb_version" = "$want" ] || bad "debian/changelog says $deb_version, CMakeLists.txt $want"

mkdir -p "$TMP/src"
tar -C "$SRC_ROOT" --exclude='./build*' --exclude=./.git --exclude='./obj-*' \
    --exclude=node_modules -cf - . | tar -C "$TMP/src" -xf -
if (cd "$TMP/src" && DEB_BUILD_OPTIONS="nocheck parallel=2" nice dpkg-buildpackage -b -us -uc \
      >"$TMP/build.log" 2>&1); then
  :
else
  tail -40 "$TMP/build.log"; echo "FAIL: dpkg-buildpackage failed"; exit 1
fi
arch=$(dpkg --print-architecture)
for p in libmcp0 libmcp-dev libmcp-tools; do
  [ -f "$TMP/${p}_${want}_${arch}.deb" ] || bad "no ${p}_${want}_${arch}.deb: $(ls "$TMP")"
done
[ "$fail" = 0 ] || exit 1
D0="$TMP/libmcp0_${want}_${arch}.deb"; DD="$TMP/libmcp-dev_${want}_${arch}.deb"; DT="$TMP/libmcp-tools_${want}_${arch}.deb"

c0=$(dpkg-deb -c "$D0"); cd_=$(dpkg-deb -c "$DD"); ct=$(dpkg-deb -c "$DT")
grep -qE "usr/lib/[^/]+/libmcp\.so\.0\.[0-9.]+$" <<<"$c0" || bad "libmcp0 has no libmcp.so.0.x: $c0"
for f in usr/include/mcp/mcp.h "libmcp\.a$" "pkgconfig/libmcp\.pc$" "cmake/libmcp/libmcpConfig\.cmake$"; do
  grep -qE "$f" <<<"$cd_" || bad "libmcp-dev lacks $f"
done
for f in usr/bin/mcp-products usr/bin/mcp-client usr/bin/mcp-admin usr/bin/mcp-token \
         usr/share/man/man1/mcp-products.1.gz usr/share/man/man7/libmcp-exit-status.7.gz \
         usr/share/bash-completion/completions/mcp-client; do
  grep -q "$f" <<<"$ct" || bad "libmcp-tools lacks $f"
done
dep=$(dpkg-deb -f "$D0" Depends)
grep -q libmicrohttpd <<<"$dep" && grep -q libjansson <<<"$dep" || bad "libmcp0 Depends: $dep"
[ "$(dpkg-deb -f "$D0" Package)" = libmcp0 ] || bad "libmcp0 package name"
shl=$(dpkg-deb -I "$D0" shlibs 2>/dev/null) || shl=""
grep -q "^libmcp 0 libmcp0" <<<"$shl" || bad "libmcp0 has no shlibs entry: $shl"

# dpkg would install all three here (dependencies satisfied), without changing anything
if dpkg --no-act -i "$D0" "$DD" "$DT" >"$TMP/noact.log" 2>&1; then :; else
  cat "$TMP/noact.log"; bad "dpkg --no-act -i refused the packages"
fi

# unpacked: the tools run, the man page renders, a pkg-config program runs with libmcp0
R="$TMP/root"
for d in "$D0" "$DD" "$DT"; do dpkg-deb -x "$d" "$R"; done
[ "$("$R/usr/bin/mcp-products" --version)" = "mcp-products $want" ] || bad "mcp-products --version from the package"
txt=$(LC_ALL=C MANWIDTH=100 man -l "$R/usr/share/man/man1/mcp-products.1.gz" 2>&1)
grep -qE "^ +mcp-products +- " <<<"$txt" || bad "packaged man page does not render"
pcdir=$(dirname "$(find "$R" -name libmcp.pc | head -1)")
printf '#include <mcp/mcp.h>\n#include <stdio.h>\nint main(void){puts(mcp_version());return 0;}\n' >"$TMP/v.c"
cc -std=c11 -Wall -Werror "$TMP/v.c" -o "$TMP/v" $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs libmcp)
libdir=$(dirname "$(find "$R" -name 'libmcp.so.0' | head -1)")
[ "$(LD_LIBRARY_PATH=$libdir "$TMP/v")" = "$want" ] || bad "pkg-config program against the packages"

[ "$fail" = 0 ] && echo "ok: dpkg-buildpackage built libmcp0, libmcp-dev, libmcp-tools $want; installable; tools, man page and library work"
exit $fail
