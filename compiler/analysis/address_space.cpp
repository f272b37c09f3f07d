#include "analysis/address_space.h"

#include <algorithm>
#include <set>

namespace membrane::analysis {

U128 toU(const net::Address& a) {
  U128 u;
  if (a.family == net::Family::V4) {
    for (int i = 0; i < 4; ++i) u.lo = (u.lo << 8) | a.bytes[i];
  } else {
    for (int i = 0; i < 8; ++i) u.hi = (u.hi << 8) | a.bytes[i];
    for (int i = 8; i < 16; ++i) u.lo = (u.lo << 8) | a.bytes[i];
  }
  return u;
}

net::Address fromU(net::Family f, U128 u) {
  net::Address a;
  a.family = f;
  if (f == net::Family::V4) {
    for (int i = 3; i >= 0; --i, u.lo >>= 8) a.bytes[i] = static_cast<uint8_t>(u.lo & 0xff);
  } else {
    for (int i = 15; i >= 8; --i, u.lo >>= 8) a.bytes[i] = static_cast<uint8_t>(u.lo & 0xff);
    for (int i = 7; i >= 0; --i, u.hi >>= 8) a.bytes[i] = static_cast<uint8_t>(u.hi & 0xff);
  }
  return a;
}

U128 maxOf(net::Family f) { return f == net::Family::V4 ? U128{0, 0xffffffffu} : U128{~0ull, ~0ull}; }

size_t AddressRanges::indexOf(const net::Address& a) const {
  U128 u = toU(a);
  auto it = std::upper_bound(ranges.begin(), ranges.end(), u,
                             [](const U128& v, const std::pair<U128, U128>& r) { return v < r.first; });
  return static_cast<size_t>(it - ranges.begin()) - 1;
}

AddressRanges partitionAddresses(net::Family family, const std::vector<net::Prefix>& cuts) {
  std::set<U128> starts{U128{}};
  for (const auto& p : cuts) {
    if (p.family() != family) continue;
    starts.insert(toU(p.first()));
    U128 last = toU(p.last());
    if (last != maxOf(family)) starts.insert(inc(last));
  }
  AddressRanges r;
  r.family = family;
  for (auto it = starts.begin(); it != starts.end(); ++it) {
    auto next = std::next(it);
    r.ranges.push_back({*it, next == starts.end() ? maxOf(family) : dec(*next)});
  }
  return r;
}

}  // namespace membrane::analysis
