#!/usr/bin/env bash
# End to end: Cilium's HTTP rules (toPorts[].rules.http) through `membranec
# import k8s`, then `membranec check` on what it wrote and on the manifest
# itself, and `explain --request` on the imported policy. Data:
# tests/data/k8s/cilium-http.yaml.
#
#   tests/cli/k8s_http_test.sh path/to/membranec
source "$(dirname "$0")/harness.sh"
data=$(cd "$(dirname "$0")/../data/k8s" && pwd)

run import k8s "$data/cilium-http.yaml"
expect_rc 0
expect_out "# from cilium.io/v2 CiliumNetworkPolicy empire/deathstar-landing ($data/cilium-http.yaml:21)"
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
