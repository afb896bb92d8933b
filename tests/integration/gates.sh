#!/usr/bin/env bash
# CI guard for the test gates themselves: a check whose failure cannot fail the build.
# Fails on, in every shell script under tests/ and scripts/:
#   - `|| true` / `|| :` (a failure swallowed), unless the line is allowed below with a reason;
#   - a negated command `! cmd` as a statement (at the start of a line, after ; then do else,
#     or in an && / || list) in a script with `set -e`: bash ignores errexit for it, so the
#     check never fails. (`if ! cmd`, `while ! cmd` and `[ ! ... ]` are fine.)
# An allow-list entry that matches nothing fails too, so the list stays true.
# Comments are not checked. Runs under CTest (integration_gates); needs $MCP_SRC.
set -u
ROOT=${MCP_SRC:?MCP_SRC must point at the source tree}
SELF=tests/integration/gates.sh

# path <TAB> a substring of the allowed line <TAB> why it is right there
ALLOW=$(cat <<'LIST'
tests/integration/core_shutdown.sh	trap 'kill $pid 2>/dev/null || true;	EXIT-trap cleanup: the server has normally exited already
LIST
)

RE_TRUE='\|\|[[:space:]]*(true|:)([[:space:];)&|]|$)'
RE_NOT='(^|;|&&|\|\||(^|[^[:alnum:]_])(then|do|else))[[:space:]]*![[:space:]]'
fail=0
used=""
allowed() {   # allowed FILE LINE: 0 when an allow-list entry covers it (and records the use)
  local f=$1 line=$2 p s r
  while IFS=$'\t' read -r p s r; do
    [ -n "$p" ] || continue
    if [ "$p" = "$f" ] && [[ $line == *"$s"* ]]; then used+="$p:$s"$'\n'; return 0; fi
  done <<<"$ALLOW"
  return 1
}
cd "$ROOT" || exit 1
files=$(find tests scripts -name node_modules -prune -o -type f -name '*.sh' -print | sort)
[ -n "$files" ] || { echo "FAIL: no scripts found under $ROOT/tests and $ROOT/scripts"; exit 1; }
n=0
for f in $files; do
  [ "$f" = "$SELF" ] && continue
  n=$((n + 1))
  errexit=0
  grep -qE '^[[:space:]]*set[[:space:]]+-[a-zA-Z]*e' "$f" && errexit=1
  lineno=0
  while IFS= read -r raw || [ -n "$raw" ]; do
    lineno=$((lineno + 1))
    # drop comments: a # at the start or after whitespace (good enough for these scripts)
    if [[ $raw =~ ^[[:space:]]*# ]]; then continue; fi
    line=${raw%%[[:space:]]#*}
    [ -n "${line//[[:space:]]/}" ] || continue
    if [[ $line =~ $RE_TRUE ]]; then
      if ! allowed "$f" "$raw"; then
        echo "FAIL: $f:$lineno: '|| true' swallows a failure: $raw"
        fail=1
      fi
    fi
    if [ "$errexit" = 1 ] && [[ $line =~ $RE_NOT ]]; then
      if ! allowed "$f" "$raw"; then
        echo "FAIL: $f:$lineno: '! cmd' under set -e never fails: $raw"
        fail=1
      fi
    fi
  done <"$f"
done
while IFS=$'\t' read -r p s r; do
  [ -n "$p" ] || continue
  grep -qxF "$p:$s" <<<"$used" || { echo "FAIL: stale allow-list entry: $p: $s"; fail=1; }
done <<<"$ALLOW"
[ "$fail" = 0 ] && echo "ok: $n scripts, no swallowed failure and no '! cmd' under set -e"
exit $fail
