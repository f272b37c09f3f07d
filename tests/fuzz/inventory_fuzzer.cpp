// libFuzzer target: arbitrary bytes as an inventory file (membrane's format,
// or kubectl's Pod and Namespace lists, chosen by content as for
// `membranec -i`), then a small fixed set of policies lowered against it.
//
// Each input is loaded twice:
//   1. alone, into an empty inventory;
//   2. as a second file, after a fixed inventory, so that merging (endpoints
//      and addresses repeated across files, namespaces declared twice) is
//      reached too.
// After a load that succeeds, the fixed policies are lowered against the
// inventory (selectors matched, identities and classes formed, named ports
// resolved) and the IR is serialized to JSON and text, as `membranec ir`
// does.
//
// A bug is: an exception escaping, an ASan/UBSan report, a timeout, or a
// broken promise of the loader: a failed load must leave the inventory as it
// was and say why; a successful one must leave namespaces and endpoints
// sorted and unique, every address on one endpoint only, and the name label
// on every namespace; lowering a valid policy must report no error.
//
// Seeds: tests/fuzz/corpus/inventory/ and tests/data/inventory/ (inventory.args).
// Build and run: FUZZ_TARGETS=inventory tests/fuzz/run_fuzz.sh; a longer run
// is FUZZ_SECONDS=600 (about 1,500 exec/s on one core under ASan).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <tuple>

#include "pipeline/pipeline.h"
#include "inventory/inventory.h"
#include "ir_print/ir_json.h"

namespace {

using namespace membrane;

// Named ports on ingress and egress, namespace selectors, a clusterwide
// policy and CIDRs: what lowering does with endpoints.
constexpr const char* kPolicies = R"(namespace shop

policy web {
  selects { app = web }
  ingress {
    allow from pods { app = api } in namespaces { team = web } on tcp/http, udp/dns
    deny from cidr 198.18.0.0/15 except 198.18.1.0/24
  }
  egress {
    allow to pods { tier in (data, cache) } on tcp/pg, tcp/5432
    allow to namespace kube-system on udp/53
  }
}

policy baseline {
  clusterwide
  selects { !system }
  mode audit
  ingress { allow from cluster on tcp/metrics }
}
)";

constexpr const char* kFirstFile = R"({
  "namespaces": [{"name": "shop", "labels": {"team": "web"}}],
  "endpoints": [
    {"name": "api-0", "namespace": "shop", "labels": {"app": "api"},
     "addresses": ["198.18.1.10", "2001:2::1:10"], "ports": [{"name": "http", "port": 8080}]},
    {"name": "db-0", "namespace": "shop", "labels": {"tier": "data"}, "addresses": ["198.18.1.20"],
     "ports": [{"name": "pg", "port": 5432}]}
  ]
})";

[[noreturn]] void broken(const char* what, const std::string& detail = "") {
  std::fprintf(stderr, "inventory_fuzzer: %s %s\n", what, detail.c_str());
  std::abort();
}

std::string dump(const inventory::Inventory& inv) {
  std::string out;
  for (const auto& n : inv.namespaces) {
    out += "ns " + n.name;
    for (const auto& [k, v] : n.labels) out += " " + k + "=" + v;
    out += "\n";
  }
  for (const auto& e : inv.endpoints) {
    out += "ep " + e.ns + "/" + e.name + " " + e.workload + " " + e.source;
    for (const auto& a : e.addresses) out += " " + a.str();
    for (const auto& p : e.ports) out += " " + p.name + ":" + std::to_string(p.port);
    out += "\n";
  }
  return out;
}

void checkInvariants(const inventory::Inventory& inv) {
  for (size_t i = 0; i < inv.namespaces.size(); ++i) {
    const auto& n = inv.namespaces[i];
    if (i && !(inv.namespaces[i - 1].name < n.name)) broken("namespaces not sorted and unique at", n.name);
    auto it = n.labels.find(inventory::kNamespaceNameLabel);
    if (it == n.labels.end() || it->second != n.name) broken("namespace without its name label:", n.name);
  }
  std::set<net::Address> addresses;
  for (size_t i = 0; i < inv.endpoints.size(); ++i) {
    const auto& e = inv.endpoints[i];
    if (i && !(std::tie(inv.endpoints[i - 1].ns, inv.endpoints[i - 1].name) < std::tie(e.ns, e.name)))
      broken("endpoints not sorted and unique at", e.ns + "/" + e.name);
    if (e.name.empty() || e.ns.empty() || e.workload.empty()) broken("endpoint with an empty name");
    for (const auto& a : e.addresses)
      if (!addresses.insert(a).second) broken("address on two endpoints:", a.str());
  }
}

void lowerAgainst(const inventory::Inventory& inv) {
  pipeline::Compilation c;
  c.inventory = inv;
  pipeline::runText({{"fuzz.policy", kPolicies}}, c);
  if (c.outcome() != pipeline::Outcome::Ok || !c.ir) broken("the fixed policies did not lower");
  std::string text = ir::toJson(*c.ir).dump(2) + ir::toText(*c.ir);
  (void)text;
}

// Loads `text` as the file "fuzz.json" into `inv`, checks the promises.
void load(const std::string& text, inventory::Inventory& inv) {
  std::string before = dump(inv);
  std::string error;
  bool ok = inventory::loadInventoryText("fuzz.json", text, inv, &error);
  if (!ok) {
    if (error.empty()) broken("a failed load without a message");
    if (dump(inv) != before) broken("a failed load changed the inventory:", error);
    return;
  }
  checkInvariants(inv);
  lowerAgainst(inv);
}

const inventory::Inventory& firstFile() {
  static const inventory::Inventory inv = [] {
    inventory::Inventory i;
    std::string error;
    if (!inventory::loadInventoryText("first.json", kFirstFile, i, &error)) broken("bad built-in inventory:", error);
    return i;
  }();
  return inv;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  firstFile();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  inventory::Inventory alone;
  load(text, alone);
  inventory::Inventory second = firstFile();
  load(text, second);
  return 0;
}
