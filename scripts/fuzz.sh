#!/usr/bin/env bash
# Build the libFuzzer targets (tests/fuzz/fuzz_*.c) and run each for a given time, one after
# the other, printing executions and corpus size per target. See docs/design/fuzzing.md.
#
#   scripts/fuzz.sh [seconds] [target...]     default: 60 s each, every target
#   scripts/fuzz.sh --merge [target...]       minimize each working corpus into the committed
#                                             one, tests/fuzz/corpus/<target> (see below)
#
# Environment:
#   FUZZ_RUNS=N    also stop a target after N executions (whichever comes first)
#   FUZZ_NICE=N    niceness of the fuzzer processes (default 19: the machine is shared)
#   FUZZ_DIR=D     working corpora and crash artifacts (default build-fuzz/fuzz-work); the
#                  working corpus of a target persists between runs and starts from the
#                  committed seeds in tests/fuzz/corpus/<target>
#   JOBS=N         build parallelism (default 2)
#   FUZZ_MAX_FILES=N, FUZZ_MAX_BYTES=N   --merge: bound of a committed corpus (default 2000
#                  files, 2000000 bytes); past it the smallest merged inputs are kept
#
# --merge: libFuzzer -merge=1 into a fresh directory that starts with the hand-written seeds
# (every file of tests/fuzz/corpus/<target> not named by its SHA-1, so regress_* and the named
# seeds always stay), taking from the committed corpus and the working corpus only the inputs
# that add coverage; the result replaces tests/fuzz/corpus/<target>.
# Exit status: 0 when no target found anything, 1 when one crashed, leaked or timed out (its
# reproducer is under $FUZZ_DIR/<target>/artifacts/), 2 on a build failure.
set -u
cd "$(dirname "$0")/.." || exit 2
mode=run
if [ "${1:-}" = --merge ]; then
  mode=merge
  shift
  secs=0
else
  secs=${1:-60}
  [ $# -gt 0 ] && shift
fi
JOBS=${JOBS:-2}
NICE=${FUZZ_NICE:-19}
WORK=${FUZZ_DIR:-build-fuzz/fuzz-work}
targets="$*"
[ -n "$targets" ] || targets=$(find tests/fuzz -maxdepth 1 -name 'fuzz_*.c' -printf '%f\n' |
                               sed 's/\.c$//' | sort)
[ -n "$targets" ] || { echo "fuzz: no tests/fuzz/fuzz_*.c" >&2; exit 2; }

# the library is instrumented too (fuzzer-no-link), so coverage guidance reaches it
CC=clang CFLAGS=-fsanitize=fuzzer-no-link cmake -S . -B build-fuzz -DMCP_FUZZ=ON \
  -DMCP_SANITIZE=ON -DMCP_WERROR=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null || exit 2
# shellcheck disable=SC2086
nice -n "$NICE" cmake --build build-fuzz -j"$JOBS" --target $targets >/dev/null || exit 2

# corpus_size DIR: "files bytes"
corpus_size() {
  find "$1" -type f -printf '%s\n' | awk '{ n++; s += $1 } END { print n + 0, s + 0 }'
}

if [ "$mode" = merge ]; then
  MAXF=${FUZZ_MAX_FILES:-2000}
  MAXB=${FUZZ_MAX_BYTES:-2000000}
  SHA1='.*/[0-9a-f]{40}'
  printf '%-20s %16s %16s %16s  %s\n' target 'before (files B)' 'working' 'after (files B)' note
  for t in $targets; do
    f=build-fuzz/bin/$t
    [ -x "$f" ] || { echo "fuzz: $f was not built" >&2; exit 2; }
    seeds=tests/fuzz/corpus/$t
    work=$WORK/$t/corpus
    mkdir -p "$seeds" "$work"
    fresh=$(mktemp -d)
    # hand-written seeds: every name that is not a 40-hex SHA-1 (libFuzzer's names)
    find "$seeds" -maxdepth 1 -type f -regextype posix-extended ! -regex "$SHA1" \
      -exec cp {} "$fresh"/ \;
    read -r nseed bseed <<<"$(corpus_size "$fresh")"
    before=$(corpus_size "$seeds")
    wsize=$(corpus_size "$work")
    # the first directory's inputs count as present; from the others only the inputs that add
    # coverage are added (named by their SHA-1)
    if ! nice -n "$NICE" "$f" -merge=1 -max_len=16384 -timeout=10 -rss_limit_mb=1024 \
        "$fresh" "$seeds" "$work" >"$WORK/$t.merge.log" 2>&1; then
      echo "fuzz: $t: merge failed, see $WORK/$t.merge.log" >&2
      rm -rf "$fresh"
      exit 1
    fi
    note=""
    read -r nall ball <<<"$(corpus_size "$fresh")"
    if [ "$nall" -gt "$MAXF" ] || [ "$ball" -gt "$MAXB" ]; then
      # a bounded subset: the seeds and the smallest merged inputs, as many as fit
      kept=0 n=$nseed b=$bseed
      while read -r sz g; do
        if [ $((n + 1)) -gt "$MAXF" ] || [ $((b + sz)) -gt "$MAXB" ]; then
          rm -f "$g"
        else
          kept=$((kept + 1)) n=$((n + 1)) b=$((b + sz))
        fi
      done < <(find "$fresh" -type f -regextype posix-extended -regex "$SHA1" -printf '%s %p\n' |
               sort -n)
      note="subset: the smallest $kept of $((nall - nseed)) merged inputs"
    fi
    rm -rf "$seeds"
    mv "$fresh" "$seeds"
    chmod 755 "$seeds"
    printf '%-20s %16s %16s %16s  %s\n' "$t" "$before" "$wsize" "$(corpus_size "$seeds")" \
      "$note"
  done
  exit 0
fi

status=0
printf '%-20s %12s %8s %10s %9s %10s %7s  %s\n' target executions seconds exec/s corpus bytes \
  cov result
for t in $targets; do
  f=build-fuzz/bin/$t
  [ -x "$f" ] || { echo "fuzz: $f was not built" >&2; exit 2; }
  dir=$WORK/$t
  mkdir -p "$dir/corpus" "$dir/artifacts"
  seeds=tests/fuzz/corpus/$t
  if [ -d "$seeds" ] && [ -n "$(ls -A "$seeds")" ]; then cp -n "$seeds"/* "$dir/corpus"/; fi
  dict=tests/fuzz/$t.dict
  extra=()
  [ -f "$dict" ] && extra+=(-dict="$dict")
  [ -n "${FUZZ_RUNS:-}" ] && extra+=(-runs="$FUZZ_RUNS")
  log=$dir/last.log
  t0=$(date +%s)
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
  nice -n "$NICE" "$f" -max_total_time="$secs" -max_len=16384 -timeout=10 -rss_limit_mb=1024 \
    -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "${extra[@]}" "$dir/corpus" \
    >"$log" 2>&1
  rc=$?
  elapsed=$(( $(date +%s) - t0 ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  files=$(find "$dir/corpus" -type f | wc -l)
  bytes=$(find "$dir/corpus" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
  result=ok
  if [ $rc -ne 0 ]; then
    result="FOUND (exit $rc, see $log and $dir/artifacts/)"
    status=1
    grep -m3 -E 'ERROR|SUMMARY|Test unit written' "$log" >&2
  fi
  printf '%-20s %12s %8s %10s %9s %10s %7s  %s\n' "$t" "${execs:-?}" "$elapsed" "${speed:-?}" \
    "$files" "$bytes" "${cov:-?}" "$result"
done
exit $status
