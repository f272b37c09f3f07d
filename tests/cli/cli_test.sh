#!/usr/bin/env bash
# End-to-end tests of the membranec command line: exit codes, messages,
# output files and colour.
#
#   tests/cli/cli_test.sh path/to/membranec [CASE...]
#
# With CASE names (substrings), only matching cases run. Every case prints
# PASS or FAIL (with the reasons and the command's output); the last line is
# "N passed, M failed", and the exit status is non-zero if any case failed.
set -uo pipefail

if (($# < 1)) || [[ ! -x $1 ]]; then
  echo "usage: $0 path/to/membranec [CASE...]" >&2
  exit 2
fi
membranec=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
filters=("$@")

root=$(cd "$(dirname "$0")/../.." && pwd)
policies=$root/policies
inventory=$root/policies/shop/inventory.json

tmp=$(mktemp -d "${TMPDIR:-/tmp}/membranec-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# The tests decide about colour themselves.
unset NO_COLOR CLICOLOR CLICOLOR_FORCE

passed=0
failed=0
failed_names=()
why=()
rc=0
out=$tmp/stdout
err=$tmp/stderr
esc=$'\033['

# ---- helpers ---------------------------------------------------------------

# run ARGS...: runs membranec with stdin closed; sets rc, $out and $err.
run() {
  last_cmd="membranec $*"
  "$membranec" "$@" </dev/null >"$out" 2>"$err"
  rc=$?
}

# run_env VAR=VALUE... -- ARGS...
run_env() {
  local vars=()
  while [[ $1 != -- ]]; do vars+=("$1"); shift; done
  shift
  last_cmd="${vars[*]} membranec $*"
  env "${vars[@]}" "$membranec" "$@" </dev/null >"$out" 2>"$err"
  rc=$?
}

fail() { why+=("$*"); }

expect_rc() {
  [[ $rc == "$1" ]] || fail "exit code $rc, expected $1"
}
# expect_contains FILE TEXT: fixed-string match
expect_contains() {
  grep -qF -- "$2" "$1" || fail "$(basename "$1") does not contain: $2"
}
expect_not_contains() {
  ! grep -qF -- "$2" "$1" || fail "$(basename "$1") unexpectedly contains: $2"
}
# expect_match FILE REGEX: extended regex, some line matches
expect_match() {
  grep -qE -- "$2" "$1" || fail "$(basename "$1") has no line matching /$2/"
}
# expect_line_match FILE N REGEX: line N matches the extended regex
expect_line_match() {
  local line
  line=$(sed -n "${2}p" "$1")
  [[ $line =~ $3 ]] || fail "$(basename "$1") line $2 is '$line', expected a match for /$3/"
}
# ere TEXT: TEXT with extended-regex metacharacters escaped
ere() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|]/\\&/g'; }
expect_empty() {
  [[ ! -s $1 ]] || fail "$(basename "$1") should be empty"
}
expect_ansi() {
  grep -qF -- "$esc" "$1" || fail "$(basename "$1") has no ANSI escape sequences"
}
expect_no_ansi() {
  ! grep -qF -- "$esc" "$1" || fail "$(basename "$1") has ANSI escape sequences"
}
expect_json() {
  python3 -m json.tool "$1" >/dev/null 2>"$tmp/json.err" || fail "$(basename "$1") is not valid JSON: $(head -1 "$tmp/json.err")"
}
# expect_line FILE N TEXT: line N is exactly TEXT
expect_line() {
  local line
  line=$(sed -n "${2}p" "$1")
  [[ $line == "$3" ]] || fail "$(basename "$1") line $2 is '$line', expected '$3'"
}

# Runs one case function with a fresh output state and reports it.
t() {
  local name=$1
  if ((${#filters[@]})); then
    local f match=0
    for f in "${filters[@]}"; do [[ $name == *"$f"* ]] && match=1; done
    ((match)) || return 0
  fi
  why=()
  last_cmd=""
  : >"$out"
  : >"$err"
  "case_$name"
  if ((${#why[@]} == 0)); then
    echo "PASS $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    local w
    for w in "${why[@]}"; do echo "     - $w"; done
    [[ -n $last_cmd ]] && echo "     last command: $last_cmd (exit $rc)"
    if [[ -s $out ]]; then echo "     stdout:"; head -20 "$out" | sed 's/^/       | /'; fi
    if [[ -s $err ]]; then echo "     stderr:"; head -20 "$err" | sed 's/^/       | /'; fi
    failed=$((failed + 1))
    failed_names+=("$name")
  fi
}

# ---- fixtures --------------------------------------------------------------

mkdir -p "$tmp/syntax" "$tmp/semantic" "$tmp/empty/sub" "$tmp/out"
# The caret goes under `ingres` at 3:3.
syntax=$tmp/syntax/bad.policy
cat >"$syntax" <<'EOF'
policy web {
  selects { app = web }
  ingres {
    allow from world on tcp/80
  }
}
EOF
semantic=$tmp/semantic/unknown.policy
cat >"$semantic" <<'EOF'
policy web {
  selects nowhere
  ingress {}
}
EOF
echo "not a policy" >"$tmp/empty/sub/README.txt"
printf '{"namespaces": [\n' >"$tmp/truncated.json"
cat >"$tmp/bad-address.json" <<'EOF'
{
  "endpoints": [
    {"name": "web-0", "namespace": "shop", "labels": {"app": "web"}, "addresses": ["10.1.2.300"]}
  ]
}
EOF
policy_files=$(find "$policies" -name '*.policy' | wc -l)
mkdir -p "$tmp/http"
http_policy=$tmp/http/api.policy
cat >"$http_policy" <<'EOF'
namespace shop
policy api-http {
  selects { app = api }
  ingress {
    allow from pods { app = frontend } on tcp/8080 with http {
      GET "/api/v1/products/*";
      POST "/api/v1/orders" header "Content-Type" = "application/json"
    }
  }
}
EOF

# ---- cases -----------------------------------------------------------------

case_check_policies_ok() {
  run check --inventory "$inventory" "$policies"
  expect_rc 0
  expect_empty "$out"
  expect_match "$err" "^checked $policy_files files: [0-9]+ polic(y|ies), [0-9]+ endpoints? in [0-9]+ class(es)?; 0 errors, 0 warnings$"
}

case_check_quiet() {
  run check -q --inventory "$inventory" "$policies"
  expect_rc 0
  expect_empty "$err"
  expect_empty "$out"
}

case_check_file_and_its_directory_once() {
  run check "$policies/shop/common.policy" "$policies/shop"
  expect_rc 0
  expect_match "$err" "^checked $policy_files files"
}

case_syntax_error() {
  run check --color never "$syntax"
  expect_rc 1
  expect_line_match "$err" 1 "^$(ere "$syntax"):3:3: error: .+"
  expect_line "$err" 2 "    ingres {"
  expect_line "$err" 3 "    ^~~~~~"
  expect_match "$err" "^checked 1 file; 1 error, 0 warnings$"
}

case_semantic_error() {
  run check --color never "$semantic"
  expect_rc 1
  expect_line "$err" 1 "$semantic:2:11: error: unknown selector 'nowhere'"
  expect_line "$err" 2 "    selects nowhere"
  expect_line "$err" 3 "            ^~~~~~~"
}

case_ir_refuses_policy_errors() {
  run ir "$syntax"
  expect_rc 1
  expect_empty "$out"
  expect_contains "$err" "$syntax:3:3: error:"
}

case_nonexistent_path() {
  run check "$tmp/does-not-exist.policy"
  expect_rc 2
  expect_contains "$err" "$tmp/does-not-exist.policy"
  expect_contains "$err" "no such file"
  expect_not_contains "$err" "checked "
}

case_inventory_invalid_json() {
  run check --inventory "$tmp/truncated.json" "$policies"
  expect_rc 2
  expect_contains "$err" "$tmp/truncated.json"
  expect_contains "$err" "JSON"
}

case_inventory_invalid_address() {
  run check --inventory "$tmp/bad-address.json" "$policies"
  expect_rc 2
  expect_contains "$err" "$tmp/bad-address.json"
  expect_contains "$err" "endpoints[0].addresses[0]"
  expect_contains "$err" "10.1.2.300"
}

case_inventory_missing_file() {
  run check --inventory "$tmp/no-inventory.json" "$policies"
  expect_rc 2
  expect_contains "$err" "$tmp/no-inventory.json"
}

case_directory_without_policies() {
  run check "$tmp/empty"
  expect_rc 2
  expect_contains "$err" "no *.policy files in '$tmp/empty'"
}

case_help() {
  run --help
  expect_rc 0
  # Every subcommand membranec defines must be listed.
  local subs
  subs=$(tr '\n' ' ' <"$root/compiler/driver/membranec.cpp" |
    grep -oE 'add_subcommand\([[:space:]]*"[a-z0-9-]+"' | sed -E 's/.*"([a-z0-9-]+)"$/\1/')
  [[ -n $subs ]] || fail "found no add_subcommand(...) in compiler/driver/membranec.cpp"
  local s
  for s in check ir $subs; do expect_match "$out" "^ +$s( |$)"; done
  expect_contains "$out" "Exit codes"
}

case_subcommand_help() {
  run check --help
  expect_rc 0
  expect_contains "$out" "--inventory"
  expect_contains "$out" "--color"
  run ir --help
  expect_rc 0
  expect_contains "$out" "--output"
  expect_contains "$out" "--format"
}

case_version() {
  run --version
  expect_rc 0
  expect_match "$out" "^membranec [0-9]+\.[0-9]+\.[0-9]+"
}

case_no_subcommand() {
  run
  expect_rc 2
  expect_contains "$err" "subcommand"
}

case_unknown_subcommand() {
  run frobnicate "$policies"
  expect_rc 2
}

case_unknown_option() {
  run check --frobnicate "$policies"
  expect_rc 2
  expect_contains "$err" "--frobnicate"
  run --frobnicate
  expect_rc 2
}

case_missing_paths_argument() {
  run check
  expect_rc 2
  expect_contains "$err" "paths"
}

case_bad_option_value() {
  run check --color sometimes "$policies"
  expect_rc 2
  run ir --format yaml "$policies"
  expect_rc 2
}

case_ir_json() {
  run ir --inventory "$inventory" "$policies"
  expect_rc 0
  expect_empty "$err"
  expect_json "$out"
  python3 - "$out" <<'EOF' || fail "IR JSON lacks non-empty classes/endpoints/selectors/rules arrays"
import json, sys
ir = json.load(open(sys.argv[1]))
sys.exit(0 if all(isinstance(ir.get(k), list) and ir[k] for k in ("classes", "endpoints", "selectors", "rules")) else 1)
EOF
}

case_ir_text_lists_classes() {
  run ir --inventory "$inventory" "$policies"
  local classes
  classes=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["classes"]))' "$out" 2>/dev/null)
  run ir --format text --inventory "$inventory" "$policies"
  expect_rc 0
  expect_match "$out" "^class [0-9]+"
  local listed
  listed=$(grep -cE '^class [0-9]+' "$out")
  [[ $listed == "${classes:-?}" ]] || fail "text lists $listed classes, the JSON has ${classes:-?}"
  expect_match "$out" "^  endpoints: shop/frontend-0"
}

case_ir_output_file() {
  run ir --inventory "$inventory" "$policies"
  cp "$out" "$tmp/out/stdout.json"
  run ir --inventory "$inventory" -o "$tmp/out/ir.json" "$policies"
  expect_rc 0
  expect_empty "$out"
  if [[ -f $tmp/out/ir.json ]]; then
    expect_json "$tmp/out/ir.json"
    cmp -s "$tmp/out/ir.json" "$tmp/out/stdout.json" || fail "-o FILE differs from standard output"
  else
    fail "-o did not create $tmp/out/ir.json"
  fi
  # -o replaces an existing file.
  printf 'old contents that are longer than nothing\n%.0s' {1..2000} >"$tmp/out/ir.json"
  run ir --inventory "$inventory" --output "$tmp/out/ir.json" "$policies"
  expect_rc 0
  cmp -s "$tmp/out/ir.json" "$tmp/out/stdout.json" || fail "--output did not replace an existing file"
}

case_ir_output_unwritable() {
  run ir -o "$tmp/no-such-dir/ir.json" "$policies"
  expect_rc 2
  expect_contains "$err" "$tmp/no-such-dir/ir.json"
}

# --cache DIR (or $MEMBRANE_CACHE_DIR) reads every class back on the second
# run and writes the same output; --no-cache wins over the environment; a
# cache that cannot be made is exit 2 before anything is written.
case_compile_cache_flag_environment_and_refusal() {
  run compile --inventory "$inventory" -o "$tmp/out/nocache" "$policies"
  expect_rc 0
  run compile --cache "$tmp/cache" --inventory "$inventory" -o "$tmp/out/cold" "$policies"
  expect_rc 0
  grep -qE '; 0 of [0-9]+ from the cache; ' "$err" || fail "cold: $(cat "$err")"
  MEMBRANE_CACHE_DIR="$tmp/cache" run compile --inventory "$inventory" -o "$tmp/out/warm" "$policies"
  expect_rc 0
  local n
  n=$(sed -nE 's/.*; ([0-9]+) of ([0-9]+) from the cache;.*/\1 \2/p' "$err")
  [[ -n $n && ${n% *} == "${n#* }" ]] || fail "warm: not every class from the cache: $(cat "$err")"
  diff -r "$tmp/out/nocache" "$tmp/out/warm" >/dev/null || fail "the output with the cache differs from without"
  MEMBRANE_CACHE_DIR="$tmp/cache" run compile --no-cache --inventory "$inventory" -o "$tmp/out/none" "$policies"
  expect_rc 0
  ! grep -q "from the cache" "$err" || fail "--no-cache read the cache: $(cat "$err")"
  : >"$tmp/not-a-dir"
  run compile --cache "$tmp/not-a-dir" --inventory "$inventory" -o "$tmp/out/refused" "$policies"
  expect_rc 2
  expect_err "cannot use '$tmp/not-a-dir' as the cache"
  [[ ! -e $tmp/out/refused ]] || fail "a refused compile wrote its output"
}

# A pipeline asks for progress with --progress (standard error is a file
# here, not a terminal): lines of classes done with the time so far, the
# last one all of them; without the flag, none.
case_compile_progress_only_when_asked() {
  run compile --inventory "$inventory" -o "$tmp/out/quiet" "$policies"
  expect_rc 0
  ! grep -q "classes (" "$err" || fail "progress without --progress: $(cat "$err")"
  run compile --progress --inventory "$inventory" -o "$tmp/out/progress" "$policies"
  expect_rc 0
  grep -qE '^compiled [0-9]+/[0-9]+ classes \([0-9.]+ m?s\)$' "$err" || fail "no progress line: $(cat "$err")"
  local last
  last=$(grep -E '^compiled [0-9]+/[0-9]+ classes' "$err" | tail -1 | sed -E 's/^compiled ([0-9]+)\/([0-9]+) .*/\1 \2/')
  [[ -n $last && ${last% *} == "${last#* }" ]] || fail "the last progress line is not all classes: $last"
}

# An http policy checks, prints its requests in the IR and compiles, ingress
# and egress: the manifest names each class's HTTP ports by direction, which
# the node's socket layer polices.
case_http_rules_check_print_and_compile() {
  run check --inventory "$inventory" "$http_policy"
  expect_rc 0
  run ir --inventory "$inventory" "$http_policy"
  expect_rc 0
  python3 - "$out" <<'PY' || fail "the IR's http member is not the two request items"
import json, sys
ir = json.load(open(sys.argv[1]))
rules = [r for c in ir["classes"] for r in c["ingress"]["rules"]]
want = [{"method": "GET", "path": "/api/v1/products/*"},
        {"method": "POST", "path": "/api/v1/orders", "headers": [{"name": "content-type", "value": "application/json"}]}]
sys.exit(0 if rules and all(r.get("http") == want for r in rules) else 1)
PY
  run compile --inventory "$inventory" -o "$tmp/out/http" "$http_policy"
  expect_rc 0
  python3 - "$tmp/out/http/manifest.json" <<'PY' || fail "the manifest does not name the class's HTTP port"
import json, sys
m = json.load(open(sys.argv[1]))
sys.exit(0 if any(c.get("l7", {}).get("http", {}).get("ingress") for c in m["classes"]) else 1)
PY
  mkdir -p "$tmp/http-egress"
  cat >"$tmp/http-egress/frontend.policy" <<'EOF2'
namespace shop
policy frontend-http {
  selects { app = frontend }
  egress {
    allow to pods { app = api } on tcp/8080 with http { GET "/api/v1/products/*" }
  }
}
EOF2
  run compile --inventory "$inventory" -o "$tmp/out/http-egress" "$tmp/http-egress"
  expect_rc 0
  python3 - "$tmp/out/http-egress/manifest.json" <<'PY' || fail "the manifest does not name the egress HTTP port"
import json, sys
m = json.load(open(sys.argv[1]))
sys.exit(0 if any(c.get("l7", {}).get("http", {}).get("egress") for c in m["classes"]) else 1)
PY
}

case_color_always() {
  run check --color always "$syntax"
  expect_rc 1
  expect_ansi "$err"
}

case_color_never() {
  run check --color never "$syntax"
  expect_rc 1
  expect_no_ansi "$err"
}

case_color_auto_not_a_tty() {
  run check "$syntax"
  expect_rc 1
  expect_no_ansi "$err"
  run_env NO_COLOR=1 -- check --color auto "$syntax"
  expect_rc 1
  expect_no_ansi "$err"
}

case_color_always_overrides_no_color() {
  run_env NO_COLOR=1 -- check --color always "$syntax"
  expect_rc 1
  expect_ansi "$err"
}

# Runs membranec with stderr on a pseudo-terminal; the terminal's output goes
# to $err. Returns 3 when no pty can be opened here.
run_on_tty() {
  last_cmd="(stderr on a pty) $*"
  python3 - "$@" >"$err" 2>"$tmp/pty.err" <<'EOF'
import os, subprocess, sys
try:
    master, slave = os.openpty()
except OSError:
    sys.exit(3)
env = dict(os.environ)
args = sys.argv[1:]
while args and "=" in args[0] and not args[0].startswith("-"):
    k, v = args.pop(0).split("=", 1)
    env[k] = v
args = args[1:]  # "--"
p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave, env=env)
os.close(slave)
data = b""
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:  # EIO: the child closed the terminal
        break
    if not chunk:
        break
    data += chunk
sys.stdout.buffer.write(data)
sys.exit(p.wait())
EOF
  rc=$?
}

case_color_auto_on_a_tty() {
  run_on_tty -- "$membranec" check --color auto "$syntax"
  if [[ $rc == 3 ]]; then echo "     (no pseudo-terminal available: checked only the non-tty cases)"; rc=1; return; fi
  expect_rc 1
  expect_ansi "$err"
  run_on_tty NO_COLOR=1 -- "$membranec" check "$syntax"
  expect_rc 1
  expect_no_ansi "$err"
}

# ---- main ------------------------------------------------------------------

echo "membranec: $membranec"
t check_policies_ok
t check_quiet
t check_file_and_its_directory_once
t syntax_error
t semantic_error
t ir_refuses_policy_errors
t nonexistent_path
t inventory_invalid_json
t inventory_invalid_address
t inventory_missing_file
t directory_without_policies
t compile_cache_flag_environment_and_refusal
t help
t subcommand_help
t version
t no_subcommand
t unknown_subcommand
t unknown_option
t missing_paths_argument
t bad_option_value
t ir_json
t ir_text_lists_classes
t ir_output_file
t ir_output_unwritable
t compile_progress_only_when_asked
t http_rules_check_print_and_refuse_compile
t color_always
t color_never
t color_auto_not_a_tty
t color_always_overrides_no_color
t color_auto_on_a_tty

((failed)) && echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed"
((failed == 0 && passed > 0))
