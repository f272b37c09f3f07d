// DNS, printing (dns.h): the condition in `membranec ir`, as JSON (the list
// of names) and as text (as it would be written).
#include "features/dns/dns.h"

namespace membrane::features::dns {

namespace {
std::string quotedList(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", \"" : "\"") + names[i] + "\"";
  return out;
}
}  // namespace

void printJson(const ir::Rule& rule, nlohmann::json& out) {
  if (const auto* c = rule.condition<ir::DnsCondition>()) out[kName] = c->names;
}

std::string describe(const ir::Rule& rule) {
  const auto* c = rule.condition<ir::DnsCondition>();
  return c ? " with dns { " + quotedList(c->names) + " }" : "";
}

std::string describePeer(const std::vector<std::string>& names) { return "dns " + quotedList(names); }

}  // namespace membrane::features::dns
