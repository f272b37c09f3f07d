#!/usr/bin/env bash
# End to end: Cilium's DNS fields (toFQDNs, rules.dns) through `membranec
# import k8s`, then `membranec check` on what it wrote and on the manifest
# itself. Data: tests/data/k8s/cilium-dns.yaml.
#
#   tests/cli/k8s_dns_test.sh path/to/membranec
source "$(dirname "$0")/harness.sh"
data=$(cd "$(dirname "$0")/../data/k8s" && pwd)

run import k8s "$data/cilium-dns.yaml"
expect_rc 0
expect_out "# from cilium.io/v2 CiliumNetworkPolicy shop/payments-egress ($data/cilium-dns.yaml:35)"
expect_out 'with dns { "*.payments.example", "status.payments.example" }'
expect_out 'allow to dns "api.payments.example", "eu-*.payments.example" on tcp/443'
finish import_dns_stdout

run import k8s -o "$tmp/out" "$data/cilium-dns.yaml"
expect_rc 0
finish import_dns_output_dir

run fmt --check "$tmp/out"
expect_rc 0
finish import_dns_output_is_formatted

run check -i "$tmp/out/inventory.json" "$tmp/out"
expect_rc 0
expect_err "0 errors"
finish import_dns_output_checks

run check "$data/cilium-dns.yaml"
expect_rc 0
expect_err "0 errors"
finish check_dns_manifest_directly

summary
