// The L4 rule kind as a module (compiler/features/l4/): each of its stages —
// checking `on` items, lowering for one subject, its meaning, its printing,
// the program kinds that enforce it — asked directly, the way every new rule
// kind is tested (docs/extending.md).
#include "features/l4/l4.h"

#include <gtest/gtest.h>

#include "frontend_test_support.h"

namespace membrane::features::l4 {
namespace {

using ir::kICMP;
using ir::kTCP;
using ir::kUDP;

TEST(FeaturesL4, ARuleWithoutOnOrWithAnyHasNoL4Condition) {
  auto c = testing::compile(
      "policy p {\n  selects {}\n  ingress {\n    allow from world\n    allow from world on tcp/80, any\n"
      "    allow from world on udp\n  }\n}\n");
  ASSERT_TRUE(c->checked) << testing::rendered(*c);
  const auto& rules = c->checked->policies.at(0).rules;
  EXPECT_EQ(rules[0].condition<Checked>(), nullptr) << "no `on`: any protocol";
  EXPECT_EQ(rules[1].condition<Checked>(), nullptr) << "`any` among the items makes the others redundant";
  ASSERT_NE(rules[2].condition<Checked>(), nullptr);
  EXPECT_EQ(rules[2].condition<Checked>()->specs.at(0).protocol, kUDP);
  EXPECT_TRUE(specsOf(rules[0]).empty());
}

TEST(FeaturesL4, CheckingReportsEachBadItemWhereItIsWritten) {
  auto c = testing::compile(
      "policy p {\n  selects {}\n  ingress {\n    allow from world on tcp/{0, 70000, 90-80}, icmp/bogus\n  }\n}\n");
  EXPECT_FALSE(c->checked);
  EXPECT_EQ(testing::diagnostics(*c),
            (testing::Lines{"a.policy:4:30: error: port 0 is out of range (1-65535)",
                            "a.policy:4:33: error: port 70000 is out of range (1-65535)",
                            "a.policy:4:40: error: port range 90-80 is reversed | hint: did you mean `80-90`?",
                            "a.policy:4:53: error: unknown ICMP type 'bogus' | hint: use a type number 0-255 or a "
                            "name such as `echo-request`"}));
}

TEST(FeaturesL4, FinishKeepsTheItemsUnlessOneIsAny) {
  L4Spec tcp;
  tcp.protocol = kTCP;
  L4Spec any;
  any.protocol = ir::kAnyProtocol;
  EXPECT_FALSE(finish({}));
  EXPECT_FALSE(finish({tcp, any}));
  auto kept = finish({tcp});
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->specs.size(), 1u);
}

TEST(FeaturesL4, IngressNamedPortsResolveOnTheSubjectAndEgressOnesAreLeftToThePeers) {
  L4Spec spec;
  spec.protocol = kTCP;
  spec.allPorts = false;
  spec.ports = {{443, 443}};
  spec.namedPorts = {{kTCP, "web", {}}, {kTCP, "admin", {}}};
  Checked checked{{spec}};
  std::vector<labels::NamedPort> ports = {{"web", kTCP, 80}, {"web", kUDP, 53}};
  std::vector<std::string> unresolved;
  auto record = [&](const NamedPortRef& r) { unresolved.push_back(r.name); };

  auto in = lowerForSubject(checked, ir::Direction::Ingress, ports, record);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->matches, (std::vector<ir::L4Match>{{kTCP, {{80, 80}, {443, 443}}}}));
  EXPECT_EQ(unresolved, (std::vector<std::string>{"admin"})) << "web/udp is another port than web/tcp";

  unresolved.clear();
  auto out = lowerForSubject(checked, ir::Direction::Egress, ports, record);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->matches, (std::vector<ir::L4Match>{{kTCP, {{443, 443}}}}));
  EXPECT_TRUE(unresolved.empty()) << "egress names resolve per destination, in lowering";
}

TEST(FeaturesL4, AConditionWhoseOnlyPortsAreUndefinedNamesMatchesNothing) {
  L4Spec spec;
  spec.protocol = kTCP;
  spec.allPorts = false;
  spec.namedPorts = {{kTCP, "web", {}}};
  EXPECT_FALSE(lowerForSubject(Checked{{spec}}, ir::Direction::Ingress, {}, [](const NamedPortRef&) {}));
}

TEST(FeaturesL4, LoweringMergesRangesAndAllPortsWinsOverNumbers) {
  L4Spec numbers;
  numbers.protocol = kTCP;
  numbers.allPorts = false;
  numbers.ports = {{82, 90}, {80, 81}, {85, 85}};
  L4Spec udpAll;
  udpAll.protocol = kUDP;
  L4Spec udpSome = numbers;
  udpSome.protocol = kUDP;
  auto lowered = lowerForSubject(Checked{{numbers, udpAll, udpSome}}, ir::Direction::Ingress, {},
                                 [](const NamedPortRef&) {});
  ASSERT_TRUE(lowered);
  EXPECT_EQ(lowered->matches, (std::vector<ir::L4Match>{{kTCP, {{80, 90}}}, {kUDP, {}}}));
  EXPECT_EQ(normalizeRanges({{5, 6}, {1, 3}, {4, 4}, {9, 9}}), (std::vector<ir::PortRange>{{1, 6}, {9, 9}}));
}

TEST(FeaturesL4, MatchesTheProtocolAndAPortOrTypeInItsRanges) {
  ir::L4Condition c{{{kTCP, {{80, 81}, {443, 443}}}, {kUDP, {}}, {kICMP, {{8, 8}}}}};
  EXPECT_TRUE(matches(c, {kTCP, 80}));
  EXPECT_TRUE(matches(c, {kTCP, 81}));
  EXPECT_FALSE(matches(c, {kTCP, 82}));
  EXPECT_TRUE(matches(c, {kTCP, 443}));
  EXPECT_TRUE(matches(c, {kUDP, 9}));
  EXPECT_TRUE(matches(c, {kICMP, 8}));
  EXPECT_FALSE(matches(c, {kICMP, 0}));
  EXPECT_FALSE(matches(c, {ir::kSCTP, 80}));
  EXPECT_TRUE(matches(ir::L4Condition{{{ir::kAnyProtocol, {}}}}, {47, 0}));
  EXPECT_EQ(single(kUDP, 53).matches, (std::vector<ir::L4Match>{{kUDP, {{53, 53}}}}));
}

TEST(FeaturesL4, PrintsItsMatchesOrAnyForARuleWithoutOne) {
  ir::Rule rule;
  nlohmann::json j;
  printJson(rule, j);
  EXPECT_EQ(j["l4"], "any");
  EXPECT_EQ(describe(rule), "any");
  rule.conditions.push_back(ir::L4Condition{{{kTCP, {{80, 80}, {8000, 8080}}}, {ir::kICMPv6, {{128, 129}}}}});
  j = nlohmann::json::object();
  printJson(rule, j);
  EXPECT_EQ(j["l4"], nlohmann::json::parse(R"([{"protocol":"tcp","ports":["80","8000-8080"]},
                                               {"protocol":"icmpv6","types":["echo-request","echo-reply"]}])"));
  EXPECT_EQ(describe(rule), "tcp/80,8000-8080, icmpv6/echo-request,echo-reply");
}

TEST(FeaturesL4, BothPacketProgramKindsEnforceIt) {
  EXPECT_TRUE(enforceableBy(ProgramKind::Tc));
  EXPECT_TRUE(enforceableBy(ProgramKind::CgroupSkb));
}

}  // namespace
}  // namespace membrane::features::l4
