// Generates a class's DNS tables (runtime/abi/datapath.h, docs/dns.md) in
// the module cloned from the decision shell (bpf-templates/decision.c):
//   mb_dns_class_features  which DNS work the skeleton does for the class
//   mb_dns_match(name)     bit i: the name matches the class's pattern i — a
//                          trie over the name's labels from the right, every
//                          label folded into compares with constants
//   mb_dns_port(p, port)   the ports a dns condition covers
// The decision (decision_codegen.cpp) tests the same bits: DnsPatterns is
// the one numbering both use.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/ir.h"

namespace llvm {
class Module;
}

namespace membrane::codegen {

// Every DNS name and pattern of a class's egress rules (name peers and dns
// conditions, audit rules included), numbered in sorted order.
class DnsPatterns {
 public:
  // At most 64 per class (one 64-bit word in the decision input); more is
  // an error naming the class.
  static constexpr size_t kMax = 64;
  explicit DnsPatterns(const ir::EndpointClass& cls);

  // The bits of `names` (each one of the class's patterns).
  uint64_t mask(const std::vector<std::string>& names) const;
  const std::vector<std::string>& patterns() const { return patterns_; }
  uint32_t features() const { return features_; }  // MB_DNS_F_*
  // The protocols and ports dns conditions cover, merged per protocol.
  const std::vector<ir::L4Match>& ports() const { return ports_; }

 private:
  std::vector<std::string> patterns_;
  uint32_t features_ = 0;
  std::vector<ir::L4Match> ports_;
};

// Defines mb_dns_class_features and replaces the bodies of mb_dns_match and
// mb_dns_port in `module`.
void generateDnsTables(llvm::Module& module, const DnsPatterns& patterns);

}  // namespace membrane::codegen
