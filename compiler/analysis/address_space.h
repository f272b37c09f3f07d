// Addresses as 128-bit integers, and the disjoint ranges a set of CIDR
// prefixes cuts the IPv4 or IPv6 space into. Every prefix (and every except)
// among the cuts matches each range whole or not at all, so one probe per
// range is exact. Shared by `reach` and `lint`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "net/address.h"

namespace membrane::analysis {

struct U128 {
  uint64_t hi = 0, lo = 0;
  friend auto operator<=>(const U128&, const U128&) = default;
};

U128 toU(const net::Address& a);
net::Address fromU(net::Family f, U128 u);
U128 maxOf(net::Family f);
inline U128 inc(U128 u) { return u.lo == ~0ull ? U128{u.hi + 1, 0} : U128{u.hi, u.lo + 1}; }
inline U128 dec(U128 u) { return u.lo == 0 ? U128{u.hi - 1, ~0ull} : U128{u.hi, u.lo - 1}; }

// The disjoint ranges some prefixes cut one family's space into.
struct AddressRanges {
  net::Family family = net::Family::V4;
  std::vector<std::pair<U128, U128>> ranges;  // sorted, covering the space
  size_t indexOf(const net::Address& a) const;
  net::Address first(size_t i) const { return fromU(family, ranges[i].first); }
};

// Prefixes of the other family are ignored.
AddressRanges partitionAddresses(net::Family family, const std::vector<net::Prefix>& cuts);

}  // namespace membrane::analysis
