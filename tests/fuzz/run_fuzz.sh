#!/usr/bin/env bash
# Builds the libFuzzer target with clang-14 (ASan + UBSan) in build-fuzz/ and
# fuzzes the policy front end for a bounded time.
#
#   tests/fuzz/run_fuzz.sh                 # 60 s
#   FUZZ_SECONDS=600 tests/fuzz/run_fuzz.sh
#   tests/fuzz/run_fuzz.sh -- -jobs=4      # extra libFuzzer flags after --
#
# Inputs: tests/fuzz/corpus/ (seeds) and policies/ (read only); new inputs go
# to build-fuzz/fuzz-corpus/, crashes to build-fuzz/fuzz-artifacts/.
# Replay a crash: build-fuzz/tests/fuzz/parser_fuzzer build-fuzz/fuzz-artifacts/crash-...
#
# Exit codes: 0 no finding; 1 a crash, leak, UB, timeout or a build failure;
# 77 (ctest's "skipped") when clang-14 or libFuzzer is missing, except under
# CI=true, where a missing toolchain is a failure: CI must really fuzz.
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
root=$PWD

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
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

# -O1 -g: the usual fuzzing trade-off (fast enough, readable stack traces),
# and asserts stay on.
log "configuring $build with $FUZZ_CXX"
CC=$FUZZ_CC CXX=$FUZZ_CXX cmake -S "$root" -B "$build" \
  -DCMAKE_C_COMPILER="$FUZZ_CC" -DCMAKE_CXX_COMPILER="$FUZZ_CXX" \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-O1 -g" -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
  -DMEMBRANE_FUZZ=ON -DMEMBRANE_WERROR=OFF >"$probe/configure.log" 2>&1 || {
  cat "$probe/configure.log" >&2
  echo "run_fuzz: FAILED: cmake configure" >&2
  exit 1
}

log "building parser_fuzzer"
start=$SECONDS
cmake --build "$build" --target parser_fuzzer -j"$(nproc)" || { echo "run_fuzz: FAILED: build" >&2; exit 1; }
log "built in $((SECONDS - start)) s"

fuzzer=$build/tests/fuzz/parser_fuzzer
corpus=$build/fuzz-corpus
artifacts=$build/fuzz-artifacts
mkdir -p "$corpus" "$artifacts"

# -timeout: the slowest input known is ~4000 unclosed `{` inside a `with`
# block: ANTLR's error recovery rebuilds the prediction context from the whole
# rule stack at every level (PredictionContext::fromRuleContext), which is
# quadratic: ~2 s in the optimized g++ build, ~30 s here under ASan for both
# runs of the input. Anything slower than 120 s is treated as a hang.
#
# New inputs are written to the first directory only, so the seeds and
# policies/ stay untouched. Non-zero libFuzzer exits mean a finding; the exit
# codes are set to 1 so a finding can never look like ctest's skip code (77,
# which is also libFuzzer's default).
log "fuzzing for ${FUZZ_SECONDS}s"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
"$fuzzer" "$corpus" "$root/tests/fuzz/corpus" "$root/policies" \
  -dict="$root/tests/fuzz/policy.dict" \
  -max_len=4096 \
  -max_total_time="$FUZZ_SECONDS" \
  -timeout=120 \
  -rss_limit_mb=2048 \
  -error_exitcode=1 -timeout_exitcode=1 \
  -artifact_prefix="$artifacts/" \
  -print_final_stats=1 \
  "${extra[@]}" 2>&1 | tee "$build/fuzz.log"
rc=${PIPESTATUS[0]}

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz.log" | tail -1)
speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$build/fuzz.log" | tail -1)
corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$build/fuzz.log" | tail -1)
if ((rc != 0)); then
  echo "run_fuzz: FAILED (libFuzzer exit $rc): see the report above; inputs in $artifacts/" >&2
  exit 1
fi
log "OK: ${runs:-?} runs, ${speed:-?} exec/s, ${corp:-corp: ?} ($(find "$corpus" -type f | wc -l) inputs kept in $corpus)"
