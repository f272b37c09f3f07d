// codegen/port_leaves.h: the rules that apply to a protocol and the
// elementary port intervals they cut it into, the skeleton of every folded
// decision. Pure functions of the IR: tested on compiled policies, without
// LLVM's code generation and without the kernel.
#include "codegen/port_leaves.h"

#include <gtest/gtest.h>

#include "cluster_test_support.h"

namespace membrane::testing {
namespace {

using codegen::applicableFor;
using codegen::namedProtocols;
using codegen::PortLeaves;
using codegen::portLeaves;

// The ingress rules of x/a's class under `rules` (policy text inside an ingress section).
class IngressOfA {
 public:
  explicit IngressOfA(const std::string& rules)
      : cluster_("namespace x\npolicy p {\n  selects { pod = a }\n  ingress {\n" + rules + "  }\n}\n") {}
  ::testing::AssertionResult ok() const { return cluster_.ok(); }
  std::vector<const ir::Rule*> rules() const {
    std::vector<const ir::Rule*> out;
    for (const auto& r : cluster_.ir().classes.at(0).ingress.rules) out.push_back(&r);
    return out;
  }

 private:
  XyzCluster cluster_;
};

TEST(PortLeaves, CutsThePortsAtEveryRangeStartAndEnd) {
  // In verdict order (deny first): [0] tcp/80, [1] tcp/1-1024, [2] any port.
  IngressOfA in("    deny from pods { pod = b } on tcp/80\n"
                "    allow from pods { pod = c } on tcp/1-1024\n"
                "    allow from pods { pod = b } on tcp\n");
  ASSERT_TRUE(in.ok());
  PortLeaves leaves = portLeaves(applicableFor(in.rules(), ir::kTCP));
  EXPECT_EQ(leaves.starts, (std::vector<uint32_t>{0, 1, 80, 81, 1025}));
  EXPECT_EQ(leaves.lists, (std::vector<std::vector<size_t>>{{2}, {1, 2}, {0, 1, 2}, {1, 2}, {2}}));
}

TEST(PortLeaves, MergesNeighboursThatDecideAlike) {
  // Lowering merges a rule's adjacent ranges itself; given apart (as two
  // protocol items of one rule could be), 80-90 and 91-100 are still one
  // interval of the search.
  ir::Rule rule;
  std::vector<codegen::Applicable> rules = {{&rule, false, {{80, 90}, {91, 100}, {200, 200}}}};
  PortLeaves leaves = portLeaves(rules);
  EXPECT_EQ(leaves.starts, (std::vector<uint32_t>{0, 80, 101, 200, 201}));
  EXPECT_EQ(leaves.lists, (std::vector<std::vector<size_t>>{{}, {0}, {}, {0}, {}}));
}

TEST(PortLeaves, ARangeToTheLastPortAddsNoBoundaryPastIt) {
  IngressOfA in("    allow from pods { pod = b } on udp/60000-65535\n");
  ASSERT_TRUE(in.ok());
  PortLeaves leaves = portLeaves(applicableFor(in.rules(), ir::kUDP));
  EXPECT_EQ(leaves.starts, (std::vector<uint32_t>{0, 60000}));
  EXPECT_EQ(leaves.lists, (std::vector<std::vector<size_t>>{{}, {0}}));
}

TEST(PortLeaves, NoRulesLeaveOneEmptyInterval) {
  PortLeaves leaves = portLeaves({});
  EXPECT_EQ(leaves.starts, std::vector<uint32_t>{0});
  EXPECT_EQ(leaves.lists, std::vector<std::vector<size_t>>{{}});
}

TEST(ApplicableRules, KeepOnlyTheRulesThatCanMatchTheProtocol) {
  // [0] tcp/80 and udp/53, [1] any protocol, [2] udp only.
  IngressOfA in("    allow from pods { pod = b } on tcp/80, udp/53\n"
                "    allow from pods { pod = c } on any\n"
                "    allow from world on udp\n");
  ASSERT_TRUE(in.ok());
  auto tcp = applicableFor(in.rules(), ir::kTCP);
  ASSERT_EQ(tcp.size(), 2u);
  EXPECT_EQ(tcp[0].rule->id, in.rules()[0]->id);
  EXPECT_FALSE(tcp[0].allPorts);
  ASSERT_EQ(tcp[0].ranges.size(), 1u);
  EXPECT_EQ(tcp[0].ranges[0].first, 80);  // only the TCP ports, not udp/53
  EXPECT_TRUE(tcp[1].allPorts);
  EXPECT_TRUE(tcp[1].ranges.empty());

  auto udp = applicableFor(in.rules(), ir::kUDP);
  EXPECT_EQ(udp.size(), 3u);
  EXPECT_TRUE(udp[2].allPorts);  // `udp` without ports
}

TEST(ApplicableRules, AProtocolNoRuleNamesHasOnlyTheAnyProtocolRulesWithoutPorts) {
  IngressOfA in("    allow from pods { pod = b } on tcp/80\n"
                "    allow from pods { pod = c } on any\n");
  ASSERT_TRUE(in.ok());
  auto other = applicableFor(in.rules(), std::nullopt);
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].rule->id, in.rules()[1]->id);
  EXPECT_TRUE(other[0].allPorts);
}

TEST(ApplicableRules, NamedProtocolsAreSortedAndUnique) {
  IngressOfA in("    allow from pods { pod = b } on udp/53, tcp/80\n"
                "    allow from pods { pod = c } on tcp/443, icmp/echo-request\n"
                "    allow from world on any\n");
  ASSERT_TRUE(in.ok());
  EXPECT_EQ(namedProtocols(in.rules()), (std::vector<uint8_t>{ir::kICMP, ir::kTCP, ir::kUDP}));
}

}  // namespace
}  // namespace membrane::testing
