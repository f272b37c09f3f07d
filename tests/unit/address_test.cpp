// net::Address and net::Prefix (runtime/net/address.h): parsing as the node
// and the compiler both rely on it.
#include "net/address.h"

#include <gtest/gtest.h>

#include <string>

namespace membrane::net {
namespace {

TEST(Address, ParsesIpv4AndIpv6AndPrintsThemBack) {
  auto v4 = Address::parse("198.18.0.1");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->family, Family::V4);
  EXPECT_EQ(v4->str(), "198.18.0.1");
  auto v6 = Address::parse("2001:2::1");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->family, Family::V6);
  EXPECT_EQ(v6->str(), "2001:2::1");
}

TEST(Address, RefusesWhatIsNotExactlyAnAddress) {
  for (const char* bad : {"", "198.18.0", "198.18.0.256", "198.18.00.1", " 198.18.0.1", "2001:2::1::2", "x"})
    EXPECT_FALSE(Address::parse(bad)) << bad;
}

TEST(Address, RefusesATextWithANulInsideInsteadOfReadingItsPrefix) {
  EXPECT_FALSE(Address::parse(std::string("198.18.0.1\0junk", 15)));
  EXPECT_FALSE(Address::parse(std::string("2001:2::1\0", 10)));
}

TEST(Prefix, RefusesHostBitsAndSaysSo) {
  bool hostBits = false;
  EXPECT_FALSE(Prefix::parse("198.18.1.0/15", &hostBits));
  EXPECT_TRUE(hostBits);
  auto p = Prefix::parse("198.18.0.0/15", &hostBits);
  ASSERT_TRUE(p);
  EXPECT_FALSE(hostBits);
  EXPECT_TRUE(p->contains(*Address::parse("198.19.255.255")));
  EXPECT_FALSE(p->contains(*Address::parse("198.20.0.0")));
  EXPECT_EQ(p->last().str(), "198.19.255.255");
}

TEST(Prefix, ABareAddressIsItsFullLength) {
  auto p = Prefix::parse("2001:2::7");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->length, 128);
  EXPECT_FALSE(Prefix::parse("2001:2::/129"));
  EXPECT_FALSE(Prefix::parse("198.18.0.0/"));
}

TEST(Address, PrintsIpv6InItsCanonicalForm) {
  // RFC 5952: lower case, no leading zeros, the longest run of zero groups
  // (the first of equal runs) as "::", a single zero group kept.
  EXPECT_EQ(Address::parse("2001:0002:0000:0000:0000:0000:0000:0001")->str(), "2001:2::1");
  EXPECT_EQ(Address::parse("2001:2:0:0:1:0:0:0")->str(), "2001:2:0:0:1::");
  EXPECT_EQ(Address::parse("2001:2:0:1:0:0:1:1")->str(), "2001:2:0:1::1:1");
  EXPECT_EQ(Address::parse("2001:2:0:1:2:3:4:5")->str(), "2001:2:0:1:2:3:4:5");
  EXPECT_EQ(Address::parse("2001:2::ABCD")->str(), "2001:2::abcd");
  EXPECT_EQ(Address::parse("::")->str(), "::");
}

TEST(Address, OrdersByFamilyThenBytesAndReadsBitsFromTheTop) {
  Address v4 = *Address::parse("198.18.0.1"), v4b = *Address::parse("198.18.0.2"), v6 = *Address::parse("::1");
  EXPECT_LT(v4, v4b);
  EXPECT_LT(v4b, v6);  // every IPv4 address before every IPv6 one
  EXPECT_EQ(v4.bits(), 32u);
  EXPECT_EQ(v6.bits(), 128u);
  EXPECT_TRUE(v4.bit(0));    // 198 = 0b11000110
  EXPECT_FALSE(v4.bit(2));
  EXPECT_TRUE(v4.bit(31));   // ...1
  EXPECT_FALSE(v4.bit(30));
}

TEST(Prefix, ContainsAndOverlapsOnlyWithinAFamily) {
  Prefix wide = *Prefix::parse("198.18.0.0/15"), narrow = *Prefix::parse("198.19.3.0/24");
  Prefix other = *Prefix::parse("198.20.0.0/16"), v6 = *Prefix::parse("::/0");
  EXPECT_TRUE(wide.contains(narrow));
  EXPECT_FALSE(narrow.contains(wide));
  EXPECT_TRUE(narrow.overlaps(wide));
  EXPECT_TRUE(wide.overlaps(narrow));
  EXPECT_FALSE(wide.overlaps(other));
  EXPECT_FALSE(v6.contains(narrow)) << "::/0 is every IPv6 address, no IPv4 one";
  EXPECT_FALSE(v6.contains(*Address::parse("198.18.0.1")));
  EXPECT_TRUE(v6.contains(*Address::parse("2001:2::1")));
}

TEST(Prefix, PrintsAndSpansItsRange) {
  Prefix p = *Prefix::parse("2001:2::/48");
  EXPECT_EQ(p.str(), "2001:2::/48");
  EXPECT_EQ(p.first().str(), "2001:2::");
  EXPECT_EQ(p.last().str(), "2001:2:0:ffff:ffff:ffff:ffff:ffff");
  Prefix all = *Prefix::parse("0.0.0.0/0");
  EXPECT_EQ(all.last().str(), "255.255.255.255");
  EXPECT_EQ(Prefix::parse("198.18.0.1")->str(), "198.18.0.1/32");
}

// `cidr 198.18.0.0/16 except (198.18.7.0/24)`, as the IR, the manifest and
// the node all match it.
TEST(PrefixExcept, InsideThePrefixAndOutsideEveryException) {
  Prefix cidr = *Prefix::parse("198.18.0.0/16");
  std::vector<Prefix> except = {*Prefix::parse("198.18.7.0/24"), *Prefix::parse("198.18.9.128/25")};
  EXPECT_TRUE(inPrefixExcept(cidr, except, *Address::parse("198.18.6.255")));
  EXPECT_FALSE(inPrefixExcept(cidr, except, *Address::parse("198.18.7.0")));
  EXPECT_FALSE(inPrefixExcept(cidr, except, *Address::parse("198.18.9.200")));
  EXPECT_TRUE(inPrefixExcept(cidr, except, *Address::parse("198.18.9.127")));
  EXPECT_FALSE(inPrefixExcept(cidr, except, *Address::parse("198.19.0.1")));
  EXPECT_FALSE(inPrefixExcept(cidr, except, *Address::parse("2001:2::1"))) << "another family";
  EXPECT_TRUE(inPrefixExcept(cidr, {}, *Address::parse("198.18.7.1")));
  // A region is a trie entry: its longer sub-prefixes (an exception among
  // them) have entries of their own, so it matches unless an exception
  // covers it whole, or it is wider than the prefix.
  EXPECT_TRUE(inPrefixExcept(cidr, except, *Prefix::parse("198.18.8.0/24")));
  EXPECT_FALSE(inPrefixExcept(cidr, except, *Prefix::parse("198.18.7.0/25")));
  EXPECT_TRUE(inPrefixExcept(cidr, except, *Prefix::parse("198.18.0.0/20")));
  EXPECT_FALSE(inPrefixExcept(cidr, except, *Prefix::parse("198.16.0.0/14"))) << "wider than the prefix";
}

}  // namespace
}  // namespace membrane::net
