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

# ---- paths that are not files, and size caps ---------------------------------------

# run_bounded ARGS...: run, but killed after 20 s (exit 124): a read that
# blocks on a FIFO or never ends on /dev/zero must fail the case, not hang it.
run_bounded() {
  last_cmd="membranec $*"
  timeout 20 "$membranec" "$@" </dev/null >"$out" 2>"$err"
  rc=$?
}

mkfifo "$tmp/fifo.policy" "$tmp/fifo.json"
echo 'policy p { selects {} ingress {} }' >"$tmp/ok.policy"

run_bounded check /dev/zero
expect_rc 2
expect_err "membranec: error: '/dev/zero' is not a regular file (a character device); a policy file must be a file"
finish "check refuses /dev/zero as a policy file"

run_bounded check "$tmp/fifo.policy"
expect_rc 2
expect_err "'$tmp/fifo.policy' is not a regular file (a FIFO); a policy file must be a file"
finish "check refuses a FIFO as a policy file without waiting for a writer"

run_bounded check -i /dev/zero "$tmp/ok.policy"
expect_rc 2
expect_err "'/dev/zero' is not a regular file (a character device); an inventory file must be a file"
finish "check refuses /dev/zero as an inventory"

run_bounded check -i "$tmp/fifo.json" "$tmp/ok.policy"
expect_rc 2
expect_err "'$tmp/fifo.json' is not a regular file (a FIFO); an inventory file must be a file"
finish "check refuses a FIFO as an inventory"

run_bounded check "$tmp/fifo.json"
expect_rc 2
expect_err "'$tmp/fifo.json' is not a regular file (a FIFO); a Kubernetes manifest must be a file"
finish "check refuses a FIFO named like a manifest"

run_bounded import k8s "$tmp/fifo.json"
expect_rc 2
expect_err "'$tmp/fifo.json' is not a regular file (a FIFO); a Kubernetes manifest must be a file"
finish "import refuses a FIFO named like a manifest"

run_bounded fmt "$tmp/fifo.policy"
expect_rc 2
expect_err "'$tmp/fifo.policy' is not a regular file (a FIFO); a policy file must be a file"
finish "fmt refuses a FIFO"

last_cmd="membranec fmt - </dev/zero"
timeout 20 "$membranec" fmt - </dev/zero >"$out" 2>"$err"
rc=$?
expect_rc 2
expect_err "membranec: error: standard input is larger than 8 MiB; membrane reads a policy file of at most 8 MiB"
finish "fmt stops reading an endless standard input at the cap"

# 100 MB of whitespace peaked at 2.2 GB; past the cap it is not read at all.
truncate -s 100M "$tmp/blank.policy"
run_bounded check "$tmp/blank.policy"
expect_rc 2
expect_err "'$tmp/blank.policy' is 100 MiB; membrane reads a policy file of at most 8 MiB"
finish "check refuses a policy file past the cap"

# A policy file at a git revision has the same cap as one on disk.
mkdir -p "$tmp/repo"
(
  cd "$tmp/repo" && git init -q && git config user.email t@example.invalid && git config user.name t &&
    { echo 'policy p { selects {} ingress {} }'; head -c 9000000 /dev/zero | tr '\0' ' '; } >big.policy &&
    git add big.policy && git commit -q -m big
) || fail "cannot make the scratch repository"
echo 'policy p { selects {} ingress {} }' >"$tmp/repo/small.policy"
last_cmd="membranec diff git:HEAD:big.policy small.policy (in the repository)"
(cd "$tmp/repo" && timeout 20 "$membranec" diff git:HEAD:big.policy small.policy </dev/null >"$out" 2>"$err")
rc=$?
expect_rc 2
expect_err "cannot read 'big.policy' at git revision 'HEAD': larger than 8 MiB, the most membrane reads of a policy file"
finish "diff refuses a policy file past the cap at a git revision"

# ---- compile -o DIR ------------------------------------------------------------------

# Any folder holding a file named manifest.json was replaced whole.
mkdir -p "$tmp/webapp/static"
echo '{"name": "My App", "start_url": "/"}' >"$tmp/webapp/manifest.json"
echo '<!doctype html>' >"$tmp/webapp/index.html"
echo 'console.log(1)' >"$tmp/webapp/static/app.js"
(cd "$tmp/webapp" && find . -type f -exec md5sum {} + | sort) >"$tmp/webapp.before"
run compile -i "$root/policies/shop/inventory.json" -o "$tmp/webapp" "$root/policies/shop"
expect_rc 2
expect_err "membranec: error: '$tmp/webapp' is not membrane's output: it holds 'index.html' and 1 more, which membrane does not write; refusing to replace it"
(cd "$tmp/webapp" && find . -type f -exec md5sum {} + | sort) >"$tmp/webapp.after"
cmp -s "$tmp/webapp.before" "$tmp/webapp.after" || fail "the folder changed"
finish "compile -o refuses a web app's folder that holds a manifest.json, and leaves it as it was"

run compile -q -i "$root/policies/shop/inventory.json" -o "$tmp/out" "$root/policies/shop"
expect_rc 0
run compile -q -o "$tmp/out" "$root/policies/shop"
expect_rc 0
# Without an inventory nothing is selected: only the open class is written.
[[ $(ls "$tmp/out" | tr '\n' ' ') == "class-0.o manifest.json " ]] ||
  fail "the earlier objects were not replaced: $(ls "$tmp/out" | tr '\n' ' ')"
finish "compile -o replaces its own earlier output as a whole"

# ---- long lines in diagnostics ------------------------------------------------------

# A 10 MB label value printed 31 MB of errors (the message, the line and the
# caret line each held it whole); 7 MB stays under the policy file cap.
{
  printf 'policy p {\n  selects { app = '
  head -c 7000000 /dev/zero | tr '\0' 'v'
  printf ' }\n  ingress {}\n}\n'
} >"$tmp/long.policy"
run check "$tmp/long.policy"
expect_rc 1
expect_err "long.policy:2:13: error: invalid label value 'vvvvvvvvvv"
expect_err "...': is longer than 63 characters"
size=$(wc -c <"$err")
((size < 2000)) || fail "stderr is $size bytes, expected a few lines"
finish "a 7 MB label value is reported in a few short lines"

summary
