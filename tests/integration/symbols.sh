#!/usr/bin/env bash
# Every symbol libmcp exports starts with mcp_ (public) or mcp__ (internal): STYLE.md section 2.
set -euo pipefail
lib="$MCP_BIN/../lib/libmcp.so"
[ -f "$lib" ] || { echo "missing $lib" >&2; exit 1; }
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^mcp_' | grep -Ev '^(_init|_fini|_edata|_end|__bss_start)$|^__odr_asan\.|^__asan|^__ubsan|^__sanitizer' || true)
if [ -n "$bad" ]; then
  echo "exported symbols without the mcp_ prefix:" >&2
  echo "$bad" >&2
  exit 1
fi
n=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -c '^mcp_')
echo "ok: $n exported symbols, all prefixed mcp_"
