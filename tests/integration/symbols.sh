#!/usr/bin/env bash
# libmcp.so exports exactly the documented API (issue 8, STYLE.md sections 2 and 8): every
# function a public header declares with MCP_EXTERN is exported, and nothing else is (no mcp__
# internal, nothing without the mcp_ prefix). Then the check is shown to fail: a small library
# that exports an mcp__ internal and one that misses a declared function must both be refused.
set -euo pipefail
SRC_ROOT=${MCP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
lib="$MCP_BIN/../lib/libmcp.so"
[ -f "$lib" ] || { echo "missing $lib" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# check LIB DECLFILE: prints what is wrong, exits 1 when anything is
check() {
  # awk filters (they never fail on an empty result, unlike grep)
  nm -D --defined-only "$1" | awk '{print $3}' |
    awk '!/^(_init|_fini|_edata|_end|__bss_start)$/ && !/^(__odr_asan\.|__asan|__ubsan|__sanitizer)/' |
    sort -u >"$tmp/exported"
  local bad=0 x
  x=$(awk '/^mcp__/' "$tmp/exported")
  [ -z "$x" ] || { echo "exported internal symbols:"; echo "$x"; bad=1; }
  x=$(awk '!/^mcp_/' "$tmp/exported")
  [ -z "$x" ] || { echo "exported symbols without the mcp_ prefix:"; echo "$x"; bad=1; }
  x=$(comm -23 "$2" "$tmp/exported")
  [ -z "$x" ] || { echo "declared MCP_EXTERN but not exported:"; echo "$x"; bad=1; }
  x=$(awk '/^mcp_/ && !/^mcp__/' "$tmp/exported" | comm -13 "$2" -)
  [ -z "$x" ] || { echo "exported but not declared in include/mcp:"; echo "$x"; bad=1; }
  return $bad
}

# The declared API: MCP_EXTERN ... name( in the public headers.
grep -ho 'MCP_EXTERN[^(]*\bmcp_[a-z0-9_]*(' "$SRC_ROOT"/include/mcp/*.h |
  grep -o 'mcp_[a-z0-9_]*($' | tr -d '(' | sort -u >"$tmp/declared"
n=$(wc -l <"$tmp/declared")
[ "$n" -gt 150 ] || { echo "FAIL: only $n MCP_EXTERN declarations found" >&2; exit 1; }
if ! check "$lib" "$tmp/declared" >&2; then
  echo "FAIL: $lib does not export exactly the declared API" >&2; exit 1
fi
echo "ok: $n exported symbols, exactly the MCP_EXTERN declarations of include/mcp"

# The check must fail on an exported internal and on a missing declared function.
printf '__attribute__((visibility("default"))) int mcp_a(void) { return 1; }\n__attribute__((visibility("default"))) int mcp__leak(void) { return 2; }\n' >"$tmp/bad.c"
cc -shared -fPIC -o "$tmp/libbad.so" "$tmp/bad.c"
printf 'mcp_a\nmcp_b\n' >"$tmp/decl2"
if out=$(check "$tmp/libbad.so" "$tmp/decl2"); then
  echo "FAIL: the check accepted a library exporting mcp__leak and missing mcp_b" >&2; exit 1
fi
grep -q '^mcp__leak$' <<<"$out" && grep -q '^mcp_b$' <<<"$out" ||
  { echo "FAIL: the check did not name mcp__leak and mcp_b: $out" >&2; exit 1; }
echo "ok: the check refuses an exported mcp__ internal and a declared function that is missing"
