#!/usr/bin/env bash
# Every CLI flag has a documentation page entry and every status code is in the errors table
# (curl's test1139 idea): a flag or status added without docs fails CI.
set -euo pipefail
DOCS=$MCP_SRC/docs
fail=0
for status in $(grep -E '^\s+X\(' "$MCP_SRC/include/mcp/status.h" | sed -E 's/^\s+X\(([A-Z_]+),.*/\1/'); do
  grep -q "MCP_$status\b" "$DOCS/design/errors.md" || { echo "status MCP_$status missing from docs/design/errors.md"; fail=1; }
done
for bin in "$MCP_BIN"/mcp-*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  pages=("$DOCS/cli/$name.md")
  for extra in "$DOCS/cli/$name"-*.md; do [ -f "$extra" ] && pages+=("$extra"); done
  case $name in mcp-conformance-server|mcp-products) pages+=("$DOCS/cli/server-options.md");; esac
  [ -f "${pages[0]}" ] || { echo "no docs/cli/$name.md"; fail=1; continue; }
  for flag in $("$bin" --help 2>&1 | grep -oE '(^|[ [,(])--[a-z][a-z0-9-]*' | sed -E 's/^[ [,(]//' | sort -u); do
    # the whole flag: --key must not count as documented because --key-file is
    grep -qE -- "(^|[^a-z0-9-])$flag([^a-z0-9-]|\$)" "${pages[@]}" || { echo "$name: $flag is not documented in ${pages[*]#$MCP_SRC/}"; fail=1; }
  done
done
[ "$fail" = 0 ] && echo "ok: every flag and status is documented"
exit $fail
