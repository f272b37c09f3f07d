#!/usr/bin/env bash
# End-to-end tests of Kubernetes manifests in membranec: `import k8s`
# (stdout, -o DIR, then check and fmt --check on what it wrote), and
# check/ir reading manifests directly. Data: tests/data/k8s/.
#
#   tests/cli/k8s_test.sh path/to/membranec
#
# Prints PASS or FAIL per case, then "N passed, M failed"; exits non-zero if
# any case failed.
source "$(dirname "$0")/harness.sh"
data=$(cd "$(dirname "$0")/../data/k8s" && pwd)

expect_no_err() { grep -qF -- "$1" "$err" && fail "stderr has: $1"; }

# import to stdout: the policies, and the Service counted with the
# inventory (policies may name it as a peer).
run import k8s "$data/shop.yaml"
expect_rc 0
expect_out "# from networking.k8s.io/v1 NetworkPolicy shop/api ($data/shop.yaml:95)"
expect_out "allow from pods { app = prometheus } in namespaces { purpose = monitoring } on tcp/9090"
expect_out "allow to cidr 198.19.0.0/16 except 198.19.66.0/24"
expect_err "imported 9 objects from 1 file: 2 policies, 4 endpoints, 2 namespaces, 1 service; 0 skipped"
finish import_stdout

# import -o: one file per namespace plus the inventory; fmt --check and
# check accept what was written.
run import k8s -o "$tmp/out" "$data/shop.yaml" "$data/repo"
expect_rc 0
for f in shop.policy inventory.json; do [[ -f $tmp/out/$f ]] || fail "$f not written"; done
grep -qF '"name": "checkout"' "$tmp/out/inventory.json" || fail "inventory.json lacks the checkout Deployment"
grep -qF '"selector": {' "$tmp/out/inventory.json" || fail "inventory.json lacks the api Service's selector"
grep -qF 'policy checkout-cnp' "$tmp/out/shop.policy" && fail "checkout renamed without a collision"
expect_err "skipped v1 ConfigMap settings"
finish import_output_dir

run fmt --check "$tmp/out"
expect_rc 0
finish import_output_is_formatted

run check -i "$tmp/out/inventory.json" "$tmp/out"
expect_rc 0
expect_err "checked 1 file: 3 policies, 5 endpoints in 3 classes; 0 errors"
finish import_output_checks

# The same manifests compiled directly give the same IR as the imported files.
run ir --format json "$data/shop.yaml" "$data/repo"
expect_rc 0
cp "$out" "$tmp/direct.json"
run ir --format json -i "$tmp/out/inventory.json" "$tmp/out"
expect_rc 0
python3 - "$tmp/direct.json" "$out" <<'PY' || fail "IR from manifests differs from IR of the imported files"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
strip = lambda ir: {k: v for k, v in ir.items() if k != "rules"}
sys.exit(0 if strip(a) == strip(b) else 1)
PY
finish check_manifests_directly_matches_import

# Unsupported Cilium fields are errors at the manifest line; nothing is written.
run import k8s -o "$tmp/l7" "$data/l7.yaml"
expect_rc 1
expect_err "l7.yaml:13:13: error: spec.ingress[].toPorts[].rules: \`kafka\` is not supported"
[[ -e $tmp/l7 ]] && fail "output directory created despite errors"
finish import_l7_error

run check "$data/l7.yaml"
expect_rc 1
expect_err "l7.yaml:13:13: error:"
finish check_l7_error

# A checker error in a converted policy points at the YAML node.
printf 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}\nspec:\n  podSelector: {}\n  egress: [{to: [{ipBlock: {cidr: 198.18.1.0/15}}]}]\n' >"$tmp/hostbits.yaml"
run check "$tmp/hostbits.yaml"
expect_rc 1
expect_err "hostbits.yaml:6:35: error: CIDR '198.18.1.0/15' has host bits set"
expect_err "hint: did you mean \`198.18.0.0/15\`?"
expect_no_err "<policies converted"
finish check_error_points_at_manifest

printf 'kind: Pod\nmetadata: {name: [a\n' >"$tmp/broken.yaml"
run check "$tmp/broken.yaml"
expect_rc 1
expect_err "broken.yaml:3:1: error: invalid YAML"
finish malformed_yaml

# A name that closes its policy and opens another (hardening issue #12): refused
# at the name, and nothing is written.
cat >"$tmp/inject.yaml" <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: "evil { namespace shop selects {} ingress { allow from all } } policy api"
  namespace: shop
spec:
  podSelector: {}
  ingress: []
YAML
run import k8s -o "$tmp/inject" "$tmp/inject.yaml"
expect_rc 1
expect_err "inject.yaml:4:9: error: metadata.name: 'evil { namespace shop selects {} ingress { allow from all } } policy api' is not a valid name"
[[ -e $tmp/inject ]] && fail "output written for an injected name"
finish import_refuses_policy_injection

run check "$tmp/inject.yaml"
expect_rc 1
expect_err "inject.yaml:4:9: error: metadata.name:"
expect_no_err "2 policies"
finish check_refuses_policy_injection

# What kubectl reads differently from YAML 1.2 is refused with what it reads;
# a bad byte is reported where it is.
printf 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, namespace: shop}\nspec:\n  podSelector: {}\n  ingress: [{ports: [{port: 017620}]}]\n' >"$tmp/octal.yaml"
run check "$tmp/octal.yaml"
expect_rc 1
expect_err "octal.yaml:6:29: error: NetworkPolicyPort.port: \`017620\` is not a plain decimal number: kubectl reads it as 8080"
expect_err "hint: write 8080"
finish yaml11_octal_port

printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    a: b\n    c: d\n    e: f\n    g: h\377\n' >"$tmp/utf8.yaml"
run import k8s "$tmp/utf8.yaml"
expect_rc 1
expect_err "utf8.yaml:9:9: error: manifests must be UTF-8: byte 0xFF is not valid UTF-8 here"
finish bad_utf8_byte

run import k8s "$data/../k8s/shop.yaml" "$tmp/hostbits.yaml" /dev/null
expect_rc 2
expect_err "is not a Kubernetes manifest"
finish import_rejects_non_manifests

run check -i "$data/shop.yaml" "$data/repo"
expect_rc 2
expect_err "shop.yaml' is a Kubernetes manifest, not an inventory: give it as a path, without -i"
finish manifest_as_inventory

# A policy membrane does not enforce is an error in every command that reads
# manifests, unless --skip-kind names it; then a warning (never silence).
cat >"$tmp/refused.yaml" <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: api-0, namespace: shop, labels: {app: api}}
status: {podIP: 198.18.1.10}
---
apiVersion: crd.projectcalico.org/v1
kind: GlobalNetworkPolicy
metadata:
  name: deny-all
spec:
  selector: all()
  types: [Ingress]
YAML
refused_error="refused.yaml:10:1: error: crd.projectcalico.org/v1 GlobalNetworkPolicy deny-all: membrane does not enforce this kind of policy"
refused_warning="refused.yaml:10:1: warning: skipped crd.projectcalico.org/v1 GlobalNetworkPolicy deny-all (--skip-kind GlobalNetworkPolicy): its rules are not enforced"
explain_args=(--from shop/api-0 --to shop/api-0 --port tcp/80)
for cmd in check ir compile lint reach explain "import k8s"; do
  # shellcheck disable=SC2206 # "import k8s" is two words
  words=($cmd)
  extra=()
  [[ $cmd == explain ]] && extra=("${explain_args[@]}")
  [[ $cmd == compile ]] && extra=(-o "$tmp/refused-out")
  run "${words[@]}" "${extra[@]}" "$tmp/refused.yaml"
  expect_rc "$([[ $cmd == explain ]] && echo 3 || echo 1)"
  expect_err "$refused_error"
  expect_err "hint: remove it from the inputs, or pass --skip-kind crd.projectcalico.org/GlobalNetworkPolicy"
  finish "${cmd// /_}_refuses_an_unenforced_policy_kind"
  [[ $cmd == compile ]] && extra=(-o "$tmp/refused-out-skipped")
  run "${words[@]}" "${extra[@]}" --skip-kind GlobalNetworkPolicy "$tmp/refused.yaml"
  expect_err "$refused_warning"
  expect_no_err "error:"
  finish "${cmd// /_}_skips_a_kind_named_with_skip_kind"
done
run diff "$tmp/refused.yaml" "$tmp/refused.yaml"
expect_rc 3
expect_err "$refused_error"
finish diff_refuses_an_unenforced_policy_kind
run diff --skip-kind GlobalNetworkPolicy "$tmp/refused.yaml" "$tmp/refused.yaml"
expect_rc 0
expect_err "$refused_warning"
finish diff_skips_a_kind_named_with_skip_kind

run check --skip-kind '*' "$tmp/refused.yaml"
expect_rc 2
expect_err "'*' is not a kind"
finish skip_kind_refuses_a_wildcard

# Cilium rule arrays (`cilium policy import` JSON) are read by every command
# that reads manifests, as the rules of a CiliumClusterwideNetworkPolicy
# named after the file; errors point into the JSON.
cat >"$tmp/allow-web.json" <<'JSON'
[{"endpointSelector": {"matchLabels": {"app": "api"}},
  "ingress": [{"fromEndpoints": [{"matchLabels": {"app": "web"}}],
               "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}]}]},
 {"endpointSelector": {"matchLabels": {"app": "web"}},
  "egressDeny": [{"toCIDR": ["198.19.0.0/16"]}]}]
JSON
cat >"$tmp/allow-web.yaml" <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: allow-web}
specs:
  - endpointSelector: {matchLabels: {app: api}}
    ingress:
      - fromEndpoints: [{matchLabels: {app: web}}]
        toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
  - endpointSelector: {matchLabels: {app: web}}
    egressDeny: [{toCIDR: [198.19.0.0/16]}]
YAML
run import k8s "$tmp/allow-web.json"
expect_rc 0
expect_out "# from Cilium rule array allow-web [0] ($tmp/allow-web.json:1)"
expect_out "policy allow-web-1 {"
expect_out "deny to cidr 198.19.0.0/16"
expect_err "imported 1 object from 1 file: 2 policies"
finish import_cilium_rule_array

run ir --format json "$data/shop.yaml" "$tmp/allow-web.json"
expect_rc 0
cp "$out" "$tmp/rules-ir.json"
run ir --format json "$data/shop.yaml" "$tmp/allow-web.yaml"
expect_rc 0
python3 - "$tmp/rules-ir.json" "$out" <<'PY' || fail "IR of the rule array differs from IR of the same rules in a CiliumClusterwideNetworkPolicy"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
strip = lambda ir: {k: v for k, v in ir.items() if k != "rules"}
sys.exit(0 if strip(a) == strip(b) and a["classes"] else 1)
PY
finish cilium_rule_array_compiles_as_the_crd

printf '[{"endpointSelector": {"matchLabels": {"app": "api"}},\n  "ingress": [{"fromEndpoints": [{"matchLabels": {"app": "web"}}], "fromNodes": []}]}]\n' >"$tmp/bad-rules.json"
for cmd in check "import k8s"; do
  # shellcheck disable=SC2206 # "import k8s" is two words
  words=($cmd)
  run "${words[@]}" "$tmp/bad-rules.json"
  expect_rc 1
  expect_err "bad-rules.json:2:68: error: [0].ingress[]: \`fromNodes\` is not supported"
  finish "${cmd// /_}_locates_errors_in_a_cilium_rule_array"
done

printf '[1, 2]\n' >"$tmp/numbers.json"
run import k8s "$tmp/numbers.json"
expect_rc 2
expect_err "numbers.json' is not a Kubernetes manifest (*.yaml, *.yml, or *.json with apiVersion/kind) nor a Cilium rule array"
finish import_rejects_a_json_array_of_non_objects

run import k8s --help
expect_rc 0
expect_out "Exit codes: 0 converted, 1 errors in the manifests, 2 usage or I/O errors."
finish import_help

summary
