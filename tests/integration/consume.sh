#!/usr/bin/env bash
# Issue 14: a program can be built against an installed libmcp in the three ways a user would,
# and runs without LD_LIBRARY_PATH:
#   1. `cmake --install` into a fresh prefix: headers, libraries, the CLIs, libmcp.pc and the
#      CMake package files are there;
#   2. a CMake project with find_package(libmcp CONFIG) and target libmcp::mcp (CMake puts the
#      library folder in the program's RPATH);
#   3. a Makefile-style build with pkg-config and `-Wl,-rpath,$(pkg-config --variable=libdir)`
#      (without that rpath the program needs LD_LIBRARY_PATH: README "Building");
#   4. find_package with a version libmcp does not provide is refused.
# Each program checks that the header version and mcp_version() agree, builds a server with a
# tool and prints the library's version.
set -euo pipefail
BUILD=$(cd "$MCP_BIN/.." && pwd)
SRC_ROOT=${MCP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
P=$(mktemp -d)
trap 'rm -rf "$P"' EXIT
cmake --install "$BUILD" --prefix "$P/usr" >/dev/null
pc=$(dirname "$(find "$P" -name libmcp.pc | head -1)")
[ -n "$pc" ] || { echo "FAIL: libmcp.pc not installed"; exit 1; }
cfgdir=$(dirname "$(find "$P" -name libmcpConfig.cmake | head -1)")
[ -n "$cfgdir" ] || { echo "FAIL: libmcpConfig.cmake not installed"; exit 1; }
for f in libmcpConfigVersion.cmake libmcpTargets.cmake; do
  [ -f "$cfgdir/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
for b in mcp-client mcp-token mcp-admin mcp-products; do
  [ -x "$P/usr/bin/$b" ] || { echo "FAIL: missing $b"; exit 1; }
done
want=$(sed -n 's/^project(libmcp VERSION \([0-9.]*\).*/\1/p' "$SRC_ROOT/CMakeLists.txt")
[ -n "$want" ] || { echo "FAIL: no version in CMakeLists.txt"; exit 1; }

mkdir -p "$P/app"
cat >"$P/app/t.c" <<'C'
#include <mcp/mcp.h>
#include <stdio.h>
#include <string.h>

static mcp_status
echo(mcp_ctx *ctx, void *udata, mcp_error *err)
{
    (void)udata;
    return mcp_ctx_add_text(ctx, mcp_ctx_arg_str(ctx, "text"), err);
}

int
main(void)
{
    static const char *const perms[] = { "User.Read", NULL };
    mcp_tool_def def = { .name = "echo", .description = "Echo.",
                         .input_schema = "{\"type\":\"object\"}",
                         .access = { .any_of_perms = perms }, .handler = echo };
    mcp_server *s;
    mcp_error e;
    if (strcmp(mcp_version(), MCP_VERSION_STRING) != 0 || mcp_version_num() != MCP_VERSION_NUM)
        return 3;
    if (mcp_server_new(NULL, &s, &e) != MCP_OK)
        return 1;
    if (mcp_server_add_tool(s, &def, NULL, &e) != MCP_OK)
        return 2;
    printf("libmcp %s %s\n", mcp_version(), mcp_status_name(MCP_ERR_FORBIDDEN));
    mcp_server_free(s);
    return 0;
}
C
san=""
if nm -D "$BUILD/lib/libmcp.so" | grep ' U __asan_init' >/dev/null; then san="-fsanitize=address,undefined"; fi
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0:detect_leaks=0
unset LD_LIBRARY_PATH

# 2. CMake package
cat >"$P/app/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.18)
project(consumer C)
find_package(libmcp $want CONFIG REQUIRED)
add_executable(t t.c)
target_compile_options(t PRIVATE -Wall -Wextra -Werror $san)
target_link_options(t PRIVATE $san)
target_link_libraries(t PRIVATE libmcp::mcp)
add_executable(ts t.c)
target_link_options(ts PRIVATE $san)
target_link_libraries(ts PRIVATE libmcp::mcp_static)
CM
if cmake -S "$P/app" -B "$P/app/b" -DCMAKE_PREFIX_PATH="$P/usr" >"$P/cmake.log" 2>&1 &&
   cmake --build "$P/app/b" >>"$P/cmake.log" 2>&1; then
  :
else
  cat "$P/cmake.log"; echo "FAIL: find_package(libmcp CONFIG) consumer did not build"; exit 1
fi
out=$("$P/app/b/t")
[ "$out" = "libmcp $want MCP_ERR_FORBIDDEN" ] || { echo "FAIL: cmake consumer said: $out"; exit 1; }
# (captured first: grep -q in a pipe can kill the writer with SIGPIPE, failing under pipefail)
l=$(ldd "$P/app/b/t")
if ! grep -q "$P/usr/.*libmcp.so" <<<"$l"; then
  ldd "$P/app/b/t"; echo "FAIL: cmake consumer does not run with the installed libmcp.so"; exit 1
fi
out=$("$P/app/b/ts")
[ "$out" = "libmcp $want MCP_ERR_FORBIDDEN" ] || { echo "FAIL: static consumer said: $out"; exit 1; }
l=$(ldd "$P/app/b/ts")
if grep -q libmcp.so <<<"$l"; then echo "FAIL: static consumer links libmcp.so"; exit 1; fi
echo "ok: find_package(libmcp $want CONFIG): libmcp::mcp and libmcp::mcp_static build and run"

# 4. a version that is not there is refused
sed -i "s/find_package(libmcp $want /find_package(libmcp 99.0 /" "$P/app/CMakeLists.txt"
if cmake -S "$P/app" -B "$P/app/b99" -DCMAKE_PREFIX_PATH="$P/usr" >"$P/cmake99.log" 2>&1; then
  echo "FAIL: find_package(libmcp 99.0) succeeded"; exit 1
fi
grep -q 'requested version "99.0"' "$P/cmake99.log" || { cat "$P/cmake99.log"; echo "FAIL: no version message"; exit 1; }
echo "ok: find_package(libmcp 99.0) is refused"

# 3. pkg-config, with the rpath the README documents
libdir=$(PKG_CONFIG_PATH=$pc pkg-config --variable=libdir libmcp)
flags=$(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs libmcp)
[ "$(PKG_CONFIG_PATH=$pc pkg-config --modversion libmcp)" = "$want" ] || { echo "FAIL: pc version"; exit 1; }
cc -std=c11 -Wall -Wextra -Werror $san "$P/app/t.c" -o "$P/pc" $flags -Wl,-rpath,"$libdir"
out=$("$P/pc")
[ "$out" = "libmcp $want MCP_ERR_FORBIDDEN" ] || { echo "FAIL: pkg-config consumer said: $out"; exit 1; }
# without the rpath the loader does not find it (what the README says LD_LIBRARY_PATH is for)
cc -std=c11 $san "$P/app/t.c" -o "$P/norpath" $flags
if [ "$(ldd "$P/norpath" | grep libmcp.so)" = "" ]; then echo "FAIL: ldd shows no libmcp.so"; exit 1; fi
l=$(ldd "$P/norpath")
if grep -q "libmcp.so.* => $P" <<<"$l"; then echo "FAIL: found without rpath?"; exit 1; fi
out=$(LD_LIBRARY_PATH=$libdir "$P/norpath")
[ "$out" = "libmcp $want MCP_ERR_FORBIDDEN" ] || { echo "FAIL: LD_LIBRARY_PATH run said: $out"; exit 1; }
echo "ok: pkg-config consumer runs with -Wl,-rpath (and without it, with LD_LIBRARY_PATH)"

# the installed soname follows docs/design/abi.md
so=$(find "$P/usr" -name 'libmcp.so.*.*' | head -1)
soname=$(objdump -p "$so" | awk '/SONAME/ {print $2}')
major=${want%%.*}
if [ "$major" = 0 ]; then wantso=libmcp.so.0; else wantso=libmcp.so.$major; fi
[ "$soname" = "$wantso" ] || { echo "FAIL: SONAME $soname, want $wantso"; exit 1; }
echo "ok: SONAME $soname"
