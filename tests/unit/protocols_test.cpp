// ir/protocols: protocol and ICMP type names as the policy language spells
// them, both ways (compiler/ir/protocols.h, and the names ir.h declares).
#include "ir/protocols.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "ir/ir.h"

namespace membrane::ir {
namespace {

TEST(IcmpTypes, TheSameNameHasItsOwnNumberInIcmpAndIcmpv6) {
  EXPECT_EQ(icmpTypeByName(false, "echo-request"), std::optional<uint8_t>(8));
  EXPECT_EQ(icmpTypeByName(true, "echo-request"), std::optional<uint8_t>(128));
  EXPECT_EQ(icmpTypeByName(false, "echo-reply"), std::optional<uint8_t>(0));
  EXPECT_EQ(icmpTypeByName(true, "echo-reply"), std::optional<uint8_t>(129));
  EXPECT_EQ(icmpTypeByName(false, "destination-unreachable"), std::optional<uint8_t>(3));
  EXPECT_EQ(icmpTypeByName(true, "destination-unreachable"), std::optional<uint8_t>(1));
}

TEST(IcmpTypes, ANameOfOneFamilyOnlyIsUnknownInTheOther) {
  EXPECT_EQ(icmpTypeByName(true, "neighbor-solicitation"), std::optional<uint8_t>(135));
  EXPECT_EQ(icmpTypeByName(false, "neighbor-solicitation"), std::nullopt);
  EXPECT_EQ(icmpTypeByName(false, "timestamp-request"), std::optional<uint8_t>(13));
  EXPECT_EQ(icmpTypeByName(true, "timestamp-request"), std::nullopt);
  EXPECT_EQ(icmpTypeByName(false, "Echo-Request"), std::nullopt);  // names are lower case
  EXPECT_EQ(icmpTypeByName(false, ""), std::nullopt);
}

TEST(IcmpTypes, EveryListedNameReadsBackToTheNumberThatPrintsAsIt) {
  for (bool v6 : {false, true}) {
    std::vector<std::string> names = icmpTypeNames(v6);
    EXPECT_GE(names.size(), 10u);
    for (const auto& name : names) {
      auto type = icmpTypeByName(v6, name);
      ASSERT_TRUE(type) << name;
      EXPECT_EQ(icmpTypeName(v6, *type), name);
    }
    // One number per name: no two names share a type.
    std::vector<uint8_t> types;
    for (const auto& name : names) types.push_back(*icmpTypeByName(v6, name));
    std::sort(types.begin(), types.end());
    EXPECT_EQ(std::adjacent_find(types.begin(), types.end()), types.end());
  }
}

TEST(IcmpTypes, ATypeWithoutANameIsPrintedAsItsNumber) {
  EXPECT_EQ(icmpTypeName(false, 42), "42");
  EXPECT_EQ(icmpTypeName(true, 255), "255");
  EXPECT_EQ(icmpTypeName(true, 8), "8");  // echo-request in ICMP, nothing in ICMPv6
}

TEST(ProtocolNames, NamesTheProtocolsOfTheLanguageAndNumbersTheRest) {
  EXPECT_EQ(protocolName(kAnyProtocol), "any");
  EXPECT_EQ(protocolName(kICMP), "icmp");
  EXPECT_EQ(protocolName(kTCP), "tcp");
  EXPECT_EQ(protocolName(kUDP), "udp");
  EXPECT_EQ(protocolName(kICMPv6), "icmpv6");
  EXPECT_EQ(protocolName(kSCTP), "sctp");
  EXPECT_EQ(protocolName(47), "47");
}

TEST(ProtocolNames, NamesDirectionsAndActions) {
  EXPECT_STREQ(directionName(Direction::Ingress), "ingress");
  EXPECT_STREQ(directionName(Direction::Egress), "egress");
  EXPECT_STREQ(actionName(Action::Allow), "allow");
  EXPECT_STREQ(actionName(Action::Deny), "deny");
}

}  // namespace
}  // namespace membrane::ir
