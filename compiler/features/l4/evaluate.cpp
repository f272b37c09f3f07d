// L4, meaning (l4.h): what the reference evaluator asks of an L4 condition.
// The datapath's port tests (codegen/decision_codegen.cpp) are held to this.
#include "features/l4/l4.h"

namespace membrane::features::l4 {

bool matches(const ir::L4Condition& condition, const ir::Traffic& t) {
  for (const auto& m : condition.matches) {
    if (m.protocol != ir::kAnyProtocol && m.protocol != t.protocol) continue;
    if (m.ports.empty() || m.protocol == ir::kAnyProtocol) return true;
    for (const auto& r : m.ports)
      if (t.port >= r.first && t.port <= r.last) return true;
  }
  return false;
}

const std::vector<ir::L4Match>& matchesOf(const ir::Rule& rule) {
  static const std::vector<ir::L4Match> any;
  const auto* c = rule.condition<ir::L4Condition>();
  return c ? c->matches : any;
}

}  // namespace membrane::features::l4
