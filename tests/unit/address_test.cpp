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

}  // namespace
}  // namespace membrane::net
