// libFuzzer target: arbitrary bytes as NODE.json through its reader,
// NodeConfig::parse (the strict JSON reader with its positions, every field,
// names, interfaces, cgroups, addresses, named ports, and the checks across
// entries).
//
// A bug is anything that escapes as an exception, any ASan/UBSan report, and
// these broken promises (each abort()s with a message): a refusal without
// "NODE.json:" and a position; an accepted NODE.json with a name Kubernetes
// would refuse, a local endpoint with neither an interface nor a cgroup,
// two endpoints or peers of one namespace/name, two local endpoints on one
// interface, an address claimed twice, or two endpoint hooks sharing a pin.
//
// Seeds: tests/fuzz/corpus/node_config/ (docs/runtime.md's examples, the
// shop's nodes, and refused variants). Run: FUZZ_TARGETS=node_config
// tests/fuzz/run_fuzz.sh; a longer run is 10 minutes (FUZZ_SECONDS=600).
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "loader/node_config.h"
#include "loader/pins.h"

namespace {

using namespace membrane;

[[noreturn]] void broken(const std::string& what) {
  std::fprintf(stderr, "node_config_fuzzer: %s\n", what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto node = loader::NodeConfig::parse(text, &error);
  if (!node) {
    // "NODE.json:<line>:<col>: ..." (an empty document has no position).
    if (error.rfind("NODE.json:", 0) != 0 || error.size() < 11 || !std::isdigit(static_cast<unsigned char>(error[10])))
      broken("a refusal without the file and a position: " + error);
    return 0;
  }
  std::set<std::string> keys, interfaces, pins;
  std::set<net::Address> addresses;
  for (const auto* list : {&node->endpoints, &node->peers})
    for (const auto& e : *list) {
      bool local = list == &node->endpoints;
      if (!loader::namespaceNameProblem(e.ns).empty() || !loader::podNameProblem(e.name).empty())
        broken("accepted a name Kubernetes would refuse: " + e.key());
      if (!keys.insert(e.key()).second) broken("accepted " + e.key() + " twice");
      if (local && e.interface.empty() && e.cgroup.empty()) broken("a local endpoint with no place");
      if (!local && (!e.interface.empty() || !e.cgroup.empty())) broken("a peer with a place");
      if (!e.interface.empty() && !interfaces.insert(e.interface).second) broken("two endpoints on one interface");
      for (const auto& a : e.addresses)
        if (!addresses.insert(a).second) broken("an address claimed twice: " + a.str());
      for (const char* hook : {"tc-from", "tc-to", "cg-in", "cg-out"})
        if (!pins.insert(loader::linkPinName(e.ns, e.name, hook)).second) broken("two hooks share a pin");
    }
  return 0;
}
