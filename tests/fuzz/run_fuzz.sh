#!/usr/bin/env bash
# Builds every libFuzzer target (tests/fuzz/*_fuzzer.cpp) with clang-14
# (ASan + UBSan) in build-fuzz/ and fuzzes each for a bounded time.
#
#   tests/fuzz/run_fuzz.sh                    # every target, 30 s each
#   FUZZ_SECONDS=600 tests/fuzz/run_fuzz.sh   # the longer run (docs/fuzzing.md)
#   FUZZ_TARGETS="k8s manifest" tests/fuzz/run_fuzz.sh
#   tests/fuzz/run_fuzz.sh -- -jobs=4         # extra libFuzzer flags after --
#
# A target <name> has seeds in tests/fuzz/corpus/<name>/ (read only), and
# optionally tests/fuzz/<name>.dict and tests/fuzz/<name>.args (one libFuzzer
# argument per line; a line not starting with '-' is another seed folder,
# relative to the repository). New inputs go to build-fuzz/fuzz-corpus/<name>/,
# crashes to build-fuzz/fuzz-artifacts/<name>/.
# Replay a crash: build-fuzz/tests/fuzz/<name>_fuzzer build-fuzz/fuzz-artifacts/<name>/crash-...
#
# Exit codes: 0 no finding; 1 a crash, leak, UB, timeout or a build failure in
# any target; 77 (ctest's "skipped") when clang-14 or libFuzzer is missing,
# except under CI=true, where a missing toolchain is a failure: CI must really
# fuzz.
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
root=$PWD

FUZZ_SECONDS=${FUZZ_SECONDS:-30}
FUZZ_CC=${FUZZ_CC:-clang-14}
FUZZ_CXX=${FUZZ_CXX:-clang++-14}
build=$root/build-fuzz
extra=()
if [[ ${1:-} == -- ]]; then
  shift
  extra=("$@")
fi

log() { echo "run_fuzz: $*"; }

missing() {
  if [[ ${CI:-} == true ]]; then
    echo "run_fuzz: ERROR: $* — fuzzing is required in CI (scripts/setup.sh installs clang-14 and libclang-rt-14-dev)" >&2
    exit 1
  fi
  echo "run_fuzz: SKIPPED: $* (install clang-14 and libclang-rt-14-dev, or run scripts/setup.sh)"
  exit 77
}

[[ $FUZZ_SECONDS =~ ^[0-9]+$ ]] || { echo "run_fuzz: FUZZ_SECONDS must be a number of seconds" >&2; exit 1; }
command -v "$FUZZ_CC" >/dev/null || missing "$FUZZ_CC not found"
command -v "$FUZZ_CXX" >/dev/null || missing "$FUZZ_CXX not found"

# libFuzzer ships separately from clang on Debian (libclang-rt-14-dev): try it.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
cat >"$probe/probe.cpp" <<'EOF'
#include <cstddef>
#include <cstdint>
extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }
EOF
if ! "$FUZZ_CXX" -fsanitize=fuzzer,address,undefined "$probe/probe.cpp" -o "$probe/probe" >"$probe/log" 2>&1; then
  sed 's/^/  /' "$probe/log" >&2
  missing "$FUZZ_CXX cannot link -fsanitize=fuzzer,address,undefined (libFuzzer or sanitizer runtimes missing)"
fi

# One run at a time per build dir: concurrent configures, builds or corpus
# writes in build-fuzz/ would trip over each other.
mkdir -p "$build"
if command -v flock >/dev/null; then
  exec 9>"$build/.run_fuzz.lock"
  flock -n 9 || { log "waiting for another run_fuzz.sh using $build"; flock 9; }
fi

# -O1: the usual fuzzing trade-off (fast enough), asserts on. Line tables
# only: a report's stack trace needs file:line, not variables, and full
# debug information made this build, CI's longest step, a tenth slower.
log "configuring $build with $FUZZ_CXX"
CC=$FUZZ_CC CXX=$FUZZ_CXX cmake -S "$root" -B "$build" \
  -DCMAKE_C_COMPILER="$FUZZ_CC" -DCMAKE_CXX_COMPILER="$FUZZ_CXX" \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-O1 -gline-tables-only" \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only" \
  -DMEMBRANE_FUZZ=ON -DMEMBRANE_WERROR=OFF >"$probe/configure.log" 2>&1 || {
  cat "$probe/configure.log" >&2
  echo "run_fuzz: FAILED: cmake configure" >&2
  exit 1
}

all_targets=()
for source in "$root"/tests/fuzz/*_fuzzer.cpp; do
  name=$(basename "$source" _fuzzer.cpp)
  all_targets+=("$name")
done
read -r -a targets <<<"${FUZZ_TARGETS:-${all_targets[*]}}"
for name in "${targets[@]}"; do
  [[ -f $root/tests/fuzz/${name}_fuzzer.cpp ]] || { echo "run_fuzz: no target '$name' (have: ${all_targets[*]})" >&2; exit 1; }
done

# The build's output goes to a file, shown only when it fails: in a CI log a
# finding must not drown in thousands of lines of compiler output (CI shows
# a failing test's first and last lines).
log "building ${targets[*]/%/_fuzzer} (output: $build/build.log)"
start=$SECONDS
if ! cmake --build "$build" --target "${targets[@]/%/_fuzzer}" -j"$(nproc)" >"$build/build.log" 2>&1; then
  grep -E -B2 -A8 'error|Error' "$build/build.log" | head -n 200 >&2
  echo "run_fuzz: FAILED: build (whole output in $build/build.log)" >&2
  exit 1
fi
log "built in $((SECONDS - start)) s"

# -timeout defaults to 60 s per input; a target's .args may change it (the
# policy parser's does: ANTLR's error recovery is quadratic in unclosed `{`).
# New inputs are written to the first directory only, so the seeds stay
# untouched. Non-zero libFuzzer exits mean a finding; the exit codes are set
# to 1 so a finding can never look like ctest's skip code (77, which is also
# libFuzzer's default).
failed=()
findings=()
for name in "${targets[@]}"; do
  fuzzer=$build/tests/fuzz/${name}_fuzzer
  corpus=$build/fuzz-corpus/$name
  artifacts=$build/fuzz-artifacts/$name
  mkdir -p "$corpus" "$artifacts"
  args=(-timeout=60 -max_len=4096)
  seeds=("$root/tests/fuzz/corpus/$name")
  [[ -f $root/tests/fuzz/$name.dict ]] && args+=("-dict=$root/tests/fuzz/$name.dict")
  if [[ -f $root/tests/fuzz/$name.args ]]; then
    while IFS= read -r line; do
      [[ -z $line || $line == \#* ]] && continue
      if [[ $line == -* ]]; then args+=("$line"); else seeds+=("$root/$line"); fi
    done <"$root/tests/fuzz/$name.args"
  fi
  log "fuzzing $name for ${FUZZ_SECONDS}s"
  started=$build/.started-$name  # inputs newer than it are this run's
  touch "$started"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  "$fuzzer" "$corpus" "${seeds[@]}" \
    "${args[@]}" \
    -max_total_time="$FUZZ_SECONDS" \
    -rss_limit_mb=2048 \
    -error_exitcode=1 -timeout_exitcode=1 \
    -artifact_prefix="$artifacts/" \
    -print_final_stats=1 \
    "${extra[@]}" >"$build/fuzz-$name.log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz-$name.log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$build/fuzz-$name.log" | tail -1)
  corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$build/fuzz-$name.log" | tail -1)
  if ((rc != 0)); then
    tail -n 30 "$build/fuzz-$name.log" >&2
    echo "run_fuzz: $name FAILED (libFuzzer exit $rc): see the report above ($build/fuzz-$name.log); inputs in $artifacts/" >&2
    # The finding in a few lines, here and again at the very end (below).
    mine=("$name: $(grep -m3 -E '^==[0-9]+==ERROR|runtime error|^[a-z0-9_]+_fuzzer: |^SUMMARY|ALARM|Timeout|out-of-memory|leak' \
      "$build/fuzz-$name.log" | tr '\n' ' ' | cut -c1-400)")
    for input in "$artifacts"/*; do
      [[ -f $input && $input -nt $started && $(stat -c %s "$input") -le 2048 ]] || continue
      mine+=("$name input $(basename "$input") (base64): $(base64 -w0 "$input")")
    done
    for f in "${mine[@]}"; do echo "run_fuzz: finding: $f" >&2; done
    findings+=("${mine[@]}")
    failed+=("$name")
    continue
  fi
  log "$name OK: ${runs:-?} runs, ${speed:-?} exec/s, ${corp:-corp: ?} ($(find "$corpus" -type f | wc -l) inputs kept in $corpus)"
done
if ((${#failed[@]})); then
  for f in "${findings[@]}"; do echo "run_fuzz: finding: $f" >&2; done
  echo "run_fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
log "OK: ${targets[*]}"
