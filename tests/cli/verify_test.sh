#!/usr/bin/env bash
# `membranec verify` as a pipeline runs it: the shipped policies compiled and
# proven equal to their IR; text and JSON reports; a miscompiled object (one
# folded constant flipped, its hash updated) found; a tampered object, a
# missing directory and policy errors refused with their exit codes. Loads
# BPF programs: needs root (skipped without it, a failure under CI=true).
#
#   tests/cli/verify_test.sh path/to/membranec
source "$(dirname "$0")/harness.sh"

if [[ $(id -u) != 0 ]]; then
  [[ ${CI:-} == true ]] && { echo "FAIL verify needs root under CI"; exit 1; }
  echo "SKIPPED: membranec verify loads BPF programs; run as root"
  exit 77
fi

shop=$root/policies/shop
run compile -i "$shop/inventory.json" -o "$tmp/out" "$shop"
expect_rc 0
finish compile_shop

run verify "$tmp/out" -i "$shop/inventory.json" "$shop"
expect_rc 0
expect_out "verified $tmp/out: 7 classes,"
expect_out "every object decides as the policies say"
expect_out "class 6 (class-6.o, open):"
finish shipped_policies_verified

# DNS rules: UDP probes to a port a dns condition reads carry no DNS
# message, which the datapath finds unreadable (a rule `with dns` fails);
# verify must hold the evaluator to the same reading, not report a mismatch.
mkdir -p "$tmp/dns"
cat >"$tmp/dns/dns.policy" <<'EOF2'
namespace shop
policy api-dns {
  selects { app = api }
  egress {
    allow to pods { k8s-app = kube-dns } in namespace kube-system on udp/53, tcp/53 with dns { "*.example.com" }
    allow to dns "api.example.com" on tcp/443
  }
}
EOF2
run compile -i "$shop/inventory.json" -o "$tmp/dns-out" "$tmp/dns"
expect_rc 0
run verify "$tmp/dns-out" -i "$shop/inventory.json" "$tmp/dns"
expect_rc 0
expect_out "every object decides as the policies say"
finish dns_rules_verified

# HTTP rules, ingress and egress: the connections an http rule lets through
# are the socket layer's, so verify loads the class as a node does
# (MB_CONFIG_SOCKETS, the sk_skb and sk_msg verdicts with it) and holds its
# packet programs to the evaluator's connection verdicts.
mkdir -p "$tmp/http"
cat >"$tmp/http/api.policy" <<'EOF2'
namespace shop
policy api-http {
  selects { app = api }
  ingress {
    allow from pods { app = frontend } on tcp/8080 with http { GET "/api/v1/products/*"; POST "/api/v1/orders" }
    deny from pods { app = frontend } on tcp/8080 with http { "/admin/**" }
    # One rule of many items, each of several tests: its code once made the
    # verifier walk every combination of the tests' outcomes (over a million
    # instructions), so the class did not load.
    allow from pods { app = frontend } on tcp/8080 with http {
      GET "/api/v1/orders"; GET "/api/*/orders/**";
      POST "/api/v1/orders" header "content-type" = "application/json";
      DELETE "/files/*.pdf" header "x-api-key";
      GET "/files/a*b/**" host "*.shop.test";
      VERYLONGMETHODXY "/a/%20/caf%C3%A9";
      "/a%3B/x*" host "api-*.shop.test" header "x-env" = "prod";
      host "shop.test" header "accept" = "a b"
    }
  }
}
policy frontend-http {
  selects { app = frontend }
  egress {
    allow to pods { app = api } on tcp/8080 with http { GET "/api/v1/products/*" }
  }
}
EOF2
run compile -i "$shop/inventory.json" -o "$tmp/http-out" "$tmp/http"
expect_rc 0
run verify "$tmp/http-out" -i "$shop/inventory.json" "$tmp/http"
expect_rc 0
expect_out "every object decides as the policies say"
finish http_rules_verified

# Process rules (docs/process.md): a flow only process rules allow
# (MB_VERDICT_PROCESS) passes only from a socket whose call the socket hooks
# let through, which a test run does not have. verify probes it twice at tc
# egress: unapproved it must drop (a DENY of rule 0), then with its tuple in
# mb_process_flows (as the process gate records an approved socket's) it
# must pass by its rule, and its reply too; at cgroup egress (no socket) it
# must drop. Without that, every such flow was a mismatch.
mkdir -p "$tmp/process"
cat >"$tmp/process/api.policy" <<'EOF2'
namespace shop
policy api-process {
  selects { app = api }
  egress {
    allow to pods { app = postgres } on tcp/5432 with process { exe "/usr/local/bin/api" }
    allow to pods { app = nats } on tcp/4222 with process { exe "/usr/local/bin/api", exe "/usr/bin/python3" }
    allow to pods { app = nats } on tcp/4222
    allow to pods { k8s-app = kube-dns } in namespace kube-system on udp/53 with process { exe "/usr/local/bin/api" }
    allow to pods { app = postgres } with process { exe "/usr/local/bin/backup" }
  }
}
EOF2
run compile -i "$shop/inventory.json" -o "$tmp/process-out" "$tmp/process"
expect_rc 0
run verify "$tmp/process-out" -i "$shop/inventory.json" "$tmp/process"
expect_rc 0
expect_out "every object decides as the policies say"
finish process_rules_verified

run verify -o json "$tmp/out" -i "$shop/inventory.json" "$shop"
expect_rc 0
python3 - "$out" <<'PY' || fail "bad JSON report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["equal"] is True and r["mismatchCount"] == 0 and r["manifestDifferences"] == []
assert len(r["classes"]) == 7 and r["classes"][-1]["open"] is True
assert r["regions"] > 1000 and r["probes"] > r["regions"], r
assert all(c["regions"] > 0 and c["probes"] > 0 for c in r["classes"])
PY
finish json_report

# Flip the first folded 8080 (the api's http port) in class 1's code to 8081
# and re-hash it into the manifest, as someone able to write the artifacts
# would: verify must find it.
cp -r "$tmp/out" "$tmp/bad"
python3 - "$tmp/bad" <<'PY' || fail "could not patch the object"
import hashlib, json, struct, sys
d = sys.argv[1]
elf = bytearray(open(f"{d}/class-1.o", "rb").read())
shoff, = struct.unpack_from("<Q", elf, 0x28)
size, num = struct.unpack_from("<HH", elf, 0x3a)
for i in range(num):
    _, typ, flags, _, off, length = struct.unpack_from("<IIQQQQ", elf, shoff + i * size)
    if typ != 1 or not flags & 4:
        continue
    for at in range(off, off + length, 8):
        code = elf[at]
        if code & 7 in (5, 6) and not code & 8 and struct.unpack_from("<i", elf, at + 4)[0] == 8080:
            struct.pack_into("<i", elf, at + 4, 8081)
            open(f"{d}/class-1.o", "wb").write(elf)
            m = json.load(open(f"{d}/manifest.json"))
            for c in m["classes"]:
                if c["object"] == "class-1.o":
                    c["sha256"] = hashlib.sha256(elf).hexdigest()
            open(f"{d}/manifest.json", "w").write(json.dumps(m, indent=2, sort_keys=True) + "\n")
            sys.exit(0)
sys.exit(1)
PY
run verify "$tmp/bad" -i "$shop/inventory.json" "$shop"
expect_rc 1
expect_out "MISMATCH class 1 tc ingress: identity"
expect_out "tcp/8081: the object passes; the policies: denies (default deny)"
expect_out "NOT verified $tmp/bad"
finish miscompiled_object_found

# A changed byte without a new hash is refused before anything is loaded.
cp -r "$tmp/out" "$tmp/tampered"
printf '\x00' | dd of="$tmp/tampered/class-2.o" bs=1 seek=200 conv=notrunc status=none
run verify "$tmp/tampered" -i "$shop/inventory.json" "$shop"
expect_rc 2
expect_err "membranec: error: class-2.o does not match its SHA-256 in the manifest (tampered or corrupt)"
finish tampered_object_refused

run verify "$tmp/nowhere" -i "$shop/inventory.json" "$shop"
expect_rc 2
expect_err "membranec: error: cannot open '$tmp/nowhere/manifest.json': No such file or directory"
finish missing_artifacts

printf 'namespace x\npolicy p {\n  selects { app = a }\n  ingress { allow from nowhere }\n}\n' >"$tmp/broken.policy"
run verify "$tmp/out" "$tmp/broken.policy"
expect_rc 3
finish policy_errors

# Policies other than those compiled: the manifest says so.
cp -r "$shop" "$tmp/shop-less"
rm "$tmp/shop-less/audit.policy"
run verify "$tmp/out" -i "$shop/inventory.json" "$tmp/shop-less"
expect_rc 1
expect_out "DIFFERS manifest."
finish other_policies_differ

summary
