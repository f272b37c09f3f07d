// A compiled class object loaded into the kernel for tests: verify's
// LoadedClass (private maps, nothing pinned or attached, packets run with
// BPF_PROG_TEST_RUN) with what the codegen tests look at besides verdicts:
// verifier statistics, rule counters, conntrack.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "artifacts/manifest.h"
#include "packets.h"
#include "verify/loaded_class.h"

namespace membrane::testing {

// "" when bpf() works here, else why not.
std::string bpfUnavailableReason();
bool runningInCi();

// Without bpf(): fail under CI=true, skip (with the reason) otherwise.
#define MB_REQUIRE_KERNEL_BPF()                                                                     \
  do {                                                                                              \
    const std::string mbWhy = ::membrane::testing::bpfUnavailableReason();                          \
    if (!mbWhy.empty()) {                                                                           \
      if (::membrane::testing::runningInCi()) FAIL() << "bpf() unavailable under CI: " << mbWhy;   \
      GTEST_SKIP() << "bpf() unavailable (" << mbWhy << "); run as root. CI=true makes this fail."; \
    }                                                                                               \
  } while (0)

using Program = verify::Hook;
inline const char* programName(Program p) { return verify::hookProgram(p); }

class LoadedObject {
 public:
  // Null and `error` set (with the verifier log's tail) when loading fails.
  static std::unique_ptr<LoadedObject> load(const std::string& elf, uint32_t endpointId, std::string* error);

  // Fills mb_identity from the manifest (plus host addresses).
  void fillIdentities(const artifacts::Manifest& manifest, const std::vector<net::Address>& hostAddresses);
  // The addresses the loaded endpoint may send from (mb_endpoint_addrs).
  void ownAddresses(const std::vector<net::Address>& addresses);
  bool passes(Program p, const mbtest::Bytes& frame);
  uint32_t verifiedInstructions(Program p) const;
  void clearConntrack();
  // Summed over CPUs.
  uint64_t rulePackets(uint32_t ruleId) const;

 private:
  std::unique_ptr<verify::LoadedClass> object_;
};

}  // namespace membrane::testing
