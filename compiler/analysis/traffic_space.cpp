// See traffic_space.h.
#include "analysis/traffic_space.h"

#include <map>
#include <optional>
#include <set>

#include "features/l4/l4.h"

namespace membrane::analysis {

Atoms partitionTraffic(const std::vector<const ir::Rule*>& rules, uint16_t lowestPort) {
  std::map<uint8_t, std::set<uint32_t>> cuts;  // protocol -> first ports of intervals
  std::set<uint8_t> named;
  for (const auto* rule : rules)
    for (const auto& m : features::l4::matchesOf(*rule)) {
      if (m.protocol == ir::kAnyProtocol) continue;
      named.insert(m.protocol);
      for (const auto& r : m.ports) {
        cuts[m.protocol].insert(r.first);
        cuts[m.protocol].insert(static_cast<uint32_t>(r.last) + 1);
      }
    }

  Atoms out;
  out.spaces = {{ir::kTCP, "TCP", true, lowestPort, 65535},
                {ir::kUDP, "UDP", true, lowestPort, 65535},
                {ir::kSCTP, "SCTP", true, lowestPort, 65535},
                {ir::kICMP, "ICMP", true, 0, 255},
                {ir::kICMPv6, "ICMPv6", true, 0, 255}};
  auto known = [](uint8_t p) {
    return p == ir::kTCP || p == ir::kUDP || p == ir::kSCTP || p == ir::kICMP || p == ir::kICMPv6;
  };
  // Protocols the language has no name for but a rule numbers: no ports.
  for (uint8_t p : named)
    if (!known(p)) out.spaces.push_back({p, std::to_string(p), false, 0, 0});
  // Every protocol no rule names behaves alike; probe one (GRE, if free).
  std::optional<uint8_t> other;
  for (unsigned p : {47u, 4u, 41u, 50u, 51u, 103u, 253u, 254u}) {
    if (!known(static_cast<uint8_t>(p)) && !named.count(static_cast<uint8_t>(p))) {
      other = static_cast<uint8_t>(p);
      break;
    }
  }
  for (unsigned p = 2; !other && p < 256; ++p)
    if (!known(static_cast<uint8_t>(p)) && !named.count(static_cast<uint8_t>(p))) other = static_cast<uint8_t>(p);
  if (other) out.spaces.push_back({*other, "other", false, 0, 0});

  for (size_t s = 0; s < out.spaces.size(); ++s) {
    const auto& sp = out.spaces[s];
    if (!sp.hasPorts) {
      out.atoms.push_back({s, sp.protocol, 0, 0});
      continue;
    }
    std::set<uint32_t> starts{sp.lo};
    for (uint32_t c : cuts[sp.protocol])
      if (c > sp.lo && c <= sp.hi) starts.insert(c);
    for (auto it = starts.begin(); it != starts.end(); ++it) {
      auto next = std::next(it);
      uint32_t last = next == starts.end() ? sp.hi : *next - 1;
      out.atoms.push_back({s, sp.protocol, static_cast<uint16_t>(*it), static_cast<uint16_t>(last)});
    }
  }
  return out;
}

}  // namespace membrane::analysis
