// The IR's own queries (ir.h): identity and endpoint lookups, CIDR matching.
#include "ir/ir.h"

#include <algorithm>

namespace membrane::ir {

bool Identity::hasBit(uint32_t bit) const {
  return std::binary_search(selectorBits.begin(), selectorBits.end(), bit);
}

bool CidrMatch::matches(const net::Address& a) const { return net::inPrefixExcept(prefix, except, a); }

const Identity* Program::identity(uint32_t id) const {
  auto it = std::lower_bound(identities.begin(), identities.end(), id,
                             [](const Identity& i, uint32_t v) { return i.id < v; });
  return it != identities.end() && it->id == id ? &*it : nullptr;
}

const Endpoint* Program::findEndpoint(const std::string& ns, const std::string& name) const {
  for (const auto& e : endpoints)
    if (e.ns == ns && e.name == name) return &e;
  return nullptr;
}

const Endpoint* Program::endpointByAddress(const net::Address& a) const {
  for (const auto& e : endpoints)
    if (std::find(e.addresses.begin(), e.addresses.end(), a) != e.addresses.end()) return &e;
  return nullptr;
}

}  // namespace membrane::ir
