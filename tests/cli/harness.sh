# Shared harness of the CLI test scripts (fmt, lint, k8s, review). Sourced
# first thing by a script called as `SCRIPT path/to/membranec`:
#
#   source "$(dirname "$0")/harness.sh"
#
# It checks the argument, sets membranec, root and a temporary directory tmp
# (removed on exit, named after the script), and defines run, the expect_*
# checks, finish (PASS or FAIL for one case) and summary (the last line
# "N passed, M failed"; its status is non-zero if any case failed, so a
# script ends with it).
# shellcheck shell=bash
set -uo pipefail

if (($# < 1)) || [[ ! -x $1 ]]; then
  echo "usage: $0 path/to/membranec" >&2
  exit 2
fi
membranec=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
# shellcheck disable=SC2034 # the top of the checkout, for the scripts
root=$(cd "$(dirname "$0")/../.." && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/membranec-$(basename "$0" _test.sh).XXXXXX")
trap 'rm -rf "$tmp"' EXIT
out=$tmp/stdout
err=$tmp/stderr
passed=0
failed=0
why=()

# run ARGS...: runs membranec with stdin closed; sets rc, $out and $err.
run() {
  last_cmd="membranec $*"
  "$membranec" "$@" </dev/null >"$out" 2>"$err"
  rc=$?
}
fail() { why+=("$*"); }
expect_rc() { [[ $rc == "$1" ]] || fail "exit code $rc, expected $1"; }
expect_out() { grep -qF -- "$1" "$out" || fail "stdout lacks: $1"; }
expect_no_out_text() { ! grep -qF -- "$1" "$out" || fail "stdout has: $1"; }
expect_err() { grep -qF -- "$1" "$err" || fail "stderr lacks: $1"; }
expect_no_out() { [[ ! -s $out ]] || fail "stdout not empty"; }
# finish NAME: reports the case (with the reasons and the output if it
# failed) and starts the next one.
finish() {
  if ((${#why[@]} == 0)); then
    echo "PASS $1"
    ((passed++))
  else
    echo "FAIL $1 ($last_cmd)"
    printf '  - %s\n' "${why[@]}"
    echo "  stdout:"; sed 's/^/    /' "$out"
    echo "  stderr:"; sed 's/^/    /' "$err"
    ((failed++))
  fi
  why=()
}
summary() {
  echo "$passed passed, $failed failed"
  ((failed == 0))
}
