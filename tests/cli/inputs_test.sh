#!/usr/bin/env bash
# End-to-end tests of how membranec survives hostile inputs: nesting that
# once overflowed the stack, paths that are not regular files, inputs past
# their size caps, long source lines in diagnostics, and `compile -o` into
# a directory that is not membrane's.
#
#   tests/cli/inputs_test.sh path/to/membranec
#
# Prints PASS or FAIL per case, then "N passed, M failed"; exits non-zero if
# any case failed. Inputs are generated here, never committed.
source "$(dirname "$0")/harness.sh"

# ---- nesting ------------------------------------------------------------------------

# 70,000 nested braces in a `with` body: a stack overflow (SIGSEGV) in check,
# fmt and lint before the parser bounded the depth.
{
  printf 'policy p {\n  selects {}\n  ingress {\n    allow from world with x '
  head -c 70000 /dev/zero | tr '\0' '{'
  head -c 70000 /dev/zero | tr '\0' '}'
  printf '\n  }\n}\n'
} >"$tmp/deep.policy"
for cmd in check fmt lint; do
  run "$cmd" "$tmp/deep.policy"
  expect_rc 1
  expect_err "deep.policy:4:91: error: blocks nest deeper than 64"
  finish "$cmd reports 70,000 nested blocks at the first one past the limit"
done

# A chain of 10,000 definitions, each using the next: a stack overflow in the
# checker before it resolved definitions with an explicit stack.
for ((i = 0; i < 10000; i++)); do echo "peers p$i = p$((i + 1))"; done >"$tmp/chain.policy"
echo 'peers p10000 = world' >>"$tmp/chain.policy"
echo 'policy p { selects {} egress { allow to p0 } }' >>"$tmp/chain.policy"
run check "$tmp/chain.policy"
expect_rc 0
expect_err "checked 1 file: 1 policy; 0 errors"
finish "check resolves a chain of 10,000 definitions"

summary
