// analysis/address_space: addresses as 128-bit integers and the disjoint
// ranges CIDR prefixes cut one family's space into (used by reach and lint,
// which probe one address per range).
#include "analysis/address_space.h"

#include <gtest/gtest.h>

namespace membrane::analysis {
namespace {

net::Address addr(const char* text) { return *net::Address::parse(text); }
net::Prefix prefix(const char* text) { return *net::Prefix::parse(text); }

TEST(U128, AddressesConvertBothWaysInBothFamilies) {
  EXPECT_EQ(toU(addr("198.18.0.1")), (U128{0, 0xC6120001u}));
  EXPECT_EQ(toU(addr("2001:2::1")), (U128{0x2001000200000000ull, 1}));
  for (const char* a : {"0.0.0.0", "198.18.255.254", "255.255.255.255", "::", "2001:2::ffff:1", "ffff::1"}) {
    net::Address x = addr(a);
    EXPECT_EQ(fromU(x.family, toU(x)), x) << a;
  }
}

TEST(U128, IncrementAndDecrementCarryAcrossTheHalves) {
  EXPECT_EQ(inc(U128{0, ~0ull}), (U128{1, 0}));
  EXPECT_EQ(dec(U128{1, 0}), (U128{0, ~0ull}));
  EXPECT_EQ(inc(U128{0, 41}), (U128{0, 42}));
  EXPECT_LT((U128{0, ~0ull}), (U128{1, 0}));
  EXPECT_EQ(maxOf(net::Family::V4), (U128{0, 0xffffffffu}));
  EXPECT_EQ(maxOf(net::Family::V6), (U128{~0ull, ~0ull}));
}

TEST(PartitionAddresses, WithoutCutsTheWholeSpaceIsOneRange) {
  AddressRanges r = partitionAddresses(net::Family::V4, {});
  ASSERT_EQ(r.ranges.size(), 1u);
  EXPECT_EQ(r.first(0), addr("0.0.0.0"));
  EXPECT_EQ(r.ranges[0].second, maxOf(net::Family::V4));
}

TEST(PartitionAddresses, APrefixCutsThreeRangesAndANestedOneTwoMore) {
  AddressRanges r =
      partitionAddresses(net::Family::V4, {prefix("198.18.0.0/15"), prefix("198.18.9.0/24")});
  ASSERT_EQ(r.ranges.size(), 5u);
  EXPECT_EQ(r.first(0), addr("0.0.0.0"));
  EXPECT_EQ(r.first(1), addr("198.18.0.0"));
  EXPECT_EQ(r.first(2), addr("198.18.9.0"));
  EXPECT_EQ(r.first(3), addr("198.18.10.0"));
  EXPECT_EQ(r.first(4), addr("198.20.0.0"));
  // The ranges cover the space, each starting right after the previous one.
  for (size_t i = 1; i < r.ranges.size(); ++i) EXPECT_EQ(r.ranges[i].first, inc(r.ranges[i - 1].second)) << i;
  EXPECT_EQ(r.ranges.back().second, maxOf(net::Family::V4));
}

TEST(PartitionAddresses, FindsTheRangeOfAnyAddress) {
  AddressRanges r = partitionAddresses(net::Family::V4, {prefix("198.18.9.0/24")});
  EXPECT_EQ(r.indexOf(addr("0.0.0.0")), 0u);
  EXPECT_EQ(r.indexOf(addr("198.18.8.255")), 0u);
  EXPECT_EQ(r.indexOf(addr("198.18.9.0")), 1u);
  EXPECT_EQ(r.indexOf(addr("198.18.9.255")), 1u);
  EXPECT_EQ(r.indexOf(addr("198.18.10.0")), 2u);
  EXPECT_EQ(r.indexOf(addr("255.255.255.255")), 2u);
}

TEST(PartitionAddresses, APrefixEndingTheSpaceAddsNoRangeAfterIt) {
  AddressRanges r = partitionAddresses(net::Family::V6, {prefix("ff00::/8"), prefix("::/0")});
  ASSERT_EQ(r.ranges.size(), 2u);
  EXPECT_EQ(r.first(1), addr("ff00::"));
  EXPECT_EQ(r.ranges[1].second, maxOf(net::Family::V6));
}

TEST(PartitionAddresses, IgnoresPrefixesOfTheOtherFamily) {
  AddressRanges v6 = partitionAddresses(net::Family::V6, {prefix("198.18.0.0/15"), prefix("2001:2::/48")});
  ASSERT_EQ(v6.ranges.size(), 3u);
  EXPECT_EQ(v6.first(1), addr("2001:2::"));
  EXPECT_EQ(v6.first(2), addr("2001:2:1::"));
  EXPECT_EQ(v6.family, net::Family::V6);
}

}  // namespace
}  // namespace membrane::analysis
