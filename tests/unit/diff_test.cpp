// `membranec diff`: connectivity added and removed between two versions of a
// policy set, and the rules responsible, on the x/y/z × a/b/c cluster of
// cluster_test_support.h.
#include "analysis/diff.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cluster_test_support.h"

namespace membrane::analysis {
namespace {

using membrane::testing::XyzCluster;

const ReachOptions kWorkloadsOnly{false, false};

// Line 1 is the namespace; the rule is on line 5, column 5.
const char* kBase = R"(namespace x
policy a-in {
  selects { pod = a }
  ingress {
    allow from pods { pod = b } on tcp/80
  }
}
)";

ReachDiff diff(const XyzCluster& before, const XyzCluster& after, const ReachOptions& options = kWorkloadsOnly) {
  return diffReach({&before.ir(), before.policyKeys()}, {&after.ir(), after.policyKeys()}, options);
}

// "src -> dst: conns" per change, one a line.
std::string flows(const std::vector<FlowChange>& changes) {
  std::string out;
  for (const auto& f : changes) out += f.src + " -> " + f.dst + ": " + f.conns.str() + "\n";
  return out;
}

std::string causes(const std::vector<Cause>& cs) {
  std::string out;
  for (const auto& c : cs) out += describeCause(c) + "\n";
  return out;
}

TEST(DiffFlows, AddedRuleAddsExactlyItsFlowWithTheRuleResponsible) {
  XyzCluster before(kBase, "old.policy");
  XyzCluster after(R"(namespace x
policy a-in {
  selects { pod = a }
  ingress {
    allow from pods { pod = b } on tcp/80
    allow from pods { pod = c } on tcp/80
  }
}
)",
                   "new.policy");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  ReachDiff d = diff(before, after);
  EXPECT_EQ(flows(d.added), "x/c -> x/a: TCP 80\n");
  EXPECT_EQ(flows(d.removed), "");
  ASSERT_EQ(d.added.size(), 1u);
  EXPECT_EQ(causes(d.added[0].after),
            "egress of x/c: open: no policy selects it\n"
            "ingress of x/a: `allow from pods { pod = c } on tcp/80` (x/a-in, new.policy:6:5)\n");
  EXPECT_EQ(causes(d.added[0].before), "ingress of x/a: default deny (selected by x/a-in)\n");
  EXPECT_TRUE(d.connectivityChanged());
  EXPECT_EQ(d.policies.rulesAdded, 1u);
  EXPECT_EQ(d.policies.rulesRemoved, 0u);
}

TEST(DiffFlows, RemovedRuleRemovesItsFlow) {
  XyzCluster before(R"(namespace x
policy a-in {
  selects { pod = a }
  ingress {
    allow from pods { pod = b } on tcp/80
    allow from pods { pod = c } on tcp/80
  }
}
)",
                    "old.policy");
  XyzCluster after(kBase, "new.policy");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  ReachDiff d = diff(before, after);
  EXPECT_EQ(flows(d.added), "");
  EXPECT_EQ(flows(d.removed), "x/c -> x/a: TCP 80\n");
  ASSERT_EQ(d.removed.size(), 1u);
  EXPECT_EQ(causes(d.removed[0].before),
            "egress of x/c: open: no policy selects it\n"
            "ingress of x/a: `allow from pods { pod = c } on tcp/80` (x/a-in, old.policy:6:5)\n");
  // Only the side that now denies.
  EXPECT_EQ(causes(d.removed[0].after), "ingress of x/a: default deny (selected by x/a-in)\n");
}

TEST(DiffFlows, WiderPortRangeAddsOnlyTheNewPorts) {
  XyzCluster before(kBase);
  XyzCluster after(R"(namespace x
policy a-in {
  selects { pod = a }
  ingress {
    allow from pods { pod = b } on tcp/80-82
  }
}
)");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  ReachDiff d = diff(before, after);
  EXPECT_EQ(flows(d.added), "x/b -> x/a: TCP 81-82\n");
  EXPECT_EQ(flows(d.removed), "");
}

TEST(DiffFlows, AddedDenyRemovesWithTheDenyRule) {
  XyzCluster before(kBase);
  XyzCluster after(R"(namespace x
policy a-in {
  selects { pod = a }
  ingress {
    allow from pods { pod = b } on tcp/80
    deny from pods { pod = b }
  }
}
)");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  ReachDiff d = diff(before, after);
  EXPECT_EQ(flows(d.added), "");
  EXPECT_EQ(flows(d.removed), "x/b -> x/a: TCP 80\n");
  ASSERT_EQ(d.removed.size(), 1u);
  ASSERT_EQ(d.removed[0].after.size(), 1u);
  EXPECT_EQ(d.removed[0].after[0].kind, Cause::Kind::Rule);
  EXPECT_EQ(d.removed[0].after[0].action, ir::Action::Deny);
  EXPECT_EQ(d.removed[0].after[0].location, "t.policy:6:5");
}

TEST(DiffFlows, NewPolicyThatSelectsIsNamedInTheDefaultDeny) {
  XyzCluster before(kBase);
  XyzCluster after(std::string(kBase) + "policy b-out {\n  selects { pod = b }\n  egress {}\n}\n");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  ReachDiff d = diff(before, after);
  EXPECT_EQ(flows(d.added), "");
  // Everything x/b could open before: the whole cluster (all), and x/a on TCP 80.
  EXPECT_EQ(flows(d.removed),
            "x/b -> x/a: TCP 80\nx/b -> x/c: all\nx/b -> y/a: all\nx/b -> y/b: all\nx/b -> y/c: all\n"
            "x/b -> z/a: all\nx/b -> z/b: all\nx/b -> z/c: all\n");
  ASSERT_FALSE(d.removed.empty());
  ASSERT_EQ(d.removed[0].after.size(), 1u);
  const Cause& c = d.removed[0].after[0];
  EXPECT_EQ(c.kind, Cause::Kind::DefaultDeny);
  EXPECT_EQ(c.direction, ir::Direction::Egress);
  EXPECT_EQ(c.newlySelecting, std::vector<std::string>{"x/b-out"});
  EXPECT_EQ(describeCause(c), "egress of x/b: default deny: newly selected by x/b-out");
  EXPECT_EQ(d.policies.policiesAdded, std::vector<std::string>{"x/b-out"});
}

TEST(DiffFlows, RenameAndReformatChangeNoFlow) {
  XyzCluster before(kBase);
  // The policy renamed, the peer through a named selector, reformatted.
  XyzCluster after(R"(namespace x
selector bees = { pod = b }


policy a-ingress { selects { pod = a }
  ingress { allow from pods bees on tcp/80 } }
)");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  ReachDiff d = diff(before, after, ReachOptions{});  // with host and external ranges too
  EXPECT_FALSE(d.connectivityChanged());
  EXPECT_EQ(flows(d.added), "");
  EXPECT_EQ(flows(d.removed), "");
  EXPECT_EQ(d.policies.policiesAdded, std::vector<std::string>{"x/a-ingress"});
  EXPECT_EQ(d.policies.policiesRemoved, std::vector<std::string>{"x/a-in"});
  EXPECT_EQ(d.policies.rulesAdded, 1u);
  EXPECT_EQ(d.policies.rulesRemoved, 1u);
  std::string md = renderDiffMarkdown(d);
  EXPECT_NE(md.find("**Policy review:** No connectivity change for this inventory."), std::string::npos) << md;
  EXPECT_NE(md.find("no flow changed"), std::string::npos) << md;

  // Moving a rule (only whitespace and lines change) is no policy change.
  XyzCluster moved(
      "\n\nnamespace x\npolicy a-in { selects { pod = a } ingress {\n allow from pods { pod = b } on tcp/80 } }\n");
  ASSERT_TRUE(moved.ok());
  ReachDiff same = diff(before, moved);
  EXPECT_FALSE(same.connectivityChanged());
  EXPECT_TRUE(same.policies.empty());
}

TEST(DiffFlows, AdjacentExternalRangesWithTheSameChangeMerge) {
  // The old version's CIDR on y/a cuts the IPv4 space into three ranges;
  // x/a's new egress to the world changes all three alike.
  const char* other = "namespace y\npolicy y-out { selects { pod = a } egress { allow to cidr 198.19.0.0/24 } }\n";
  XyzCluster before(std::string(other) + "namespace x\npolicy a-out { selects { pod = a } egress {} }\n");
  XyzCluster after(std::string(other) +
                   "namespace x\npolicy a-out { selects { pod = a } egress { allow to world } }\n");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  ReachDiff d = diff(before, after, ReachOptions{false, true});
  EXPECT_EQ(flows(d.added),
            "x/a -> 0.0.0.0-255.255.255.255: all\n"
            "x/a -> ::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff: all\n");

  // Ranges with different changes stay apart.
  XyzCluster partial(std::string(other) +
                     "namespace x\npolicy a-out { selects { pod = a } egress { allow to cidr 198.19.0.0/24 } }\n");
  ASSERT_TRUE(partial.ok());
  ReachDiff p = diff(partial, after, ReachOptions{false, true});
  EXPECT_EQ(flows(p.added),
            "x/a -> 0.0.0.0-198.18.255.255: all\n"
            "x/a -> 198.19.1.0-255.255.255.255: all\n"
            "x/a -> ::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff: all\n");
}

TEST(DiffFlows, CidrCutOnlyInTheNewVersionIsCompared) {
  // The new deny cuts a range the old version did not know; the diff sees it.
  XyzCluster before("namespace x\npolicy a-out { selects { pod = a } egress { allow to world } }\n");
  XyzCluster after(
      "namespace x\npolicy a-out { selects { pod = a } egress { allow to world\n"
      " deny to cidr 198.19.66.0/24 on tcp } }\n");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  ReachDiff d = diff(before, after, ReachOptions{false, true});
  EXPECT_EQ(flows(d.added), "");
  EXPECT_EQ(flows(d.removed), "x/a -> 198.19.66.0-198.19.66.255: TCP 1-65535\n");
  ASSERT_EQ(d.removed.size(), 1u);
  EXPECT_EQ(causes(d.removed[0].after),
            "egress of x/a: `deny to cidr 198.19.66.0/24 on tcp` (x/a-out, t.policy:3:2)\n");
}

// Whether `conns` allows `protocol` ("TCP", ...) on `port`.
bool covers(const Conns& conns, const std::string& protocol, uint16_t port) {
  if (conns.all) return true;
  for (const auto& p : conns.protocols) {
    if (p.name != protocol) continue;
    if (!p.hasPorts) return true;
    for (const auto& r : p.ports)
      if (port >= r.first && port <= r.last) return true;
  }
  return false;
}

// The diff of every pair of versions agrees with `reach` of each version:
// on every workload pair and sampled port, added = allowed now and not
// before, removed = the other way round.
TEST(DiffFlows, AgreesWithReachOfBothVersions) {
  const std::vector<std::string> versions = {
      "",
      kBase,
      "namespace x\npolicy all-in { selects {} ingress { allow from namespaces { ns = y } on tcp/80, tcp/443\n"
      " deny from pods { pod = c } in namespace y on tcp/443 } }\n",
      "namespace x\npolicy out { selects { pod in (a, b) } egress { allow to pods { pod = c } in namespaces {} on "
      "udp/53, tcp/53\n allow to pods {} on tcp/8000-8080 } }\n",
      "namespace y\npolicy y-in { selects { pod = b } ingress { allow from cluster on tcp/80-443 } }\n",
  };
  const std::vector<std::pair<std::string, uint16_t>> samples = {
      {"TCP", 1},    {"TCP", 53},   {"TCP", 79},   {"TCP", 80}, {"TCP", 81}, {"TCP", 443},
      {"TCP", 8000}, {"TCP", 8080}, {"TCP", 8081}, {"UDP", 53}, {"UDP", 54}, {"ICMP", 8}};
  std::vector<std::unique_ptr<XyzCluster>> clusters;
  for (const auto& v : versions) {
    clusters.push_back(std::make_unique<XyzCluster>(v));
    ASSERT_TRUE(clusters.back()->ok()) << v;
  }
  size_t changedSamples = 0;
  for (size_t o = 0; o < clusters.size(); ++o) {
    for (size_t n = 0; n < clusters.size(); ++n) {
      Reachability before = computeReach(clusters[o]->ir(), kWorkloadsOnly);
      Reachability after = computeReach(clusters[n]->ir(), kWorkloadsOnly);
      ReachDiff d = diff(*clusters[o], *clusters[n]);
      EXPECT_EQ(d.connectivityChanged(), o != n) << o << " -> " << n;
      auto allowed = [](const Reachability& r, const std::string& src, const std::string& dst,
                        const std::pair<std::string, uint16_t>& s) {
        for (const auto& f : r.flows)
          if (f.src == src && f.dst == dst) return covers(f.conns, s.first, s.second);
        return false;
      };
      auto listed = [](const std::vector<FlowChange>& changes, const std::string& src, const std::string& dst,
                       const std::pair<std::string, uint16_t>& s) {
        for (const auto& f : changes)
          if (f.src == src && f.dst == dst && covers(f.conns, s.first, s.second)) return true;
        return false;
      };
      for (const auto& src : before.peers) {
        for (const auto& dst : before.peers) {
          if (src.name == dst.name) continue;
          for (const auto& s : samples) {
            bool was = allowed(before, src.name, dst.name, s), is = allowed(after, src.name, dst.name, s);
            SCOPED_TRACE(std::to_string(o) + " -> " + std::to_string(n) + ": " + src.name + " -> " + dst.name +
                         " " + s.first + " " + std::to_string(s.second));
            EXPECT_EQ(listed(d.added, src.name, dst.name, s), is && !was);
            EXPECT_EQ(listed(d.removed, src.name, dst.name, s), was && !is);
            changedSamples += was != is;
          }
        }
      }
    }
  }
  EXPECT_GT(changedSamples, 100u);  // the versions do differ
}

// ---- HTTP requests (docs/http.md) ----------------------------------------------------

// Line 1 is the namespace; the rule is on line 5, column 5.
const char* kHttpBase = R"(namespace x
policy a-in {
  selects { pod = a }
  ingress {
    allow from pods { pod = b } on tcp/8080 with http { GET "/api/v1/products/*"; POST "/api/v1/orders" }
  }
}
)";

// kHttpBase with `rules` in place of its rule (line 5 and on).
std::string aIngress(const std::string& rules) {
  return "namespace x\npolicy a-in {\n  selects { pod = a }\n  ingress {\n" + rules + "  }\n}\n";
}

std::string requests(const std::optional<HttpRequests>& r) {
  if (!r) return "not read";
  std::string out = "allowed:";
  for (const auto& i : r->allowed) out += " " + i + ";";
  out += " denied:";
  for (const auto& i : r->denied) out += " " + i + ";";
  return out;
}

TEST(DiffRequests, ChangedRequestItemsAreARequestChangeWithTheRulesInBothVersions) {
  XyzCluster before(kHttpBase, "old.policy");
  XyzCluster after(aIngress("    allow from pods { pod = b } on tcp/8080 with http { GET \"/api/**\"; POST "
                            "\"/api/v1/orders\" }\n"),
                   "new.policy");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  ReachDiff d = diff(before, after);
  EXPECT_EQ(flows(d.added), "");
  EXPECT_EQ(flows(d.removed), "");
  EXPECT_FALSE(d.connectivityChanged());
  EXPECT_TRUE(d.changed());
  EXPECT_EQ(flows(d.requestsChanged), "x/b -> x/a: TCP 8080\n");
  ASSERT_EQ(d.requestsChanged.size(), 1u);
  const FlowChange& f = d.requestsChanged[0];
  EXPECT_EQ(requests(f.requestsBefore), "allowed: GET \"/api/v1/products/*\"; POST \"/api/v1/orders\"; denied:");
  EXPECT_EQ(requests(f.requestsAfter), "allowed: GET \"/api/**\"; POST \"/api/v1/orders\"; denied:");
  EXPECT_EQ(causes(f.before),
            "ingress of x/a: `allow from pods { pod = b } on tcp/8080 with http { GET \"/api/v1/products/*\"; POST "
            "\"/api/v1/orders\" }` (x/a-in, old.policy:5:5)\n");
  EXPECT_EQ(causes(f.after),
            "ingress of x/a: `allow from pods { pod = b } on tcp/8080 with http { GET \"/api/**\"; POST "
            "\"/api/v1/orders\" }` (x/a-in, new.policy:5:5)\n");
}

TEST(DiffRequests, PortsChangedByTheSameRulesAreOneChangeOthersApart) {
  XyzCluster before(aIngress("    allow from pods { pod = b } on tcp/8080, tcp/9090 with http { GET }\n"
                             "    allow from pods { pod = b } on tcp/7070 with http { GET }\n"));
  XyzCluster after(aIngress("    allow from pods { pod = b } on tcp/8080, tcp/9090 with http { GET \"/x\" }\n"
                            "    allow from pods { pod = b } on tcp/7070 with http { GET \"/y\" }\n"));
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  ReachDiff d = diff(before, after);
  // Groups in the order of their first port.
  EXPECT_EQ(flows(d.requestsChanged), "x/b -> x/a: TCP 7070\nx/b -> x/a: TCP 8080,9090\n");
}

TEST(DiffRequests, HttpConditionAddedToAPlainRuleMeansTheRequestsAreNowRead) {
  XyzCluster before(aIngress("    allow from pods { pod = b } on tcp/8080\n"), "old.policy");
  XyzCluster after(kHttpBase, "new.policy");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  ReachDiff d = diff(before, after);
  EXPECT_EQ(flows(d.added), "");
  EXPECT_EQ(flows(d.removed), "");
  EXPECT_EQ(flows(d.requestsChanged), "x/b -> x/a: TCP 8080\n");
  ASSERT_EQ(d.requestsChanged.size(), 1u);
  const FlowChange& f = d.requestsChanged[0];
  EXPECT_EQ(requests(f.requestsBefore), "not read");
  EXPECT_EQ(requests(f.requestsAfter), "allowed: GET \"/api/v1/products/*\"; POST \"/api/v1/orders\"; denied:");
  // Only the side that reads the requests; the open egress of x/b is no cause.
  EXPECT_EQ(causes(f.before), "ingress of x/a: `allow from pods { pod = b } on tcp/8080` (x/a-in, old.policy:5:5)\n");
  ASSERT_EQ(f.after.size(), 1u);
  EXPECT_EQ(f.after[0].location, "new.policy:5:5");
  EXPECT_TRUE(d.changed());
}

TEST(DiffRequests, HttpConditionRemovedMeansEveryRequestPassesUnread) {
  XyzCluster before(kHttpBase, "old.policy");
  XyzCluster after(aIngress("    allow from pods { pod = b } on tcp/8080\n"), "new.policy");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  ReachDiff d = diff(before, after);
  EXPECT_EQ(flows(d.added), "");
  EXPECT_EQ(flows(d.removed), "");
  EXPECT_EQ(flows(d.requestsChanged), "x/b -> x/a: TCP 8080\n");
  ASSERT_EQ(d.requestsChanged.size(), 1u);
  const FlowChange& f = d.requestsChanged[0];
  EXPECT_EQ(requests(f.requestsBefore), "allowed: GET \"/api/v1/products/*\"; POST \"/api/v1/orders\"; denied:");
  EXPECT_EQ(requests(f.requestsAfter), "not read");
  EXPECT_EQ(causes(f.after), "ingress of x/a: `allow from pods { pod = b } on tcp/8080` (x/a-in, new.policy:5:5)\n");
}

TEST(DiffRequests, AddedHttpDenyRuleIsARequestChangeNamingBothRules) {
  XyzCluster before(aIngress("    allow from pods { pod = b } on tcp/8080\n"), "old.policy");
  XyzCluster after(aIngress("    allow from pods { pod = b } on tcp/8080\n"
                            "    deny from all on tcp/8080 with http { DELETE }\n"),
                   "new.policy");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  ReachDiff d = diff(before, after);
  EXPECT_EQ(flows(d.added), "");
  EXPECT_EQ(flows(d.removed), "");
  // Every workload's connection to x/a on 8080 is now read; only x/b had it allowed before and after.
  EXPECT_EQ(flows(d.requestsChanged), "x/b -> x/a: TCP 8080\n");
  ASSERT_EQ(d.requestsChanged.size(), 1u);
  const FlowChange& f = d.requestsChanged[0];
  EXPECT_EQ(requests(f.requestsBefore), "not read");
  EXPECT_EQ(requests(f.requestsAfter), "allowed: denied: DELETE;");
  EXPECT_EQ(causes(f.after),
            "ingress of x/a: `allow from pods { pod = b } on tcp/8080` (x/a-in, new.policy:5:5)\n"
            "ingress of x/a: `deny from all on tcp/8080 with http { DELETE }` (x/a-in, new.policy:6:5)\n");
}

TEST(DiffRequests, UnchangedRequestsAreNoChangeWhateverElseMoved) {
  XyzCluster before(kHttpBase);
  // Renamed, reformatted, the items in another order; and an unrelated flow added.
  XyzCluster after(R"(namespace x
policy a-ingress { selects { pod = a }
  ingress { allow from pods { pod = b } on tcp/8080 with http {
      POST "/api/v1/orders";
      GET "/api/v1/products/*" }
    allow from pods { pod = c } on tcp/22 } }
)");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  ReachDiff d = diff(before, after, ReachOptions{});  // with host and external ranges too
  EXPECT_EQ(flows(d.requestsChanged), "");
  EXPECT_EQ(flows(d.added), "x/c -> x/a: TCP 22\n");
  ReachDiff same = diff(before, before, ReachOptions{});
  EXPECT_FALSE(same.changed());
  EXPECT_EQ(renderDiffText(same), "no connectivity change\n");
}

// The HTTP groups of reach for a flow and a TCP port: nullopt when the port's requests are not read.
std::optional<HttpRequests> reachRequests(const Reachability& r, const std::string& src, const std::string& dst,
                                          uint16_t port) {
  for (const auto& f : r.flows) {
    if (f.src != src || f.dst != dst) continue;
    for (const auto& h : f.http)
      for (const auto& p : h.ports)
        if (port >= p.first && port <= p.last) return HttpRequests{h.allowed, h.denied};
  }
  return std::nullopt;
}

// Request changes agree with `reach` of both versions: on every workload
// pair and sampled TCP port allowed in both, a change is listed exactly when
// reach's HTTP items differ, with reach's items on each side.
TEST(DiffRequests, AgreesWithReachOfBothVersions) {
  const std::vector<std::string> versions = {
      "",
      aIngress("    allow from pods { pod = b } on tcp/8080\n"),
      kHttpBase,
      aIngress("    allow from pods { pod in (b, c) } on tcp/8080-8081 with http { GET \"/a/**\"; POST \"/o\" }\n"
               "    allow from pods { pod = c } on tcp/8081\n"),
      aIngress("    allow from pods {} on tcp/8080, tcp/9090\n    deny from all on tcp/8080 with http { DELETE }\n"),
      "namespace x\npolicy b-out { selects { pod = b } egress { allow to pods { pod = a } on tcp/8080 with http "
      "{ GET }\n allow to pods {} on tcp/9090 } }\n",
  };
  const std::vector<uint16_t> ports = {80, 8080, 8081, 9090};
  std::vector<std::unique_ptr<XyzCluster>> clusters;
  for (const auto& v : versions) {
    clusters.push_back(std::make_unique<XyzCluster>(v));
    ASSERT_TRUE(clusters.back()->ok()) << v;
  }
  size_t changedSamples = 0;
  for (size_t o = 0; o < clusters.size(); ++o) {
    for (size_t n = 0; n < clusters.size(); ++n) {
      Reachability before = computeReach(clusters[o]->ir(), kWorkloadsOnly);
      Reachability after = computeReach(clusters[n]->ir(), kWorkloadsOnly);
      ReachDiff d = diff(*clusters[o], *clusters[n]);
      if (o == n) {
        EXPECT_FALSE(d.changed()) << o;
      }
      auto allowed = [](const Reachability& r, const std::string& src, const std::string& dst, uint16_t port) {
        for (const auto& f : r.flows)
          if (f.src == src && f.dst == dst) return covers(f.conns, "TCP", port);
        return false;
      };
      for (const auto& src : before.peers) {
        for (const auto& dst : before.peers) {
          if (src.name == dst.name) continue;
          for (uint16_t port : ports) {
            SCOPED_TRACE(std::to_string(o) + " -> " + std::to_string(n) + ": " + src.name + " -> " + dst.name +
                         " TCP " + std::to_string(port));
            const FlowChange* listed = nullptr;
            for (const auto& f : d.requestsChanged)
              if (f.src == src.name && f.dst == dst.name && covers(f.conns, "TCP", port)) listed = &f;
            bool both = allowed(before, src.name, dst.name, port) && allowed(after, src.name, dst.name, port);
            auto was = reachRequests(before, src.name, dst.name, port);
            auto is = reachRequests(after, src.name, dst.name, port);
            bool differs = both && was != is;
            EXPECT_EQ(listed != nullptr, differs);
            if (listed) {
              EXPECT_EQ(requests(listed->requestsBefore), requests(was));
              EXPECT_EQ(requests(listed->requestsAfter), requests(is));
            }
            changedSamples += differs;
          }
        }
      }
    }
  }
  EXPECT_GT(changedSamples, 20u);  // the versions do differ in their requests
}

TEST(DiffFormats, RequestChangesInTextMarkdownAndJson) {
  XyzCluster before(aIngress("    allow from pods { pod = b } on tcp/8080\n"), "old.policy");
  XyzCluster after(kHttpBase, "new.policy");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  ReachDiff d = diff(before, after);

  std::string text = renderDiffText(d);
  EXPECT_NE(text.find("0 flows added, 0 flows removed, 1 flow with HTTP requests changed; policies: 1 rule added, 1 "
                      "removed\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\n~ x/b -> x/a: TCP 8080 HTTP requests changed\n"
                      "    requests now: GET \"/api/v1/products/*\"; POST \"/api/v1/orders\"\n"
                      "    requests were: every request (not read)\n"
                      "    now decided by: ingress of x/a: `allow from pods { pod = b } on tcp/8080 with http"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("    was decided by: ingress of x/a: `allow from pods { pod = b } on tcp/8080` (x/a-in, "
                      "old.policy:5:5)\n"),
            std::string::npos)
      << text;

  std::string md = renderDiffMarkdown(d);
  EXPECT_NE(md.find("**Policy review:** 0 flows added, 0 flows removed, 1 flow with HTTP requests changed."),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("#### HTTP requests changed (1)\n\n| Source | Destination | Connections | Requests now | Requests "
                    "before | Now decided by | Was decided by |\n| --- | --- | --- | --- | --- | --- | --- |\n"
                    "| `x/b` | `x/a` | TCP 8080 | `GET \"/api/v1/products/*\"`<br>`POST \"/api/v1/orders\"` | "
                    "every request (not read) | ingress of `x/a`: "),
            std::string::npos)
      << md;
  EXPECT_EQ(md.find("No connectivity change"), std::string::npos) << md;

  auto j = nlohmann::json::parse(renderDiffJson(d));
  EXPECT_EQ(j["changed"], true);
  EXPECT_TRUE(j["added"].empty());
  EXPECT_TRUE(j["removed"].empty());
  ASSERT_EQ(j["requestsChanged"].size(), 1u);
  const auto& c = j["requestsChanged"][0];
  EXPECT_EQ(c["src"], "x/b");
  EXPECT_EQ(c["dst"], "x/a");
  EXPECT_EQ(c["conns"], nlohmann::json({{"TCP", {"8080"}}}));
  EXPECT_TRUE(c["requestsBefore"].is_null());
  EXPECT_EQ(c["requestsAfter"], nlohmann::json::parse(R"({"requests": ["GET \"/api/v1/products/*\"",
      "POST \"/api/v1/orders\""], "deniedRequests": []})"));
  ASSERT_EQ(c["before"].size(), 1u);
  EXPECT_EQ(c["before"][0]["kind"], "rule");
  EXPECT_EQ(c["before"][0]["location"], "old.policy:5:5");
  ASSERT_EQ(c["after"].size(), 1u);
  EXPECT_EQ(c["after"][0]["side"], "ingress");
  EXPECT_EQ(c["after"][0]["location"], "new.policy:5:5");

  auto none = nlohmann::json::parse(renderDiffJson(diff(after, after)));
  EXPECT_EQ(none["changed"], false);
  EXPECT_TRUE(none["requestsChanged"].empty());
}

// Process rules (docs/process.md): x/b's egress to x/a on tcp/5432, the rule
// on line 5, column 5.
std::string bEgress(const std::string& rules) {
  return "namespace x\npolicy b-out {\n  selects { pod = b }\n  egress {\n" + rules + "  }\n}\n";
}

std::string executables(const std::optional<std::vector<std::string>>& e) {
  if (!e) return "every executable";
  std::string out;
  for (const auto& x : *e) out += (out.empty() ? "" : ", ") + x;
  return out;
}

TEST(DiffProcess, AnExecutableAddedToAProcessRuleIsAnExecutablesChange) {
  XyzCluster before(bEgress("    allow to pods { pod = a } on tcp/5432 with process { exe \"/opt/app/server\" }\n"),
                    "old.policy");
  XyzCluster after(bEgress("    allow to pods { pod = a } on tcp/5432 with process { exe \"/opt/app/server\", exe "
                           "\"/usr/bin/psql\" }\n"),
                   "new.policy");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  ReachDiff d = diff(before, after);
  EXPECT_EQ(flows(d.added), "");
  EXPECT_EQ(flows(d.removed), "");
  EXPECT_TRUE(d.requestsChanged.empty());
  EXPECT_FALSE(d.connectivityChanged());
  EXPECT_TRUE(d.changed()) << "--exit-code fails on it";
  EXPECT_EQ(flows(d.executablesChanged), "x/b -> x/a: TCP 5432\n");
  ASSERT_EQ(d.executablesChanged.size(), 1u);
  const FlowChange& f = d.executablesChanged[0];
  EXPECT_EQ(executables(f.executablesBefore), "/opt/app/server");
  EXPECT_EQ(executables(f.executablesAfter), "/opt/app/server, /usr/bin/psql");
  EXPECT_EQ(f.executablesAdded(), (std::vector<std::string>{"/usr/bin/psql"}));
  EXPECT_TRUE(f.executablesRemoved().empty());
  EXPECT_EQ(causes(f.before),
            "egress of x/b: `allow to pods { pod = a } on tcp/5432 with process { exe "
            "\"/opt/app/server\" }` (x/b-out, old.policy:5:5)\n");
  EXPECT_EQ(causes(f.after),
            "egress of x/b: `allow to pods { pod = a } on tcp/5432 with process { exe "
            "\"/opt/app/server\", exe \"/usr/bin/psql\" }` (x/b-out, new.policy:5:5)\n");

  std::string text = renderDiffText(d);
  EXPECT_NE(text.find("0 flows added, 0 flows removed, 1 flow with executables changed"), std::string::npos) << text;
  EXPECT_NE(text.find("\n~ x/b -> x/a: TCP 5432 executables changed\n"
                      "    executables now: /opt/app/server, /usr/bin/psql\n"
                      "    executables were: /opt/app/server\n"
                      "    executables added: /usr/bin/psql\n"
                      "    now decided by: egress of x/b: "),
            std::string::npos)
      << text;
  std::string md = renderDiffMarkdown(d);
  EXPECT_NE(md.find("#### Executables changed (1)\n\n| Source | Destination | Connections | Executables now | "
                    "Executables before | Now decided by | Was decided by |\n| --- | --- | --- | --- | --- | --- | "
                    "--- |\n| `x/b` | `x/a` | TCP 5432 | `/opt/app/server`<br>`/usr/bin/psql` | `/opt/app/server` | "),
            std::string::npos)
      << md;
  auto j = nlohmann::json::parse(renderDiffJson(d));
  EXPECT_EQ(j["changed"], true);
  ASSERT_EQ(j["executablesChanged"].size(), 1u);
  const auto& c = j["executablesChanged"][0];
  EXPECT_EQ(c["conns"], nlohmann::json({{"TCP", {"5432"}}}));
  EXPECT_EQ(c["executablesBefore"], nlohmann::json({"/opt/app/server"}));
  EXPECT_EQ(c["executablesAfter"], nlohmann::json({"/opt/app/server", "/usr/bin/psql"}));
  EXPECT_EQ(c["executablesAdded"], nlohmann::json({"/usr/bin/psql"}));
  EXPECT_EQ(c["executablesRemoved"], nlohmann::json::array());
  EXPECT_EQ(c["before"][0]["location"], "old.policy:5:5");
  EXPECT_FALSE(c.contains("requestsBefore"));

  ReachDiff back = diff(after, before);
  ASSERT_EQ(back.executablesChanged.size(), 1u);
  EXPECT_EQ(back.executablesChanged[0].executablesRemoved(), (std::vector<std::string>{"/usr/bin/psql"}));
  EXPECT_TRUE(back.executablesChanged[0].executablesAdded().empty());
  EXPECT_NE(renderDiffText(back).find("    executables removed: /usr/bin/psql\n"), std::string::npos);
}

TEST(DiffProcess, AProcessConditionAddedToAPlainRuleRestrictsEveryOtherExecutable) {
  XyzCluster before(bEgress("    allow to pods { pod = a } on tcp/5432\n"), "old.policy");
  XyzCluster after(bEgress("    allow to pods { pod = a } on tcp/5432 with process { exe \"/opt/app/server\" }\n"),
                   "new.policy");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  ReachDiff d = diff(before, after);
  EXPECT_FALSE(d.connectivityChanged());
  ASSERT_EQ(d.executablesChanged.size(), 1u);
  const FlowChange& f = d.executablesChanged[0];
  EXPECT_EQ(executables(f.executablesBefore), "every executable");
  EXPECT_EQ(executables(f.executablesAfter), "/opt/app/server");
  EXPECT_EQ(f.executablesAdded(), (std::vector<std::string>{"/opt/app/server"}));
  EXPECT_EQ(causes(f.before), "egress of x/b: `allow to pods { pod = a } on tcp/5432` (x/b-out, old.policy:5:5)\n");
  EXPECT_NE(renderDiffText(d).find("    executables were: every executable (no process rule)\n"), std::string::npos);
  EXPECT_TRUE(nlohmann::json::parse(renderDiffJson(d))["executablesChanged"][0]["executablesBefore"].is_null());

  ReachDiff reverse = diff(after, before);
  ASSERT_EQ(reverse.executablesChanged.size(), 1u);
  EXPECT_EQ(executables(reverse.executablesChanged[0].executablesAfter), "every executable");
}

TEST(DiffProcess, SameExecutablesInAnotherOrderOrRuleAreNoChange) {
  XyzCluster before(bEgress("    allow to pods { pod = a } on tcp/5432 with process { exe \"/b\", exe \"/a\" }\n"));
  XyzCluster after(
      bEgress("    allow to pods { pod = a } on tcp/5432 with process { exe \"/a\" }\n"
              "    allow to pods { pod = a } on tcp/5432 with process { exe \"/b\" }\n"));
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  ReachDiff d = diff(before, after);
  EXPECT_TRUE(d.executablesChanged.empty()) << flows(d.executablesChanged);
  EXPECT_FALSE(d.changed());
}

TEST(DiffProcess, AProcessesClauseAddedInAnotherPolicyIsAnExecutablesChangeCausedByTheClause) {
  // The clause is in a policy of its own: it restricts x/b-out's rule all
  // the same, and the diff names it beside the rule.
  XyzCluster before(bEgress("    allow to pods { pod = a } on tcp/5432\n"), "old.policy");
  XyzCluster after(bEgress("    allow to pods { pod = a } on tcp/5432\n") +
                       "policy b-exe {\n  selects { pod = b }\n  processes { exe \"/opt/app/server\" }\n}\n",
                   "new.policy");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  ReachDiff d = diff(before, after);
  EXPECT_EQ(flows(d.added), "");
  ASSERT_FALSE(d.executablesChanged.empty());
  const FlowChange* toA = nullptr;
  for (const auto& f : d.executablesChanged)
    if (f.dst == "x/a") toA = &f;
  ASSERT_NE(toA, nullptr) << flows(d.executablesChanged);
  EXPECT_EQ(executables(toA->executablesBefore), "every executable");
  EXPECT_EQ(executables(toA->executablesAfter), "/opt/app/server");
  EXPECT_EQ(causes(toA->after),
            "egress of x/b: `processes { exe \"/opt/app/server\" }` (x/b-exe, new.policy:10:3)\n"
            "egress of x/b: `allow to pods { pod = a } on tcp/5432` (x/b-out, new.policy:5:5)\n");
}

TEST(DiffFormats, JsonContract) {
  XyzCluster before(kBase);
  XyzCluster after(R"(namespace x
policy a-in {
  selects { pod = a }
  ingress {
    allow from pods { pod = c } on tcp/80
  }
}
)");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  auto j = nlohmann::json::parse(renderDiffJson(diff(before, after)));
  EXPECT_EQ(j["changed"], true);
  ASSERT_EQ(j["added"].size(), 1u);
  ASSERT_EQ(j["removed"].size(), 1u);
  EXPECT_EQ(j["added"][0]["src"], "x/c");
  EXPECT_EQ(j["added"][0]["dst"], "x/a");
  EXPECT_EQ(j["added"][0]["conns"], nlohmann::json({{"TCP", {"80"}}}));
  const auto& allow = j["added"][0]["after"][1];
  EXPECT_EQ(allow["side"], "ingress");
  EXPECT_EQ(allow["subject"], "x/a");
  EXPECT_EQ(allow["kind"], "rule");
  EXPECT_EQ(allow["action"], "allow");
  EXPECT_EQ(allow["policy"], "x/a-in");
  EXPECT_EQ(allow["text"], "allow from pods { pod = c } on tcp/80");
  EXPECT_EQ(allow["location"], "t.policy:5:5");
  EXPECT_EQ(j["added"][0]["after"][0]["kind"], "open");
  EXPECT_EQ(j["removed"][0]["src"], "x/b");
  EXPECT_EQ(j["removed"][0]["after"][0]["kind"], "default-deny");
  EXPECT_EQ(j["removed"][0]["after"][0]["policies"], nlohmann::json({"x/a-in"}));
  EXPECT_EQ(j["policies"]["rulesAdded"], 1);
  EXPECT_EQ(j["policies"]["rulesRemoved"], 1);

  auto none = nlohmann::json::parse(renderDiffJson(diff(before, before)));
  EXPECT_EQ(none["changed"], false);
  EXPECT_TRUE(none["added"].empty());
  EXPECT_TRUE(none["removed"].empty());
}

TEST(DiffFormats, MarkdownTablesAndFolding) {
  XyzCluster before(kBase);
  XyzCluster after(R"(namespace x
policy a-in {
  selects { pod = a }
  ingress {
    allow from pods { pod = c } on tcp/80
  }
}
)");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  std::string md = renderDiffMarkdown(diff(before, after));
  EXPECT_NE(md.find("1 flow added, 1 flow removed"), std::string::npos) << md;
  EXPECT_NE(md.find("#### Added flows (1)"), std::string::npos) << md;
  EXPECT_NE(md.find("| `x/c` | `x/a` | TCP 80 |"), std::string::npos) << md;
  EXPECT_NE(md.find("#### Removed flows (1)"), std::string::npos) << md;
  EXPECT_EQ(md.find("<details>"), std::string::npos) << md;

  // Many rows are folded.
  XyzCluster closed(std::string(kBase) + "policy b-out {\n  selects {}\n  egress {}\n}\n");
  ASSERT_TRUE(closed.ok());
  std::string long_md = renderDiffMarkdown(diff(before, closed));
  EXPECT_NE(long_md.find("<details><summary>Removed flows ("), std::string::npos) << long_md;
}

TEST(DiffTiers, APriorityChangeSwapsWhichAdminPolicyDecidesAndIsNamed) {
  auto policies = [](int allowPriority) {
    return "policy allow-b { clusterwide tier admin priority " + std::to_string(allowPriority) +
           " selects { pod = a } in namespace x ingress { allow from pods { pod = b } in namespace x on tcp/80 } }\n"
           "policy deny-b { clusterwide tier admin priority 20 selects { pod = a } in namespace x\n"
           "  ingress { deny from pods { pod = b } on tcp/80 } }\n";
  };
  XyzCluster before(policies(30), "old.policy");
  XyzCluster after(policies(10), "new.policy");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(after.ok());
  ReachDiff d = diff(before, after);
  // Only the order changed: x/b's allow now comes before the deny.
  EXPECT_EQ(flows(d.added), "x/b -> x/a: TCP 80\n");
  EXPECT_EQ(flows(d.removed), "");
  EXPECT_EQ(d.policies.rulesAdded, 0u);
  EXPECT_EQ(d.policies.tiersChanged, std::vector<std::string>{"allow-b: admin priority 30 -> admin priority 10"});
  EXPECT_FALSE(d.policies.empty());
  EXPECT_NE(renderDiff(d, "text").find("moved: allow-b: admin priority 30 -> admin priority 10"), std::string::npos)
      << renderDiff(d, "text");
}

}  // namespace
}  // namespace membrane::analysis
