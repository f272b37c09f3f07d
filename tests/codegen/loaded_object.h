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
#include "environment.h"  // testkit: MB_REQUIRE_BPF
#include "packets.h"
#include "verify/loaded_class.h"

namespace membrane::testing {

using Program = verify::Hook;
inline const char* programName(Program p) { return verify::hookProgram(p); }

class LoadedObject {
 public:
  // Null and `error` set (with the verifier log's tail) when loading fails.
  // `configFlags`: mb_config.flags as a node sets them (MB_CONFIG_SOCKETS for
  // a class whose requests the socket layer decides).
  static std::unique_ptr<LoadedObject> load(const std::string& elf, uint32_t endpointId, std::string* error,
                                            uint32_t configFlags = 0);

  // Fills mb_identity from the manifest (plus host addresses).
  void fillIdentities(const artifacts::Manifest& manifest, const std::vector<net::Address>& hostAddresses);
  // Replaces mb_identity (and mb_more_peer_bits) with `entries`, as given.
  void setIdentities(const std::vector<identity::TrieEntry>& entries);
  // The addresses the loaded endpoint may send from (mb_endpoint_addrs).
  void ownAddresses(const std::vector<net::Address>& addresses);
  bool passes(Program p, const mbtest::Bytes& frame);
  // The program's raw return value (tc: TC_ACT_*, cgroup_skb: 1 or 0), and
  // the packet as the program left it in `out` when given.
  int run(Program p, const mbtest::Bytes& frame, mbtest::Bytes* out = nullptr);
  int mapFd(const char* name) const;
  uint32_t verifiedInstructions(Program p) const;
  void clearConntrack();
  // Summed over CPUs.
  uint64_t rulePackets(uint32_t ruleId) const;

 private:
  std::unique_ptr<verify::LoadedClass> object_;
};

}  // namespace membrane::testing
