// L4, printing (l4.h): the rule's L4 condition in `membranec ir`, as JSON
// (ports as "80" or "80-90", ICMP types by name) and as text.
#include "features/l4/l4.h"
#include "ir/protocols.h"

namespace membrane::features::l4 {

using nlohmann::json;

json toJson(const ir::L4Match& m) {
  json j = {{"protocol", ir::protocolName(m.protocol)}};
  bool icmp = m.protocol == ir::kICMP || m.protocol == ir::kICMPv6;
  json ports = json::array();
  for (const auto& r : m.ports) {
    if (icmp) {
      // Adjacent types are stored merged into one range; list each of them.
      for (uint32_t t = r.first; t <= r.last; ++t)
        ports.push_back(ir::icmpTypeName(m.protocol == ir::kICMPv6, static_cast<uint8_t>(t)));
    } else {
      ports.push_back(r.first == r.last ? std::to_string(r.first)
                                        : std::to_string(r.first) + "-" + std::to_string(r.last));
    }
  }
  j[icmp ? "types" : "ports"] = m.ports.empty() ? json("all") : ports;
  return j;
}

void printJson(const ir::Rule& rule, json& out) {
  const auto& matches = matchesOf(rule);
  json l4 = json::array();
  for (const auto& m : matches) l4.push_back(toJson(m));
  out[kName] = matches.empty() ? json("any") : l4;
}

std::string describe(const ir::Rule& rule) {
  const auto& matches = matchesOf(rule);
  if (matches.empty()) return "any";
  std::string out;
  for (size_t i = 0; i < matches.size(); ++i) {
    auto j = toJson(matches[i]);
    out += (i ? ", " : "") + j["protocol"].get<std::string>();
    const auto& ports = j.contains("ports") ? j["ports"] : j["types"];
    if (ports.is_array()) {
      out += "/";
      for (size_t k = 0; k < ports.size(); ++k) out += (k ? "," : "") + ports[k].get<std::string>();
    }
  }
  return out;
}

}  // namespace membrane::features::l4
