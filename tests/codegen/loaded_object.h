// A compiled class object loaded into the kernel for tests: from memory,
// pinning off (fresh maps, nothing left behind), the identity trie filled
// from a manifest, packets run with BPF_PROG_TEST_RUN. Nothing is attached.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "artifacts/manifest.h"
#include "identity/identity_table.h"
#include "packets.h"

struct bpf_object;

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

enum class Program { FromEndpoint, ToEndpoint, CgroupIngress, CgroupEgress };
const char* programName(Program p);

class LoadedObject {
 public:
  // Null and `error` set (with the verifier log's tail) when loading fails.
  static std::unique_ptr<LoadedObject> load(const std::string& elf, uint32_t endpointId, std::string* error);
  ~LoadedObject();

  // Fills mb_identity from the manifest (plus host addresses).
  void fillIdentities(const artifacts::Manifest& manifest, const std::vector<net::Address>& hostAddresses);
  // The addresses the loaded endpoint may send from (mb_endpoint_addrs).
  void ownAddresses(const std::vector<net::Address>& addresses);
  // The program's raw return value for an Ethernet frame.
  int run(Program p, const mbtest::Bytes& frame);
  bool passes(Program p, const mbtest::Bytes& frame);
  uint32_t verifiedInstructions(Program p) const;
  int mapFd(const char* name) const;
  void clearConntrack();
  // Summed over CPUs.
  uint64_t rulePackets(uint32_t ruleId) const;

 private:
  LoadedObject() = default;
  bpf_object* object_ = nullptr;
  uint32_t endpointId_ = 0;
  int progFd(Program p) const;
};

}  // namespace membrane::testing
