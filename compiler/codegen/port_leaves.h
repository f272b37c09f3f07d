// The port dimension of a direction's decision: which rules apply to a
// protocol, and the elementary port intervals they cut it into. Pure
// functions of the IR, defined in decision_codegen.cpp; declared here so
// that they can be tested without LLVM types (tests/unit/codegen/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "ir/ir.h"

namespace membrane::codegen {

// A rule as it applies to one protocol: its port ranges there.
struct Applicable {
  const ir::Rule* rule;
  bool allPorts;
  std::vector<ir::PortRange> ranges;
};

// Rules that can match protocol `p` (nullopt: a protocol no rule names),
// with their port ranges for it.
std::vector<Applicable> applicableFor(const std::vector<const ir::Rule*>& rules, std::optional<uint8_t> p);

// Protocols some rule names explicitly.
std::vector<uint8_t> namedProtocols(const std::vector<const ir::Rule*>& rules);

// The elementary port intervals the rules distinguish (neighbours that decide
// alike merged), each with its rules in verdict order.
struct PortLeaves {
  std::vector<uint32_t> starts;
  std::vector<std::vector<size_t>> lists;  // indices into the Applicable list
};

PortLeaves portLeaves(const std::vector<Applicable>& rules);

}  // namespace membrane::codegen
