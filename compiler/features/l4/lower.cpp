// L4, lowering (l4.h): a rule's checked `on` items → the ir::L4Condition it
// has on one subject endpoint, one entry per protocol, ranges merged.
#include <algorithm>
#include <map>
#include <set>

#include "features/l4/l4.h"

namespace membrane::features::l4 {

std::vector<ir::PortRange> normalizeRanges(std::vector<ir::PortRange> ranges) {
  std::sort(ranges.begin(), ranges.end());
  std::vector<ir::PortRange> out;
  for (const auto& r : ranges) {
    if (!out.empty() && static_cast<uint32_t>(out.back().last) + 1 >= r.first) {
      out.back().last = std::max(out.back().last, r.last);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

std::optional<ir::L4Condition> lowerForSubject(const Checked& checked, ir::Direction direction,
                                               const std::vector<labels::NamedPort>& subjectPorts,
                                               const std::function<void(const NamedPortRef&)>& unresolved) {
  std::map<uint8_t, std::vector<ir::PortRange>> byProto;
  std::set<uint8_t> allPorts;
  for (const auto& spec : checked.specs) {
    if (spec.allPorts) {
      allPorts.insert(spec.protocol);
      continue;
    }
    auto& ranges = byProto[spec.protocol];
    ranges.insert(ranges.end(), spec.ports.begin(), spec.ports.end());
    if (direction != ir::Direction::Ingress) continue;
    for (const auto& np : spec.namedPorts) {
      auto numbers = labels::numbersNamed(subjectPorts, np.protocol, np.name);
      for (uint16_t n : numbers) ranges.push_back({n, n});
      if (numbers.empty()) unresolved(np);
    }
  }
  ir::L4Condition out;
  for (uint8_t proto : allPorts) out.matches.push_back({proto, {}});
  for (auto& [proto, ranges] : byProto) {
    if (allPorts.count(proto) || ranges.empty()) continue;
    out.matches.push_back({proto, normalizeRanges(std::move(ranges))});
  }
  if (out.matches.empty()) return std::nullopt;
  std::sort(out.matches.begin(), out.matches.end());
  return out;
}

ir::L4Condition single(uint8_t protocol, uint16_t port) { return {{{protocol, {{port, port}}}}}; }

}  // namespace membrane::features::l4
