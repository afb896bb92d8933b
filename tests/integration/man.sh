#!/usr/bin/env bash
# Issue 14: man pages are generated from docs/cli/*.md at build time (scripts/md2man.py),
# render with `man -l` without troff errors, carry a NAME line `whatis` can use, document every
# flag the program's --help lists, and are installed under share/man with the bash completion.
# md2man.py itself: text lines that start with "." are text, not requests; a missing input is
# status 1 naming it.
set -euo pipefail
SRC_ROOT=${MCP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=$(cd "$MCP_BIN/.." && pwd)
command -v man >/dev/null || { echo "FAIL: man missing (scripts/deps.sh installs man-db)"; exit 1; }
command -v groff >/dev/null || { echo "FAIL: groff missing (scripts/deps.sh installs groff-base)"; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
render() { LC_ALL=C MANWIDTH=100 man -l "$1" 2>"$TMP/man.err"; }
want=$(sed -n 's/^project(libmcp VERSION \([0-9.]*\).*/\1/p' "$SRC_ROOT/CMakeLists.txt")

pages=(man1/mcp-admin.1 man1/mcp-admin-policy.1 man1/mcp-client.1 man1/mcp-token.1
       man1/mcp-products.1 man1/mcp-conformance-server.1 man7/libmcp-server-options.7
       man7/libmcp-exit-status.7)
for p in "${pages[@]}"; do
  f="$BUILD/man/$p"
  [ -s "$f" ] || { bad "$p not built"; continue; }
  name=$(basename "$p"); name=${name%.*}
  txt=$(render "$f")
  if grep -v "cannot adjust line" "$TMP/man.err" | grep . >/dev/null; then bad "$p: $(cat "$TMP/man.err")"; fi
  if groff -man -z -ww "$f" 2>&1 | grep -v "cannot adjust line" | grep . >/dev/null; then
    bad "$p: groff warnings: $(groff -man -z -ww "$f" 2>&1 | head -3)"
  fi
  grep -qE "^ +$name +- " <<<"$txt" || bad "$p: no whatis line '$name - ...'"
  head -1 <<<"$txt" | grep "^${name^^}(" >/dev/null || bad "$p: title is $(printf '%s\n' "$txt" | head -1)"
  tail -1 <<<"$txt" | grep "libmcp $want" >/dev/null || bad "$p: footer lacks 'libmcp $want'"
  grep -q "EXIT STATUS" <<<"$txt" || bad "$p: no EXIT STATUS section"
  printf '%s\n' "$txt" >"$TMP/$name.txt"
done

# every flag of --help is in the program's man pages (the server options page for the servers)
for prog in mcp-admin mcp-client mcp-token mcp-products mcp-conformance-server; do
  texts=("$TMP/$prog.txt")
  case $prog in mcp-products|mcp-conformance-server) texts+=("$TMP/libmcp-server-options.txt");;
                mcp-admin) texts+=("$TMP/mcp-admin-policy.txt");; esac
  for flag in $("$MCP_BIN/$prog" --help 2>&1 | grep -oE '(^|[ [,(])--[a-z][a-z0-9-]*' | sed -E 's/^[ [,(]//' | sort -u); do
    grep -qE -- "(^|[^a-z0-9-])$flag([^a-z0-9-]|\$)" "${texts[@]}" || bad "$prog: $flag missing from its man page"
  done
done

# md2man.py: a text line starting with "." stays text; code blocks keep their lines
printf '# t\n\n## NAME\n\n`t` — a test\n\n## DESCRIPTION\n\n.hidden stays\n\n```\n.also kept\n```\n' >"$TMP/t.md"
python3 "$SRC_ROOT/scripts/md2man.py" "$TMP/t.md" "$TMP/t.1" t 1 "$want"
out=$(render "$TMP/t.1")
grep -q '\.hidden stays' <<<"$out" || bad "md2man: a leading '.' was taken as a request"
grep -q '\.also kept' <<<"$out" || bad "md2man: a code line starting with '.' was lost"
grep -qE '^ +t +- a test' <<<"$out" || bad "md2man: whatis line: $out"
set +e
python3 "$SRC_ROOT/scripts/md2man.py" "$TMP/none.md" "$TMP/x.1" x 1 "$want" 2>"$TMP/err"
rc=$?
set -e
[ "$rc" = 1 ] || bad "md2man on a missing file: status $rc"
grep -q "md2man.py: $TMP/none.md" "$TMP/err" || bad "md2man missing-file message: $(cat "$TMP/err")"

# installed: man finds them by name under the prefix, and the completion is there
P="$TMP/prefix"
cmake --install "$BUILD" --prefix "$P" >/dev/null
for p in "${pages[@]}"; do
  [ -f "$P/share/man/$p" ] || bad "not installed: share/man/$p"
done
LC_ALL=C MANWIDTH=100 man -M "$P/share/man" mcp-products 2>/dev/null | grep -E "mcp-products +- " >/dev/null ||
  bad "man -M PREFIX/share/man mcp-products does not find the page"
LC_ALL=C MANWIDTH=100 man -M "$P/share/man" 7 libmcp-exit-status 2>/dev/null | grep "usage error" >/dev/null ||
  bad "man 7 libmcp-exit-status does not render"
for prog in mcp-admin mcp-client mcp-token mcp-products mcp-conformance-server; do
  [ -f "$P/share/bash-completion/completions/$prog" ] || bad "completion for $prog not installed"
done

[ "$fail" = 0 ] && echo "ok: ${#pages[@]} man pages built, render, document every flag, install"
exit $fail
