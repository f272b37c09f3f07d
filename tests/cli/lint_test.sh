#!/usr/bin/env bash
# End-to-end tests of `membranec lint`: exit codes (0 / 1 / 2, --werror),
# the four formats (human, json, sarif, github), -o, --enable/--disable,
# colour, and the shipped example.
#
#   tests/cli/lint_test.sh path/to/membranec
#
# Prints PASS or FAIL per case, then "N passed, M failed"; exits non-zero if
# any case failed. Needs python3 for the JSON checks.
source "$(dirname "$0")/harness.sh"

# Runs a python3 check on the stdout file; its exit status decides.
py() { python3 - "$out" "$@" || fail "python check failed: $*"; }

mkdir -p "$tmp/p"
# One warning (MB111 audit mode).
cat >"$tmp/p/warn.policy" <<'POLICY'
namespace shop

policy trial {
  selects { app = api }
  mode audit
  ingress {}
}
POLICY
# Errors (MB107: SSH from the internet) and warnings (MB101, MB109).
cat >"$tmp/p/err.policy" <<'POLICY'
policy bastion {
  selects { app = bastion }
  ingress {
    allow from world on tcp/22
    allow from world on tcp/22, tcp/22
  }
}
POLICY
printf 'policy broken {\n  selects { app = x }\n  ingress { allow to world }\n}\n' >"$tmp/p/broken.policy"

# ---- the shipped example ---------------------------------------------------------

run lint "$root/policies/shop"
expect_rc 0
expect_out "lint: no findings in 8 files (1 suppressed); not run without an inventory (-i): MB103, MB104, MB105, MB120"
finish "shop lints clean without an inventory, and says which checks did not run"

run lint -i "$root/policies/shop/inventory.json" "$root/policies/shop" --werror
expect_rc 0
expect_out "lint: no findings in 8 files (1 suppressed)"
expect_no_out_text "not run"
finish "shop lints clean with its inventory, also with --werror"

# ---- exit codes -------------------------------------------------------------------

run lint "$tmp/p/warn.policy"
expect_rc 0
expect_out "warn.policy:5:8: warning: policy 'shop/trial' is in audit mode"
expect_out "[MB111 audit-policy]"
expect_out "    mode audit"
expect_out "         ^~~~~"
expect_out "lint: 0 errors, 1 warning in 1 file"
finish "warnings exit 0"

run lint --werror "$tmp/p/warn.policy"
expect_rc 1
finish "--werror: warnings exit 1"

mkdir -p "$tmp/exe"
cat >"$tmp/exe/api.policy" <<'POLICY'
namespace shop

policy api {
  selects { app = api }
  processes { exe "/usr/local/bin/api", exe "/usr/local/bin/apj" }
}
POLICY
cat >"$tmp/exe/inventory.json" <<'JSON'
{"endpoints": [{"name": "api-0", "namespace": "shop", "labels": {"app": "api"},
                "executables": ["/usr/local/bin/api", "/usr/bin/python3.11"]}]}
JSON
run lint -i "$tmp/exe/inventory.json" "$tmp/exe/api.policy"
expect_rc 0
expect_out "api.policy:5:45: warning: \"/usr/local/bin/apj\" is not among the executables the inventory lists for endpoint shop/api-0 the policy selects: it matches no call there [MB120 process-exe-not-in-inventory]"
expect_out "hint: did you mean \"/usr/local/bin/api\"?"
finish "MB120: a clause's executable the inventory lists for no selected endpoint"

printf '{"endpoints": [{"name": "api-0", "namespace": "shop", "executables": ["usr/bin/api"]}]}' >"$tmp/exe/bad.json"
run lint -i "$tmp/exe/bad.json" "$tmp/exe/api.policy"
expect_rc 2
expect_err "endpoints[0].executables[0]: executable \"usr/bin/api\" is not an absolute path"
finish "an inventory's executable is held to the rule of process paths"

run lint "$tmp/p/err.policy"
expect_rc 1
expect_out "err.policy:4:25: error: allow rule exposes port 22 (SSH) to \`world\` [MB107 exposed-sensitive-port]"
expect_out "err.policy:5:37: warning: tcp/22 is listed twice in this rule [MB109 overlapping-ports]"
expect_out "err.policy:5:5: warning: this allow rule is redundant"
expect_out "err.policy:4:5: note: covered by this rule"
finish "an error-level finding exits 1"

run lint --disable MB107 --disable MB109 --disable redundant-rule "$tmp/p/err.policy"
expect_rc 0
expect_out "lint: no findings in 1 file"
finish "--disable by id and by name"

run lint "$tmp/p/broken.policy"
expect_rc 1
expect_err "broken.policy:3:19: error: \`to\` in an \`ingress\` section"
expect_no_out
finish "policy errors exit 1 and no lint runs"

run lint "$tmp/p/nope.policy"
expect_rc 2
expect_err "membranec: error: cannot open"
finish "a missing path exits 2"

run lint --disable MB1O1 "$tmp/p/warn.policy"
expect_rc 2
expect_err "membranec: error: unknown check 'MB1O1'; did you mean \`MB101\`?"
expect_no_out
finish "an unknown check id is a usage error with did-you-mean"

run lint --format xml "$tmp/p/warn.policy"
expect_rc 2
finish "an unknown format is a usage error"

run lint --enable MB112 "$tmp/p/warn.policy" "$tmp/p/err.policy" --disable MB111
expect_rc 1
expect_out "lint: 2 errors, 2 warnings in 2 files"
finish "--enable and --disable together, options after paths"

printf 'policy open {\n  selects {}\n  egress { allow to pods { app = db } }\n}\n' >"$tmp/p/open.policy"
run lint --enable MB112 --werror "$tmp/p/open.policy"
expect_rc 0
expect_out "open.policy:3:12: note: allow rule matches every protocol and port to its peers [MB112 unrestricted-ports]"
finish "--enable turns on an off-by-default check; notes never fail"

# ---- formats ----------------------------------------------------------------------

run lint --format json "$tmp/p/err.policy" "$tmp/p/warn.policy"
expect_rc 1
py <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["version"] == 1, d
checks = [(f["check"], f["line"], f["column"], f["severity"]) for f in d["findings"]]
assert ("MB107", 4, 25, "error") in checks, checks
assert ("MB111", 5, 8, "warning") in checks, checks
assert d["summary"]["errors"] == 2 and d["summary"]["files"] == 2, d["summary"]
assert d["notRun"] == ["MB103", "MB104", "MB105", "MB120"], d["notRun"]
PY
finish "--format json"

(cd "$tmp" && "$membranec" lint --format sarif -o out.sarif p/err.policy p/warn.policy >"$out" 2>"$err")
rc=$?
last_cmd="(cd tmp) membranec lint --format sarif -o out.sarif p/err.policy p/warn.policy"
expect_rc 1
expect_err "wrote out.sarif"
cp "$tmp/out.sarif" "$out"
py <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["version"] == "2.1.0" and "sarif" in d["$schema"], d.keys()
run = d["runs"][0]
rules = run["tool"]["driver"]["rules"]
for r in rules:
    for k in ("id", "name", "shortDescription", "fullDescription", "help", "defaultConfiguration"):
        assert k in r, (r["id"], k)
    assert r["defaultConfiguration"]["level"] in ("error", "warning", "note")
uris = set()
for res in run["results"]:
    assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
    assert res["level"] in ("error", "warning", "note")
    loc = res["locations"][0]["physicalLocation"]
    uris.add(loc["artifactLocation"]["uri"])
    reg = loc["region"]
    assert reg["startLine"] >= 1 and reg["startColumn"] >= 1 and reg["endColumn"] > reg["startColumn"], reg
assert uris == {"p/err.policy", "p/warn.policy"}, uris
PY
finish "--format sarif -o: relative uris, rules consistent"

(cd "$tmp/p" && "$membranec" lint --format sarif --sarif-root "$tmp" warn.policy >"$out" 2>"$err")
rc=$?
last_cmd="(cd tmp/p) membranec lint --format sarif --sarif-root tmp warn.policy"
expect_rc 0
py <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
uri = d["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
assert uri == "p/warn.policy", uri
PY
finish "--sarif-root makes uris relative to another directory"

(cd "$tmp" && "$membranec" lint --format github p/warn.policy p/err.policy >"$out" 2>"$err")
rc=$?
last_cmd="(cd tmp) membranec lint --format github p/warn.policy p/err.policy"
expect_rc 1
expect_out "::warning file=p/warn.policy,line=5,col=8,endColumn=13,title=MB111::policy 'shop/trial' is in audit mode"
expect_out "::error file=p/err.policy,line=4,col=25,endColumn=31,title=MB107::allow rule exposes port 22 (SSH) to \`world\`%0Ahint: "
finish "--format github: workflow commands"

# ---- colour ------------------------------------------------------------------------

run lint --color always "$tmp/p/warn.policy"
grep -q $'\033\\[' "$out" || fail "no colour with --color always"
finish "--color always"

run lint "$tmp/p/warn.policy"
! grep -q $'\033\\[' "$out" || fail "colour when stdout is not a terminal"
finish "--color auto does not colour a pipe"

run lint --help
expect_rc 0
expect_out "MB101 warning   redundant-rule"
expect_out "Exit codes: 0 no finding at error level"
expect_out "membrane-lint: disable MB101 -- the reason"
finish "--help lists the checks, suppressions and exit codes"

summary
