#!/usr/bin/env bash
# The Dockerfile (issue 14), checked without a container runtime (CI starts no Docker daemon;
# no image is built here; docs/design/packaging.md says how the image was built and run by hand): every COPY source exists and is not excluded by .dockerignore, every
# script a RUN calls exists and is executable, every -D option it passes is an option() of
# CMakeLists.txt, the runtime packages exist in Debian 12 (apt-cache) and provide every shared
# library the built mcp-products needs (objdump NEEDED -> dpkg -S), and the image's ENTRYPOINT
# + CMD run: the entry point script with the CMD's arguments (the listen address moved to
# 127.0.0.1, the /data paths to a scratch folder) creates the store, prints an API key, and
# the server answers /ready and a tools/call with that key.
# Needs $MCP_BIN and $MCP_SRC (set by CTest), python3, curl, objdump, dpkg, apt-cache.
set -euo pipefail
SRC=${MCP_SRC:?MCP_SRC must point at the source tree}
B=$(cd "${MCP_BIN:?MCP_BIN is the build bin dir}" && pwd)
DF=$SRC/Dockerfile
for t in python3 curl objdump dpkg apt-cache; do
  command -v "$t" >/dev/null || { echo "FAIL: $t missing"; exit 1; }
done
[ -f "$DF" ] || { echo "FAIL: no Dockerfile"; exit 1; }
TMP=$(mktemp -d)
SRV=""
cleanup() {
  if [ -n "$SRV" ] && kill -0 "$SRV" 2>/dev/null; then kill "$SRV"; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# The instructions, one per line (continuations joined), as JSON for the checks below.
python3 - "$DF" >"$TMP/ins.json" <<'EOF'
import json, re, shlex, sys
lines, cur = [], ""
for raw in open(sys.argv[1]):
    s = raw.rstrip("\n")
    if not cur and (not s.strip() or s.lstrip().startswith("#")):
        continue
    if s.endswith("\\"):
        cur += s[:-1] + " "
        continue
    lines.append(cur + s)
    cur = ""
out = []
for l in lines:
    op, _, rest = l.strip().partition(" ")
    out.append({"op": op.upper(), "args": rest.strip()})
json.dump(out, sys.stdout)
EOF
ins() { python3 -c 'import json,sys; [print(i["args"]) for i in json.load(open(sys.argv[1])) if i["op"]==sys.argv[2]]' "$TMP/ins.json" "$1"; }

# FROM: Debian 12 for both stages
while read -r img _; do
  case $img in debian:12|debian:12-slim) ;; *) bad "FROM $img is not a Debian 12 image";; esac
done < <(ins FROM)
[ "$(ins FROM | wc -l)" = 2 ] || bad "want a build and a run stage, got $(ins FROM | wc -l) FROM lines"

# COPY sources exist in the tree and reach the build context (.dockerignore)
n=0
while read -r line; do
  case $line in --from=*) continue;; esac
  read -r -a words <<<"$line"
  for src in "${words[@]:0:${#words[@]}-1}"; do
    n=$((n + 1))
    [ -e "$SRC/$src" ] || { bad "COPY $src: no such path in the tree"; continue; }
    if [ "$src" != . ]; then
      while read -r pat; do
        case $pat in ''|'#'*) continue;; esac
        pat=${pat%/}
        case "$src" in $pat|$pat/*) bad "COPY $src is excluded by .dockerignore ($pat)";; esac
      done <"$SRC/.dockerignore"
    fi
  done
done < <(ins COPY)
[ "$n" -ge 3 ] || bad "only $n COPY sources found"
# the sources the build needs are not excluded either
for p in CMakeLists.txt src include scripts/deps.sh tools examples docs/cli cmake; do
  while read -r pat; do
    case $pat in ''|'#'*) continue;; esac
    pat=${pat%/}
    case "$p" in $pat|$pat/*) bad ".dockerignore excludes $p, which the build needs";; esac
  done <"$SRC/.dockerignore"
done

# scripts called by RUN exist and are executable; cmake -D options are options of the build
runs=$(ins RUN)
for s in $(grep -oE 'scripts/[A-Za-z0-9_.-]+' <<<"$runs" | sort -u); do
  [ -x "$SRC/$s" ] || bad "RUN calls $s, which is not an executable file in the tree"
done
grep -q 'scripts/deps.sh' <<<"$runs" || bad "the build stage does not use scripts/deps.sh"
for d in $(grep -oE -- '-D[A-Z_]+' <<<"$runs" | sed 's/^-D//' | sort -u); do
  case $d in CMAKE_*) continue;; esac
  grep -qE "option\\($d " "$SRC/CMakeLists.txt" || bad "RUN passes -D$d, not an option() of CMakeLists.txt"
done
grep -q 'MCP_DEPS_TEST=0' <<<"$runs" || bad "the build stage installs the test dependencies too"

# the runtime packages: known to apt, and they provide every library mcp-products needs
pkgs=$(sed -n '/^FROM debian:12-slim/,$p' "$DF" | grep -oE '\blib[a-z0-9.+-]+[0-9]\b|\bca-certificates\b' | sort -u)
[ -n "$pkgs" ] || bad "no runtime packages found"
# shellcheck disable=SC2086 # one word per package
known=$(apt-cache show --no-all-versions $pkgs 2>/dev/null | sed -n 's/^Package: //p')
for p in $pkgs; do
  grep -qx "$p" <<<"$known" || bad "runtime package $p unknown to apt"
done
for lib in $(objdump -p "$B/mcp-products" | awk '/NEEDED/ { print $2 }'); do
  case $lib in libc.so.*|libm.so.*|ld-linux*|libpthread.so.*|libdl.so.*) continue;; esac
  case $lib in libasan.so.*|libubsan.so.*) continue;; esac   # a sanitizer build (MCP_SANITIZE)
  path=$(ldd "$B/mcp-products" | awk -v l="$lib" '$1 == l { print $3 }')
  [ -n "$path" ] || { bad "$lib: not resolved by ldd"; continue; }
  owner=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n 1 | cut -d: -f1)
  [ -n "$owner" ] || owner=$(dpkg -S "$path" 2>/dev/null | head -n 1 | cut -d: -f1)
  if grep -qx "$owner" <<<"$pkgs"; then :; else bad "$lib comes from $owner, not installed by the run stage"; fi
done

# ENTRYPOINT + CMD, run outside a container
ep=$(ins ENTRYPOINT | python3 -c 'import json,sys; print(json.load(sys.stdin)[0])')
[ "$ep" = /usr/local/bin/mcp-products-entrypoint ] || bad "ENTRYPOINT is $ep"
grep -q "examples/docker/entrypoint.sh $ep" <<<"$(ins COPY)" || bad "the entry point is not copied from examples/docker/entrypoint.sh"
mapfile -t cmd < <(ins CMD | python3 -c 'import json,sys; [print(a) for a in json.load(sys.stdin)]')
[ "${#cmd[@]}" -gt 0 ] || bad "no CMD"
grep -q '^EXPOSE 8080$' "$DF" || bad "EXPOSE 8080 missing"
P=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
args=()
for ((i = 0; i < ${#cmd[@]}; i++)); do
  a=${cmd[$i]}
  case $a in
    0.0.0.0:8080) a="127.0.0.1:$P" ;;
    http://localhost:8080/mcp) a="http://127.0.0.1:$P/mcp" ;;
    /data/*) a="$TMP/data/${a#/data/}" ;;
    /etc/mcp-products/policy.json) a="$SRC/examples/mcp-products/policy.json" ;;
  esac
  args+=("$a")
done
[ "${cmd[1]}" = 0.0.0.0:8080 ] || bad "CMD does not listen on 0.0.0.0:8080 (the EXPOSEd port): ${cmd[*]}"
mkdir -p "$TMP/data"
PATH="$B:$PATH" MCP_DATA="$TMP/data" "$SRC/examples/docker/entrypoint.sh" "${args[@]}" \
  >"$TMP/out" 2>"$TMP/err" &
SRV=$!
for _ in $(seq 100); do grep -q "listening on" "$TMP/err" && break; sleep 0.05; done
grep -q "listening on http://127.0.0.1:$P/mcp" "$TMP/err" || { cat "$TMP/err"; bad "the entry point did not start the server"; }
[ -f "$TMP/data/mcp.db" ] || bad "the entry point created no store"
KEY=$(grep -oE 'mcp_[A-Za-z0-9_-]+' "$TMP/err" | head -n 1)
[ -n "$KEY" ] || bad "the entry point printed no API key"
code=$(curl -s --max-time 5 -o "$TMP/ready" -w '%{http_code}' "http://127.0.0.1:$P/ready")
[ "$code" = 200 ] || bad "/ready: $code $(cat "$TMP/ready")"
body=$("$B/mcp-client" --timeout 10000 --url "http://127.0.0.1:$P/mcp" --token "$KEY" --json \
  tools call list_products 2>&1) || bad "tools/call list_products with the printed key: $body"
case $body in *'"content"'*) ;; *) bad "tools/call list_products answered: $body";; esac
kill "$SRV"
if wait "$SRV" 2>/dev/null; then :; fi
SRV=""
# a second start keeps the store (no second key)
PATH="$B:$PATH" MCP_DATA="$TMP/data" timeout 5 "$SRC/examples/docker/entrypoint.sh" --version >"$TMP/out2" 2>"$TMP/err2"
if grep -q "first start" "$TMP/err2"; then bad "the second start created the store again"; fi
grep -q "^mcp-products " "$TMP/out2" || bad "entry point with --version: $(cat "$TMP/out2" "$TMP/err2")"
# --version / --help on a fresh volume answer without creating a store or a key
mkdir -p "$TMP/fresh"
for q in --version --help; do
  PATH="$B:$PATH" MCP_DATA="$TMP/fresh" timeout 5 "$SRC/examples/docker/entrypoint.sh" "$q" \
    >"$TMP/out3" 2>"$TMP/err3" || bad "entry point with $q on a fresh volume: exit $?"
  [ ! -e "$TMP/fresh/mcp.db" ] || bad "entry point with $q created a store"
  if grep -q "mcp_[A-Za-z0-9_-]*" "$TMP/err3"; then bad "entry point with $q printed an API key"; fi
done

[ "$fail" = 0 ] && echo "ok: Dockerfile: Debian 12 stages, COPY sources, scripts, -D options, runtime packages cover the libraries, entry point + CMD serve (no image built here)"
exit $fail
