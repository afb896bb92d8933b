#!/usr/bin/env bash
# The layers check (issue 8, STYLE.md section 8): the src/ folders include and call only what
# docs/design/architecture.md allows, no folder includes another's internal.h, and there is no
# include cycle. Then the check itself is shown to fail: an upward include, a private-header
# include, a file include cycle and an upward call are each injected into a copy and must be
# refused with the line that names them.
set -euo pipefail
SRC_ROOT=${MCP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
OBJ=${MCP_BIN:?MCP_BIN is the build bin dir}/../CMakeFiles/mcp_objs.dir/src
check="python3 $SRC_ROOT/scripts/check-layers.py"
doc=$SRC_ROOT/docs/design/architecture.md
[ -d "$OBJ" ] || { echo "FAIL: no object dir $OBJ" >&2; exit 1; }

$check --src "$SRC_ROOT/src" --doc "$doc" --objects "$OBJ"

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fails=0
expect_refused() { # NAME PATTERN: the check on $tmp/src must fail and print PATTERN
  local out rc=0
  out=$($check --src "$tmp/src" --doc "$doc" ${3:+--objects "$3"} 2>&1) || rc=$?
  if [ "$rc" -eq 1 ] && grep -qF -- "$2" <<<"$out"; then
    echo "ok: $1 refused"
  else
    echo "FAIL: $1: check exited $rc and did not report '$2':"; echo "$out"; fails=$((fails + 1))
  fi
}
fresh() { rm -rf "$tmp/src"; cp -r "$SRC_ROOT/src" "$tmp/src"; }

fresh; echo '#include "core/core.h"' >>"$tmp/src/common/util.c"
expect_refused "upward include (common -> core)" "common/util.c: includes core/core.h, but common -> core is not allowed"
fresh; echo '#include "jwt/internal.h"' >>"$tmp/src/client/api.c"
expect_refused "another folder's internal.h" "client/api.c: includes jwt/internal.h, private to src/jwt/"
fresh; echo '#include "common/common.h"' >"$tmp/src/common/a.h"; echo '#include "common/a.h"' >>"$tmp/src/common/common.h"
expect_refused "file include cycle" "common/a.h -> common/common.h"
fresh; mkdir -p "$tmp/objs"; cp -r "$OBJ"/. "$tmp/objs/"
printf 'void mcp__session_touch(void *s);\nvoid mcp__probe(void);\nvoid mcp__probe(void) { mcp__session_touch(0); }\n' >"$tmp/probe.c"
cp "$tmp/probe.c" "$tmp/src/common/probe.c"; cc -c "$tmp/probe.c" -o "$tmp/objs/common/probe.c.o"
expect_refused "upward call (common -> core)" "common/probe.c: calls mcp__session_touch (src/core), but common -> core is not allowed" "$tmp/objs"
[ "$fails" -eq 0 ] || { echo "layers: $fails negative check(s) not refused" >&2; exit 1; }
echo "layers: check passes on the tree and refuses all 4 injected violations"
