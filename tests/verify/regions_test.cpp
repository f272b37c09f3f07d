// verify::regionsOf and peerKinds: the partition `membranec verify` probes.
// No kernel needed.
#include "verify/regions.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "pipeline/pipeline.h"

namespace membrane::verify {
namespace {

inventory::Endpoint endpoint(const std::string& name, labels::LabelSet labels, const std::string& address = "") {
  inventory::Endpoint e;
  e.name = e.workload = name;
  e.ns = "x";
  e.labels = std::move(labels);
  if (!address.empty()) e.addresses.push_back(*net::Address::parse(address));
  return e;
}

std::unique_ptr<pipeline::Compilation> compile(const std::string& policy, std::vector<inventory::Endpoint> endpoints) {
  auto c = std::make_unique<pipeline::Compilation>();
  c->inventory.endpoints = std::move(endpoints);
  pipeline::runText({{"t.policy", policy}}, *c);
  std::ostringstream diags;
  c->diags.print(diags, false);
  EXPECT_FALSE(c->diags.hasErrors()) << diags.str();
  return c;
}

// The ingress policy of one endpoint selected by a policy with `rules`.
ir::DirectionPolicy ingressOf(const std::string& rules) {
  auto c = compile("namespace x\npolicy p {\n  selects {}\n  ingress {\n" + rules + "  }\n}\n",
                   {endpoint("a", {}, "198.18.0.1")});
  EXPECT_TRUE(c->ir && c->ir->classes.size() == 1);
  return c->ir->classes.at(0).ingress;
}

bool hasTraffic(const FamilyRegions& fr, uint8_t protocol, uint16_t port) {
  return std::any_of(fr.traffic.begin(), fr.traffic.end(),
                     [&](const TrafficProbe& t) { return t.protocol == protocol && t.port == port; });
}

bool hasAddress(const FamilyRegions& fr, const std::string& a) {
  return std::count(fr.addresses.begin(), fr.addresses.end(), *net::Address::parse(a)) == 1;
}

TEST(Regions, BothEndsOfEveryPortIntervalAreProbed) {
  auto regions = regionsOf(ingressOf("    allow from all on tcp/80-90\n"));
  ASSERT_EQ(regions.size(), 2u);
  for (const auto& fr : regions) {
    // [0,79] [80,90] [91,65535]: a boundary moved by one in either direction shows.
    for (uint16_t p : {0, 79, 80, 90, 91, 65535}) EXPECT_TRUE(hasTraffic(fr, ir::kTCP, p)) << p;
    EXPECT_FALSE(hasTraffic(fr, ir::kTCP, 85));
    // Protocols no rule names: one interval each.
    EXPECT_TRUE(hasTraffic(fr, ir::kUDP, 0) && hasTraffic(fr, ir::kUDP, 65535));
  }
}

TEST(Regions, BothEndsOfEveryRangeTheCidrsCutAreProbed) {
  auto regions = regionsOf(ingressOf("    allow from cidr 198.19.0.0/16 except 198.19.5.0/24\n"));
  const FamilyRegions& v4 = regions[0];
  ASSERT_EQ(v4.family, net::Family::V4);
  EXPECT_EQ(v4.addressRanges, 5u);  // below, the /16 before the except, the except, after it, above
  for (const char* a : {"0.0.0.0", "198.18.255.255", "198.19.0.0", "198.19.4.255", "198.19.5.0", "198.19.5.255",
                        "198.19.6.0", "198.19.255.255", "198.20.0.0", "255.255.255.255"})
    EXPECT_TRUE(hasAddress(v4, a)) << a;
  // IPv6 is one range: the rule cuts nothing there.
  EXPECT_EQ(regions[1].addressRanges, 1u);
  EXPECT_EQ(regions[1].addresses.size(), 2u);
}

TEST(Regions, NeighbourDiscoveryIsNotAPolicyDecision) {
  // Cuts ICMPv6 types into [0,129] [130] [131,134] [135] [136,139] [140] [141,255].
  auto regions = regionsOf(ingressOf("    allow from all on icmpv6/130, icmpv6/135, icmpv6/140\n"));
  const FamilyRegions& v6 = regions[1];
  for (uint16_t t : {0, 129, 130, 131, 132, 138, 139, 140, 141, 255}) EXPECT_TRUE(hasTraffic(v6, ir::kICMPv6, t)) << t;
  // 133-137 always pass the datapath: the ends move inwards past them, and
  // [135] has nothing left.
  for (uint16_t t = 133; t <= 137; ++t) EXPECT_FALSE(hasTraffic(v6, ir::kICMPv6, t)) << t;
  ASSERT_EQ(v6.skipped.size(), 1u);
  EXPECT_EQ(v6.skipped[0], "ICMPv6 type 135 (neighbour discovery always passes)");
  // In IPv4, ICMPv6 has no types: one probe at port 0, one region.
  EXPECT_TRUE(hasTraffic(regions[0], ir::kICMPv6, 0));
  EXPECT_FALSE(hasTraffic(regions[0], ir::kICMPv6, 130));
}

TEST(Regions, PeerKindsAreTheDistinctIdentitiesTheHostAndTheWorld) {
  auto c = compile("namespace x\npolicy p {\n  selects {}\n  ingress {\n    allow from pods { app = a }\n  }\n}\n",
                   {endpoint("a", {{"app", "a"}}), endpoint("b", {{"app", "b"}}), endpoint("c", {{"app", "a"}})});
  ASSERT_TRUE(c->ir);
  auto kinds = peerKinds(*c->ir);
  // a and c share app = a (one identity); b is another; then host and world.
  ASSERT_EQ(kinds.size(), 4u);
  EXPECT_EQ(kinds[2].kind, ir::Peer::Kind::Host);
  EXPECT_EQ(kinds[3].kind, ir::Peer::Kind::World);
}

}  // namespace
}  // namespace membrane::verify
