#!/usr/bin/env bash
# End-to-end tests of `membranec diff` and `membranec explain` on the shipped
# shop example and a modified copy of it (in a temporary directory): output
# formats, exit codes, git:REV, errors.
#
#   tests/cli/review_test.sh path/to/membranec
#
# Prints PASS or FAIL per case, then "N passed, M failed"; exits non-zero if
# any case failed. Needs python3 (JSON checks) and git (git:REV).
source "$(dirname "$0")/harness.sh"
shop=$root/policies/shop
inv=$shop/inventory.json

# A Python expression over the JSON on stdout (as `j`) that must be true.
expect_json() {
  python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
    "$out" "$1" 2>/dev/null || fail "JSON check failed: $1"
}

# The change under review: Prometheus may now scrape the frontend (a new
# rule), and the partner block on the frontend grows from a /24 to a /22.
cp -r "$shop" "$tmp/new"
python3 - "$tmp/new/frontend.policy" <<'EOF'
import sys
p = sys.argv[1]
s = open(p).read()
s = s.replace("    allow from host on tcp/8081\n",
              "    allow from host on tcp/8081\n"
              "    allow from pods { app = prometheus } in namespaces { purpose = monitoring } on tcp/9100\n")
s = s.replace("deny from cidr 198.19.66.0/24", "deny from cidr 198.19.64.0/22")
open(p, "w").write(s)
EOF

# ---- diff ------------------------------------------------------------------------

run diff -i "$inv" "$shop" "$shop" --exit-code
expect_rc 0
expect_out "no connectivity change"
finish "diff: identical versions, exit code 0"

run diff -i "$inv" "$shop" "$tmp/new"
expect_rc 0
expect_out "1 flow added, 2 flows removed; policies: 2 rules added, 1 removed"
expect_out "+ monitoring/prometheus -> shop/frontend: TCP 9100"
expect_out "now allowed: ingress of shop/frontend: \`allow from pods { app = prometheus } in namespaces { purpose = monitoring } on tcp/9100\` (shop/frontend, $tmp/new/frontend.policy:11:5)"
expect_out "was denied: ingress of shop/frontend: default deny (selected by shop/default-deny, shop/frontend, shop/frontend-https-only)"
expect_out "- 198.19.64.0-198.19.65.255 -> shop/frontend: TCP 80,443"
expect_out "- 198.19.67.0-198.19.67.255 -> shop/frontend: TCP 80,443"
expect_out "now denied: ingress of shop/frontend: \`deny from cidr 198.19.64.0/22\` (shop/frontend, $tmp/new/frontend.policy:13:5)"
expect_out "was allowed: ingress of shop/frontend: \`allow from world on tcp/80, tcp/443\` (shop/frontend, $shop/frontend.policy:8:5)"
# 198.19.66.0/24 was denied before and still is: no change there.
expect_no_out_text "198.19.66.0-198.19.66.255"
finish "diff: text lists the added and removed flows with their rules"

run diff -i "$inv" "$shop" "$tmp/new" --exit-code
expect_rc 1
finish "diff --exit-code: 1 when connectivity changed"

run diff -i "$inv" "$shop" "$tmp/new" --format md
expect_rc 0
expect_out "<!-- membranec diff -->"
expect_out "**Policy review:** 1 flow added, 2 flows removed."
expect_out "#### Added flows (1)"
expect_out "| \`monitoring/prometheus\` | \`shop/frontend\` | TCP 9100 | "
expect_out "#### Removed flows (2)"
expect_out "| \`198.19.64.0-198.19.65.255\` | \`shop/frontend\` | TCP 80,443 | ingress of \`shop/frontend\`: \`deny from cidr 198.19.64.0/22\`"
finish "diff --format md: a pull-request comment"

run diff -i "$inv" "$shop" "$shop" --format md
expect_rc 0
expect_out "**Policy review:** No connectivity change for this inventory."
finish "diff --format md: no change"

run diff -i "$inv" "$shop" "$tmp/new" --format json
expect_rc 0
expect_json 'j["changed"] is True and len(j["added"]) == 1 and len(j["removed"]) == 2'
expect_json 'j["added"][0]["src"] == "monitoring/prometheus" and j["added"][0]["dst"] == "shop/frontend"'
expect_json 'j["added"][0]["conns"] == {"TCP": ["9100"]}'
expect_json '[c["kind"] for c in j["added"][0]["after"]] == ["open", "rule"]'
expect_json 'j["added"][0]["after"][1]["location"].endswith("/new/frontend.policy:11:5")'
expect_json 'j["removed"][0]["after"][0]["action"] == "deny"'
expect_json 'j["policies"] == {"added": [], "removed": [], "rulesAdded": 2, "rulesRemoved": 1, "tiersChanged": []}'
finish "diff --format json: the contract"

run diff -i "$inv" "$shop" "$tmp/new" --format json -o "$tmp/diff.json" --exit-code
expect_rc 1
python3 -c 'import json, sys; assert json.load(open(sys.argv[1]))["changed"]' "$tmp/diff.json" 2>/dev/null ||
  fail "-o file missing or not the JSON"
finish "diff -o FILE writes the output there"

cp -r "$tmp/new" "$tmp/broken"
printf 'namespace shop\npolicy oops { selects { app = api } ingress { allow from pods nope } }\n' >"$tmp/broken/oops.policy"
run diff -i "$inv" "$shop" "$tmp/broken" --exit-code
expect_rc 3
expect_err "$tmp/broken/oops.policy:2:"
expect_err "error:"
finish "diff: policy errors in a version exit 3, with file:line:col"

run diff -i "$inv" "$shop" "$tmp/missing"
expect_rc 2
expect_err "membranec: error: cannot open '$tmp/missing'"
finish "diff: a missing version is exit code 2"

run diff -i "$inv" "$shop"
expect_rc 2
finish "diff: one version only is a usage error"

# git:REV — the old version from a commit of a scratch repository.
repo=$tmp/repo
mkdir -p "$repo/policies"
cp -r "$shop" "$repo/policies/shop"
git_() { git -C "$repo" -c user.name=t -c user.email=t@example.invalid -c commit.gpgsign=false "$@" >/dev/null 2>&1; }
if git_ init -q && git_ add -A && git_ commit -qm base; then
  cp "$tmp/new/frontend.policy" "$repo/policies/shop/frontend.policy"
  cd "$repo" || exit 2
  run diff -i "$inv" --format json git:HEAD policies/shop
  expect_rc 0
  expect_json 'len(j["added"]) == 1 and len(j["removed"]) == 2'
  expect_json 'j["removed"][0]["before"][0]["location"] == "HEAD:policies/shop/frontend.policy:8:5"'
  finish "diff git:HEAD PATH: the old version as committed"

  cd "$repo/policies" || exit 2
  run diff -i "$inv" git:HEAD:shop shop --exit-code
  expect_rc 1
  finish "diff git:REV:PATH from a subdirectory"

  cd "$repo" || exit 2
  run diff -i "$inv" git:no-such-rev policies/shop
  expect_rc 2
  expect_err "membranec: error: cannot list 'policies/shop' at git revision 'no-such-rev'"
  finish "diff git:REV: an unknown revision is exit code 2"
  cd "$root" || exit 2
else
  fail "cannot create a git repository in $repo"
  finish "diff git:HEAD PATH: the old version as committed"
fi

# ---- diff: HTTP requests ---------------------------------------------------------
# The API's rule from the frontend gains an http condition (http-new), then
# its GET widens (http-wider): the same flows, different requests.
http_variant() { # http_variant DIR ITEMS: the shop with the frontend's API rule allowing ITEMS, or every request if none
  cp -r "$shop" "$1"
  python3 - "$1/api.policy" "$2" <<'EOF'
import re, sys
p, items = sys.argv[1], sys.argv[2]
s = open(p).read()
rule = re.compile(r"allow from pods frontend on tcp/8080 with http \{.*\}\n")
if not rule.search(s):
    sys.exit("api.policy has no http rule from the frontend to change")
new = "allow from pods frontend on tcp/8080 with http { " + items + " }\n" if items else "allow from pods frontend on tcp/http\n"
open(p, "w").write(rule.sub(lambda m: new, s, count=1))
EOF
}
# The shop as it was before its api read the frontend's requests.
http_variant "$tmp/http-plain" "" || fail "cannot write the plain variant"
http_variant "$tmp/http-new" 'GET "/api/v1/products/*"; POST "/api/v1/orders"' || fail "cannot write the http variant"
http_variant "$tmp/http-wider" 'GET "/api/**"; POST "/api/v1/orders"' || fail "cannot write the http variant"

run diff -i "$inv" "$tmp/http-plain" "$tmp/http-new"
expect_rc 0
expect_out "0 flows added, 0 flows removed, 1 flow with HTTP requests changed; policies: 1 rule added, 1 removed"
expect_out "~ shop/frontend -> shop/api: TCP 8080 HTTP requests changed"
expect_out '    requests now: GET "/api/v1/products/*"; POST "/api/v1/orders"'
expect_out "    requests were: every request (not read)"
expect_out "    now decided by: ingress of shop/api: \`allow from pods frontend on tcp/8080 with http { GET \"/api/v1/products/*\"; POST \"/api/v1/orders\" }\` (shop/api, $tmp/http-new/api.policy:16:5)"
expect_out "    was decided by: ingress of shop/api: \`allow from pods frontend on tcp/http\` (shop/api, $tmp/http-plain/api.policy:16:5)"
expect_no_out_text "no connectivity change"
finish "diff: an http condition added to a plain rule is a request change"

run diff -i "$inv" "$tmp/http-plain" "$tmp/http-new" --exit-code
expect_rc 1
finish "diff --exit-code: 1 when only HTTP requests changed"

run diff -i "$inv" "$tmp/http-new" "$tmp/http-wider" --exit-code --format json
expect_rc 1
expect_json 'j["changed"] is True and j["added"] == [] and j["removed"] == [] and len(j["requestsChanged"]) == 1'
expect_json 'j["requestsChanged"][0]["src"] == "shop/frontend" and j["requestsChanged"][0]["dst"] == "shop/api"'
expect_json 'j["requestsChanged"][0]["conns"] == {"TCP": ["8080"]}'
expect_json 'j["requestsChanged"][0]["requestsBefore"] == {"requests": ["GET \"/api/v1/products/*\"", "POST \"/api/v1/orders\""], "deniedRequests": []}'
expect_json 'j["requestsChanged"][0]["requestsAfter"] == {"requests": ["GET \"/api/**\"", "POST \"/api/v1/orders\""], "deniedRequests": []}'
expect_json '[c["location"] for c in j["requestsChanged"][0]["before"]] == [sys.argv[1].rsplit("/", 1)[0] + "/http-new/api.policy:16:5"]'
expect_json '[c["location"] for c in j["requestsChanged"][0]["after"]] == [sys.argv[1].rsplit("/", 1)[0] + "/http-wider/api.policy:16:5"]'
finish "diff --exit-code --format json: request items changed, with the rules in both versions"

run diff -i "$inv" "$tmp/http-wider" "$tmp/http-plain" --format md
expect_rc 0
expect_out "**Policy review:** 0 flows added, 0 flows removed, 1 flow with HTTP requests changed."
expect_out "#### HTTP requests changed (1)"
expect_out "| \`shop/frontend\` | \`shop/api\` | TCP 8080 | every request (not read) | \`GET \"/api/**\"\`<br>\`POST \"/api/v1/orders\"\` | "
finish "diff --format md: an http condition removed"

run diff -i "$inv" "$tmp/http-new" "$tmp/http-new" --exit-code --format json
expect_rc 0
expect_json 'j["changed"] is False and j["requestsChanged"] == []'
finish "diff --exit-code: the same HTTP rules are no change"

# ---- explain ---------------------------------------------------------------------

run explain -i "$inv" "$shop" --from shop/frontend --to shop/api --port tcp/8080 --exit-code
expect_rc 0
expect_out "shop/frontend-0 -> shop/api-0 on tcp/8080: ALLOWED"
expect_out "egress of shop/frontend-0: allowed by a rule"
expect_out "    $shop/frontend.policy:16:5: allow to pods api on tcp/http  [shop/frontend]"
expect_out "ingress of shop/api-0: allowed by a rule"
expect_out "    $shop/api.policy:16:5: allow from pods frontend on tcp/8080 with http { GET \"/api/v1/products\"; GET \"/api/v1/products/*\"; POST \"/api/v1/orders\" header \"Content-Type\" = \"application/json\" }  [shop/api]"
expect_out "  requests: read by the socket layer and decided one by one (HTTP rules apply)"
expect_out "          allow from pods frontend on tcp/8080 with http { GET"
expect_out "          ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~"
expect_out "note: the destination names 2 endpoints, all treated alike; shown for shop/api-0"
finish "explain: an allowed flow, deciding rules with source"

# The shop's api decides the frontend's requests one by one (HTTP rules).
run explain -i "$inv" "$shop" --from shop/frontend --to shop/api --port tcp/8080 --request 'POST /api/v1/orders' --header 'Content-Type: application/json' --exit-code
expect_rc 0
expect_out "shop/frontend-0 -> shop/api-0 on tcp/8080 request POST /api/v1/orders: ALLOWED"
run explain -i "$inv" "$shop" --from shop/frontend --to shop/api --port tcp/8080 --request 'DELETE /api/v1/products/42' --exit-code
expect_rc 1
expect_out "ingress of shop/api-0: denied: no rule matches (default deny)"
expect_out "http-mismatch: the request DELETE /api/v1/products/42 matches none of the rule's 3 request items"
finish "explain --request: the shop's HTTP rule allows an order and denies a DELETE"

run explain -i "$inv" "$shop" --from ops/ci-runner --to app=postgres --port tcp/5432
expect_rc 0
expect_out "ops/ci-runner-0 -> shop/postgres-0 on tcp/5432: DENIED"
expect_out "egress of ops/ci-runner-0: allowed: no policy selects ops/ci-runner-0"
expect_out "not-selected: would match, but policy shop/api does not select ops/ci-runner-0"
expect_out "ingress of shop/postgres-0: denied by a deny rule"
expect_out "    $shop/database.policy:10:5: deny from pods { role = backup, runner = untrusted } in namespace ops  [shop/database]"
expect_out "overridden-by-deny: overridden: deny rules win"
finish "explain: a denied flow, the deny rule and the allow it overrides"

run explain -i "$inv" "$shop" --from ops/ci-runner --to shop/postgres --port tcp/5432 --exit-code
expect_rc 1
finish "explain --exit-code: 1 when denied"

run explain -i "$inv" "$shop" --from 198.19.66.7 --to shop/frontend-1 --port tcp/443 --format json
expect_rc 0
expect_json 'j["allowed"] is False and j["egress"] is None'
expect_json 'j["ingress"]["reason"] == "denied-by-rule" and j["ingress"]["decidingRule"]["location"].endswith("frontend.policy:12:5")'
finish "explain --format json: an outside address"

run explain -i "$inv" "$shop" --from shop/frontnd --to shop/api --port tcp/8080
expect_rc 2
expect_err "membranec: error: --from: no endpoint or workload named 'shop/frontnd'; did you mean 'shop/frontend'?"
finish "explain: an unknown name, with did-you-mean"

run explain -i "$inv" "$shop" --from shop/api --to shop/tier=data --port tcp/5432
expect_rc 2
expect_err "not treated alike"
expect_err "allowed: shop/api-0 -> shop/postgres-0"
finish "explain: a name for endpoints treated differently is an error listing them"

run explain -i "$inv" "$shop" --from shop/api --to shop/nats --port tcp/http
expect_rc 2
expect_err "invalid --port 'tcp/http'"
finish "explain: a bad --port is exit code 2"

# HTTP: the API on tcp/8080 takes only GETs of products from the frontend.
mkdir -p "$tmp/http"
cat >"$tmp/http/api.policy" <<'EOF'
namespace shop
policy api-http {
  selects { app = api }
  ingress {
    allow from pods { app = frontend } on tcp/8080 with http { GET "/api/v1/products/*" }
  }
}
EOF
run explain -i "$inv" "$tmp/http" --from shop/frontend-0 --to shop/api-0 --port tcp/8080
expect_rc 0
expect_out "  requests: read by the socket layer and decided one by one (HTTP rules apply)"
finish "explain: a connection on an HTTP port is decided request by request"

run explain -i "$inv" "$tmp/http" --from shop/frontend-0 --to shop/api-0 --port tcp/8080 \
  --request 'POST /api/v1/products/1' --header 'Host: api' --format json --exit-code
expect_rc 1
expect_json 'j["traffic"] == "tcp/8080 request POST /api/v1/products/1" and j["ingress"]["otherRules"][0]["status"] == "http-mismatch" and j["ingress"]["otherRules"][0]["detail"].endswith("the method is POST, not GET")'
finish "explain --request: the http rule that did not match says why"

run explain -i "$inv" "$tmp/http" --from shop/frontend-0 --to shop/api-0 --port tcp/8080 --request 'GET'
expect_rc 2
expect_err "--request: expected 'METHOD TARGET'"
finish "explain --request: a malformed request is exit code 2"

# Process rules (docs/process.md): only the api's server may reach
# postgres; a second version adds psql.
mkdir -p "$tmp/process" "$tmp/process2"
cat >"$tmp/process/api.policy" <<'EOF'
namespace shop
policy api-process {
  selects { app = api }
  egress {
    allow to pods { app = postgres } on tcp/5432 with process { exe "/usr/local/bin/api" }
  }
}
EOF
sed 's|exe "/usr/local/bin/api" }|exe "/usr/local/bin/api", exe "/usr/bin/psql" }|' "$tmp/process/api.policy" \
  >"$tmp/process2/api.policy"
run explain -i "$inv" "$tmp/process" --from shop/api-0 --to shop/postgres-0 --port tcp/5432
expect_rc 0
expect_out "shop/api-0 -> shop/postgres-0 on tcp/5432: ALLOWED (only for calls by /usr/local/bin/api)"
expect_out "other executables get EPERM"
finish "explain: a flow only a process rule allows names its executables"

run explain -i "$inv" "$tmp/process" --from shop/api-0 --to shop/postgres-0 --port tcp/5432 --exe /usr/bin/curl \
  --format json --exit-code
expect_rc 1
expect_json 'j["executable"] == "/usr/bin/curl" and j["deniedForExecutable"] and j["egress"]["otherRules"][0]["status"] == "process-mismatch"'
finish "explain --exe: a call by another executable is denied for its executable"

run explain -i "$inv" "$tmp/process" --from shop/api-0 --to shop/postgres-0 --port tcp/5432 --exe usr/bin/curl
expect_rc 2
expect_err "--exe: invalid executable 'usr/bin/curl': it is not an absolute path"
finish "explain --exe: a path that is not absolute is exit code 2"

run reach -i "$inv" "$tmp/process" --format json
expect_rc 0
expect_json 'any(f["src"] == "shop/api" and f["dst"] == "shop/postgres" and f["process"] == [{"conns": {"TCP": ["5432"]}, "executables": ["/usr/local/bin/api"]}] for f in j["flows"])'
finish "reach: a flow only a process rule allows lists its executables"

run diff -i "$inv" "$tmp/process" "$tmp/process2" --exit-code
expect_rc 1
expect_out "0 flows added, 0 flows removed, 1 flow with executables changed"
expect_out "    executables added: /usr/bin/psql"
finish "diff --exit-code: an executable added to a process rule is a change"

run explain -i "$inv" "$tmp/broken" --from shop/api --to shop/nats --port tcp/4222
expect_rc 3
expect_err "oops.policy:2:"
finish "explain: policy errors exit 3"

summary
