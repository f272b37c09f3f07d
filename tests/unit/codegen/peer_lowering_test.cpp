// codegen::PeerLowering::choose (decision_codegen.h): the program-wide
// choices made before any class is generated: which CIDRs become bits in the
// identity trie, and whether a direction's rules go into tables. Tested on
// compiled policies, without generating code and without the kernel.
#include "codegen/decision_codegen.h"

#include <gtest/gtest.h>

#include "abi/datapath.h"
#include "cluster_test_support.h"

namespace membrane::testing {
namespace {

using codegen::DecisionMode;
using codegen::PeerLowering;

// x/a's ingress allowing x/b and the given CIDRs ("cidr A, cidr B").
std::string policyWithCidrs(const std::string& cidrs) {
  return "namespace x\npolicy p {\n  selects { pod = a }\n  ingress {\n    allow from pods { pod = b }" +
         (cidrs.empty() ? "" : ", " + cidrs) + " on tcp/80\n  }\n}\n";
}

TEST(PeerLowering, FoldsAFewCidrsIntoCode) {
  XyzCluster c(policyWithCidrs("cidr 198.18.9.0/24, cidr 198.18.10.0/24"));
  ASSERT_TRUE(c.ok());
  PeerLowering l = PeerLowering::choose(c.ir());
  EXPECT_TRUE(l.cidrBits.empty());
  EXPECT_EQ(l.mode, DecisionMode::Auto);
  EXPECT_EQ(l.bitCount(c.ir()), c.ir().selectors.size());
}

TEST(PeerLowering, LowersEveryCidrPastTheFoldLimitNumberedAfterTheSelectors) {
  XyzCluster c(policyWithCidrs("cidr 198.18.10.0/24, cidr 198.18.9.0/24"));
  ASSERT_TRUE(c.ok());
  PeerLowering l = PeerLowering::choose(c.ir(), /*foldLimit=*/1);
  ASSERT_EQ(l.cidrBits.size(), 2u);
  uint32_t first = static_cast<uint32_t>(c.ir().selectors.size());
  // In the CIDRs' order, whatever the order written.
  auto it = l.cidrBits.begin();
  EXPECT_EQ(it->first.prefix.str(), "198.18.9.0/24");
  EXPECT_EQ(it->second, first);
  ++it;
  EXPECT_EQ(it->first.prefix.str(), "198.18.10.0/24");
  EXPECT_EQ(it->second, first + 1);
  EXPECT_EQ(l.bitCount(c.ir()), c.ir().selectors.size() + 2);
}

TEST(PeerLowering, TablesLowerEvenOneCidrSinceTheyHoldOnlyBitMasks) {
  XyzCluster c(policyWithCidrs("cidr 198.18.9.0/24"));
  ASSERT_TRUE(c.ok());
  PeerLowering l = PeerLowering::choose(c.ir(), PeerLowering::kDefaultFoldLimit, DecisionMode::Table);
  EXPECT_EQ(l.mode, DecisionMode::Table);
  EXPECT_EQ(l.cidrBits.size(), 1u);
  EXPECT_TRUE(l.usesTable(c.ir().classes.at(0).ingress));
}

TEST(PeerLowering, WithoutCidrsTablesLowerNothing) {
  XyzCluster c(policyWithCidrs(""));
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(PeerLowering::choose(c.ir(), 0, DecisionMode::Table).cidrBits.empty());
}

TEST(PeerLowering, AutoUsesTablesOnlyPastTheRuleThreshold) {
  XyzCluster few(policyWithCidrs(""));
  ASSERT_TRUE(few.ok());
  EXPECT_FALSE(PeerLowering::choose(few.ir()).usesTable(few.ir().classes.at(0).ingress));

  std::string rules;
  for (size_t i = 0; i <= PeerLowering::kTableRuleThreshold; ++i)
    rules += "    allow from pods { pod = b } on tcp/" + std::to_string(1000 + i) + "\n";
  XyzCluster many("namespace x\npolicy p {\n  selects { pod = a }\n  ingress {\n" + rules + "  }\n}\n");
  ASSERT_TRUE(many.ok());
  const ir::DirectionPolicy& in = many.ir().classes.at(0).ingress;
  ASSERT_GT(in.rules.size(), PeerLowering::kTableRuleThreshold);
  PeerLowering l = PeerLowering::choose(many.ir());
  EXPECT_TRUE(l.usesTable(in));
  // --decision folded keeps them in code while that stays loadable.
  EXPECT_FALSE(PeerLowering::choose(many.ir(), PeerLowering::kDefaultFoldLimit, DecisionMode::Folded).usesTable(in));
}

// The trie value holds MB_PEER_BITS bits; past them, bits are looked up in
// mb_more_peer_bits, so a policy set needing more is lowered, not refused,
// and the class that tests them is marked as calling mb_peer_word.
TEST(PeerLowering, LowersMorePeerBitsThanTheTrieValueHoldsAndMarksTheClass) {
  std::string cidrs;
  for (uint32_t i = 0; i < MB_PEER_BITS; ++i)
    cidrs += std::string(i ? ", " : "") + "cidr 10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24";
  XyzCluster c(policyWithCidrs(cidrs));
  ASSERT_TRUE(c.ok());
  PeerLowering l = PeerLowering::choose(c.ir());
  EXPECT_EQ(l.bitCount(c.ir()), size_t(MB_PEER_BITS) + 1);
  EXPECT_TRUE(l.bitsPastTrieValue(c.ir().classes.at(0)));

  XyzCluster few(policyWithCidrs("cidr 198.18.10.0/24, cidr 198.18.9.0/24"));
  ASSERT_TRUE(few.ok());
  EXPECT_FALSE(PeerLowering::choose(few.ir(), /*foldLimit=*/1).bitsPastTrieValue(few.ir().classes.at(0)));
}

}  // namespace
}  // namespace membrane::testing
