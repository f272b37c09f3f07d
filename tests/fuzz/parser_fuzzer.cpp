// libFuzzer target: arbitrary bytes as policy text through the whole front
// half of membranec (parse → check → lower) and the diagnostic printer.
//
// Each input runs twice:
//   1. as one file, with an empty inventory (what `membranec check` does
//      without --inventory), diagnostics printed without colour;
//   2. with a small fixed inventory, so selectors match endpoints and named
//      ports resolve, and the IR is serialized to JSON and text as
//      `membranec ir` does; diagnostics printed with colour. Here a NUL byte
//      splits the input into several files, so cross-file definitions
//      (duplicates, "previous definition is here" notes) are reachable too.
//
// Anything that escapes as an exception, and any ASan/UBSan report, is a bug:
// the compiler promises to report errors, never to crash.
//
// Build and run: tests/fuzz/run_fuzz.sh (see tests/fuzz/CMakeLists.txt).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/pipeline.h"
#include "ir_print/ir_json.h"

namespace {

using namespace membrane;

// Two namespaces with labels, endpoints with named ports on every protocol the
// language knows, IPv4 and IPv6 addresses, and a namespace referenced only by
// an endpoint.
constexpr const char* kInventory = R"({
  "namespaces": [
    {"name": "default", "labels": {"env": "dev"}},
    {"name": "shop", "labels": {"team": "web", "purpose": "shop"}},
    {"name": "kube-system", "labels": {}}
  ],
  "endpoints": [
    {"name": "web-0", "namespace": "shop", "labels": {"app": "web", "tier": "front"},
     "addresses": ["10.0.0.1", "fd00::1"],
     "ports": [{"name": "http", "port": 80, "protocol": "TCP"},
               {"name": "metrics", "port": 9090, "protocol": "TCP"}],
     "workload": "web"},
    {"name": "db-0", "namespace": "shop", "labels": {"app": "db", "tier": "data"},
     "addresses": ["10.0.0.2"],
     "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"},
               {"name": "sync", "port": 7000, "protocol": "SCTP"}]},
    {"name": "dns-0", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"},
     "addresses": ["10.0.1.1", "fd00::53"],
     "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
               {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]},
    {"name": "job-0", "namespace": "batch", "labels": {"app": "job"},
     "addresses": ["10.0.2.1"]}
  ]
})";

const inventory::Inventory& fixedInventory() {
  static const inventory::Inventory inv = [] {
    inventory::Inventory i;
    std::string error;
    if (!inventory::loadInventoryText("fuzz-inventory.json", kInventory, i, &error)) {
      // The harness itself is broken; stop loudly rather than fuzz less.
      std::fprintf(stderr, "parser_fuzzer: bad built-in inventory: %s\n", error.c_str());
      std::abort();
    }
    return i;
  }();
  return inv;
}

void compile(const std::vector<std::pair<std::string, std::string>>& files, const inventory::Inventory* inv,
             bool color) {
  pipeline::Compilation c;
  if (inv) c.inventory = *inv;
  pipeline::runText(files, c);

  std::ostringstream out;
  c.diags.print(out, color);
  // A compilation that reports no error must have produced IR, and one that
  // reports errors must not be Ok: the exit code depends on it.
  if (c.outcome() == pipeline::Outcome::Ok && !c.ir) {
    std::fprintf(stderr, "parser_fuzzer: no errors reported, but no IR either\n");
    std::abort();
  }
  if (c.ir && c.outcome() == pipeline::Outcome::Ok) {
    out << ir::toJson(*c.ir).dump(2) << ir::toText(*c.ir);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fixedInventory();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);

  // 1. The input as one file, no inventory.
  compile({{"fuzz.policy", text}}, nullptr, false);

  // 2. With the inventory; NUL separates files.
  std::vector<std::pair<std::string, std::string>> files;
  size_t start = 0;
  for (;;) {
    size_t nul = text.find('\0', start);
    std::string part = text.substr(start, nul == std::string::npos ? std::string::npos : nul - start);
    files.emplace_back("fuzz" + std::to_string(files.size()) + ".policy", std::move(part));
    if (nul == std::string::npos) break;
    start = nul + 1;
  }
  compile(files, &fixedInventory(), true);
  return 0;
}
