#!/usr/bin/env bash
# End-to-end tests of `membranec fmt`: stdout mode, --check (exit codes and
# diff), -w (rewrites only files that change, atomically), errors.
#
#   tests/cli/fmt_test.sh path/to/membranec
#
# Prints PASS or FAIL per case, then "N passed, M failed"; exits non-zero if
# any case failed.
source "$(dirname "$0")/harness.sh"

messy=$'namespace   shop\npolicy p{selects {app=web}\ningress{allow from world on tcp / {80,443}}  # web\n\n\n\negress { }}'
canonical=$'namespace shop\n\npolicy p {\n  selects { app = web }\n  ingress {\n    allow from world on tcp/{80, 443}\n  } # web\n\n  egress {}\n}\n'

setup() {
  rm -rf "$tmp/p"
  mkdir -p "$tmp/p/sub"
  printf '%s' "$messy" >"$tmp/p/messy.policy"
  printf '%s' "$canonical" >"$tmp/p/sub/clean.policy"
  printf 'not a policy' >"$tmp/p/notes.txt"
}

# ---- cases -------------------------------------------------------------------

setup
run fmt "$tmp/p/messy.policy"
expect_rc 0
[[ $(cat "$out"; echo x) == "${canonical}x" ]] || fail "stdout is not the canonical text"
[[ $(cat "$tmp/p/messy.policy") == "$messy" ]] || fail "stdout mode changed the file"
finish "stdout mode prints the formatted file"

printf '%s' "$messy" >"$tmp/stdin.policy"
last_cmd="membranec fmt - < messy"
"$membranec" fmt - <"$tmp/stdin.policy" >"$out" 2>"$err"
rc=$?
expect_rc 0
[[ $(cat "$out"; echo x) == "${canonical}x" ]] || fail "stdout is not the canonical text"
finish "stdin with -"

run fmt "$tmp/p"
expect_rc 2
expect_err "prints one file to standard output"
finish "stdout mode refuses several files"

run fmt --check "$tmp/p/sub/clean.policy"
expect_rc 0
expect_no_out
finish "--check on a formatted file: exit 0, no output"

run fmt --check "$root/policies/"
expect_rc 0
expect_no_out
finish "--check policies/ (shipped policies are formatted)"

run fmt --check "$tmp/p"
expect_rc 1
expect_out "--- $tmp/p/messy.policy"
expect_out "+++ $tmp/p/messy.policy"
expect_out "@@ -1,7 +1,10 @@"
expect_out "-namespace   shop"
expect_out "+namespace shop"
expect_out "+  egress {}"
expect_out '\ No newline at end of file'
grep -qF "clean.policy" "$out" && fail "diff mentions the clean file"
[[ $(cat "$tmp/p/messy.policy") == "$messy" ]] || fail "--check changed the file"
finish "--check on a directory: diff for the unformatted file, exit 1"

# The diff applies: patching the original gives the formatted text.
if command -v patch >/dev/null; then
  cp "$tmp/p/messy.policy" "$tmp/patched.policy"
  last_cmd="patch"
  patch -s "$tmp/patched.policy" <"$out" >"$err" 2>&1 || fail "patch failed"
  [[ $(cat "$tmp/patched.policy"; echo x) == "${canonical}x" ]] || fail "patched file differs"
  finish "--check diff applies with patch(1)"
fi

setup
touch -d '2001-01-01' "$tmp/p/sub/clean.policy"
chmod 640 "$tmp/p/messy.policy"
run fmt -w "$tmp/p"
expect_rc 0
expect_no_out
expect_err "reformatted $tmp/p/messy.policy"
grep -qF clean.policy "$err" && fail "reported the clean file"
[[ $(cat "$tmp/p/messy.policy"; echo x) == "${canonical}x" ]] || fail "file not rewritten canonically"
[[ $(stat -c %Y "$tmp/p/sub/clean.policy") == $(date -d 2001-01-01 +%s) ]] || fail "unchanged file was rewritten"
[[ $(stat -c %a "$tmp/p/messy.policy") == 640 ]] || fail "permissions not kept"
[[ $(cat "$tmp/p/notes.txt") == "not a policy" ]] || fail "touched a non-policy file"
ls "$tmp/p" | grep -q fmt- && fail "temporary file left behind"
finish "-w rewrites only the files that change, keeping permissions"

run fmt -w "$tmp/p"
expect_rc 0
[[ ! -s $err ]] || fail "second -w reported something"
run fmt --check "$tmp/p"
expect_rc 0
finish "-w then --check: nothing left to do"

setup
printf 'policy broken {\n  selects { app = web\n  ingres {}\n}\n' >"$tmp/p/broken.policy"
cp "$tmp/p/broken.policy" "$tmp/broken.orig"
run fmt -w "$tmp/p"
expect_rc 1
expect_err "broken.policy:3:3: error: expected \`}\` or \`,\`, found \`ingres\`"
cmp -s "$tmp/p/broken.policy" "$tmp/broken.orig" || fail "file with syntax errors was changed"
[[ $(cat "$tmp/p/messy.policy"; echo x) == "${canonical}x" ]] || fail "the other file was not formatted"
finish "syntax errors: diagnostics, exit 1, that file untouched, the others formatted"

run fmt --check "$tmp/p/broken.policy"
expect_rc 1
expect_err "error: expected"
expect_no_out
finish "--check with syntax errors: exit 1"

run fmt --check "$tmp/does-not-exist.policy"
expect_rc 2
expect_err "cannot open"
finish "missing file: exit 2"

run fmt --check -w "$tmp/p"
expect_rc 2
finish "--check and -w together: usage error"

run fmt
expect_rc 2
finish "no paths: usage error"

clause_messy=$'policy api { selects { app = api }\n processes {\n  exe "/usr/local/bin/api"\n  , exe "/usr/bin/python3.11" }\n}'
clause_canonical=$'policy api {\n  selects { app = api }\n  processes { exe "/usr/local/bin/api", exe "/usr/bin/python3.11" }\n}\n'
printf '%s' "$clause_messy" >"$tmp/clause.policy"
run fmt "$tmp/clause.policy"
expect_rc 0
[[ $(cat "$out"; echo x) == "${clause_canonical}x" ]] || fail "stdout is not the canonical text"
printf '%s' "$clause_canonical" >"$tmp/clause-clean.policy"
run fmt --check "$tmp/clause-clean.policy"
expect_rc 0
expect_no_out
finish "a policy's processes clause is laid out on one line and reads back unchanged"

summary
