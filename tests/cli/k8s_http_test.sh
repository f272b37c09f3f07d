#!/usr/bin/env bash
# End to end: Cilium's HTTP rules (toPorts[].rules.http) through `membranec
# import k8s`, then `membranec check` on what it wrote and on the manifest
# itself, `compile` of the manifest, and `explain --request` on the imported
# policy. Data:
# tests/data/k8s/cilium-http.yaml.
#
#   tests/cli/k8s_http_test.sh path/to/membranec
source "$(dirname "$0")/harness.sh"
data=$(cd "$(dirname "$0")/../data/k8s" && pwd)

run import k8s "$data/cilium-http.yaml"
expect_rc 0
expect_out "# from cilium.io/v2 CiliumNetworkPolicy empire/deathstar-landing ($data/cilium-http.yaml:22)"
expect_out 'allow from pods { org = empire } on tcp/80 with http { POST "/v1/request-landing"; GET "/v1/ships/*/status" header "X-Fleet" = "empire" }'
finish import_http_stdout

run import k8s -o "$tmp/out" "$data/cilium-http.yaml"
expect_rc 0
finish import_http_output_dir

run fmt --check "$tmp/out"
expect_rc 0
finish import_http_output_is_formatted

run check -i "$tmp/out/inventory.json" "$tmp/out"
expect_rc 0
expect_err "0 errors"
finish import_http_output_checks

run check "$data/cilium-http.yaml"
expect_rc 0
expect_err "0 errors"
finish check_http_manifest_directly

# Compiled as a node enforces them: the manifest names the HTTP ports the
# socket layer reads, the deathstar's on ingress, the tiefighter's on egress.
run compile -o "$tmp/compiled" "$data/cilium-http.yaml"
expect_rc 0
python3 - "$tmp/compiled/manifest.json" <<'PY' || fail "the manifest does not name both HTTP ports"
import json, sys
m = json.load(open(sys.argv[1]))
l7 = [c["l7"]["http"] for c in m["classes"] if "l7" in c]
sys.exit(0 if any(h.get("ingress") == [[80, 80]] for h in l7) and any(h.get("egress") == [[80, 80]] for h in l7) else 1)
PY
finish compile_http_manifest

run explain "$data/cilium-http.yaml" --from empire/tiefighter-0 --to empire/deathstar-0 --port tcp/80 \
  --request 'POST /v1/request-landing' --exit-code
expect_rc 0
finish explain_an_allowed_request

run explain "$data/cilium-http.yaml" --from empire/tiefighter-0 --to empire/deathstar-0 --port tcp/80 \
  --request 'PUT /v1/exhaust-port' --exit-code
expect_rc 1
expect_out "http-mismatch"
finish explain_a_denied_request

summary
