#!/usr/bin/env bash
# Issue 14: libmcp builds as a subdirectory of another CMake project (add_subdirectory), with
# the same target names as the installed package (libmcp::mcp, libmcp::mcp_static). As a
# subproject it builds only the library (no CLIs, no tests), leaves the parent's output folders
# alone, and its paths are its own (PROJECT_SOURCE_DIR, not the parent's CMAKE_SOURCE_DIR).
set -euo pipefail
SRC_ROOT=${MCP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
SRC_ROOT=$(cd "$SRC_ROOT" && pwd)
P=$(mktemp -d)
trap 'rm -rf "$P"' EXIT
mkdir -p "$P/app"
cat >"$P/app/t.c" <<'C'
#include <mcp/mcp.h>
#include <stdio.h>
int
main(void)
{
    mcp_server *s;
    mcp_error e;
    if (mcp_server_new(NULL, &s, &e) != MCP_OK)
        return 1;
    printf("libmcp %s\n", mcp_version());
    mcp_server_free(s);
    return 0;
}
C
cat >"$P/app/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.18)
project(parent C)
add_subdirectory("$SRC_ROOT" libmcp)
add_executable(t t.c)
target_link_libraries(t PRIVATE libmcp::mcp_static)
add_executable(td t.c)
target_link_libraries(td PRIVATE libmcp::mcp)
CM
if cmake -S "$P/app" -B "$P/b" -DCMAKE_BUILD_TYPE=Release >"$P/log" 2>&1 &&
   nice cmake --build "$P/b" -j2 --target t td >>"$P/log" 2>&1; then
  :
else
  tail -40 "$P/log"; echo "FAIL: add_subdirectory(libmcp) did not build"; exit 1
fi
want=$(sed -n 's/^project(libmcp VERSION \([0-9.]*\).*/\1/p' "$SRC_ROOT/CMakeLists.txt")
[ -x "$P/b/t" ] || { find "$P/b" -maxdepth 3 -name t; echo "FAIL: parent's program not in its own build folder"; exit 1; }
[ "$("$P/b/t")" = "libmcp $want" ] || { echo "FAIL: static program output"; exit 1; }
[ "$("$P/b/td")" = "libmcp $want" ] || { echo "FAIL: shared program output"; exit 1; }
# only the library was configured: no CLI, no test targets
if grep -q "mcp-client" "$P/b/Makefile" "$P/b/libmcp/Makefile"; then
  echo "FAIL: a subproject build has CLI targets"; exit 1
fi
if [ -e "$P/b/libmcp/tests" ]; then echo "FAIL: a subproject build configured the tests"; exit 1; fi
echo "ok: add_subdirectory(libmcp): libmcp::mcp and libmcp::mcp_static link and run"
