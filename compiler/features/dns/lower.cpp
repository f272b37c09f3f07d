// DNS, lowering (dns.h): a checked condition is the same on every subject.
#include <algorithm>

#include "features/dns/dns.h"

namespace membrane::features::dns {

std::vector<std::string> texts(const std::vector<CheckedName>& names) {
  std::vector<std::string> out;
  for (const auto& n : names) out.push_back(n.text);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

ir::DnsCondition lower(const Checked& checked) { return {texts(checked.names)}; }

}  // namespace membrane::features::dns
