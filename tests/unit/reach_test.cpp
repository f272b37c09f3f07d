// `membranec reach`: the connectivity computed from the reference evaluator,
// on the x/y/z × a/b/c cluster of evaluator_test.cpp plus small inventories
// for workload grouping, and on the shipped shop example.
#include "analysis/reach.h"

#include <gtest/gtest.h>

#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "pipeline/pipeline.h"
#include "inventory/inventory.h"

namespace membrane::analysis {
namespace {

using nlohmann::json;

const std::vector<std::string> kNs = {"x", "y", "z"};
const std::vector<std::string> kPods = {"a", "b", "c"};

// Namespaces labelled ns=<name>; pods labelled pod=<name>, each its own
// workload; x/a is 198.18.1.1 and 2001:2::1:1.
json standardInventory() {
  json inv = {{"namespaces", json::array()}, {"endpoints", json::array()}};
  for (size_t n = 0; n < kNs.size(); ++n) {
    inv["namespaces"].push_back({{"name", kNs[n]}, {"labels", {{"ns", kNs[n]}}}});
    for (size_t p = 0; p < kPods.size(); ++p) {
      std::string v4 = "198.18." + std::to_string(n + 1) + "." + std::to_string(p + 1);
      std::string v6 = "2001:2::" + std::to_string(n + 1) + ":" + std::to_string(p + 1);
      inv["endpoints"].push_back({{"name", kPods[p]},
                                  {"namespace", kNs[n]},
                                  {"labels", {{"pod", kPods[p]}}},
                                  {"addresses", json::array({v4, v6})}});
    }
  }
  return inv;
}

class Cluster {
 public:
  explicit Cluster(const std::string& policy, const json& inv = standardInventory()) {
    c_ = std::make_unique<pipeline::Compilation>();
    if (!inventory::loadInventoryText("inventory.json", inv.dump(), c_->inventory, &inventoryError_)) return;
    pipeline::runText({{"t.policy", policy}}, *c_);
  }
  testing::AssertionResult ok() const {
    if (!inventoryError_.empty()) return testing::AssertionFailure() << "inventory: " << inventoryError_;
    if (c_->diags.hasErrors() || !c_->ir) {
      std::ostringstream out;
      c_->diags.print(out, false);
      return testing::AssertionFailure() << "policy did not compile:\n" << out.str();
    }
    return testing::AssertionSuccess();
  }
  const ir::Program& ir() const { return *c_->ir; }

 private:
  std::unique_ptr<pipeline::Compilation> c_;
  std::string inventoryError_;
};

const ReachOptions kWorkloadsOnly{false, false};

// "src -> dst: conns" per flow, one a line, for whole-result comparisons.
std::string flows(const Reachability& r) {
  std::string out;
  for (const auto& f : r.flows) out += f.src + " -> " + f.dst + ": " + f.conns.str() + "\n";
  return out;
}

// The conns of one flow, or "-" when it is left out.
std::string conns(const Reachability& r, const std::string& src, const std::string& dst) {
  for (const auto& f : r.flows)
    if (f.src == src && f.dst == dst) return f.conns.str();
  return "-";
}

std::vector<std::string> peerNames(const Reachability& r, ReachPeer::Kind kind) {
  std::vector<std::string> out;
  for (const auto& p : r.peers)
    if (p.kind == kind) out.push_back(p.name);
  return out;
}

// An expected 9x9 grid of the x/y/z cluster: rows sources, columns
// destinations, '.' for `cell` and 'X' for left out; the diagonal is '-'.
testing::AssertionResult grid(const Reachability& r, const std::string& cell, const std::string& expected) {
  std::vector<std::string> keys;
  for (const auto& n : kNs)
    for (const auto& p : kPods) keys.push_back(n + "/" + p);
  std::istringstream in(expected);
  std::string got, want, row;
  for (const auto& src : keys) {
    std::string line;
    do {
      if (!std::getline(in, line)) return testing::AssertionFailure() << "grid too short";
    } while (line.find_first_not_of(" ") == std::string::npos);
    std::string cells;
    for (char ch : line.substr(line.find('/') + 2))
      if (ch != ' ') cells += ch;
    want += src + " " + cells + "\n";
    got += src + " ";
    for (const auto& dst : keys) {
      std::string c = conns(r, src, dst);
      got += src == dst ? (c == "-" ? '-' : '!') : c == cell ? '.' : c == "-" ? 'X' : '?';
    }
    got += "\n";
  }
  if (got == want) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "got (? other conns, ! self-pair listed):\n"
                                     << got << "want:\n"
                                     << want << "flows:\n"
                                     << flows(r);
}

// ---- truth tables ---------------------------------------------------------------------

TEST(ReachTruthTable, NoPolicyAllowsEverythingButListsNoSelfPairs) {
  Cluster c("");
  ASSERT_TRUE(c.ok());
  Reachability r = computeReach(c.ir(), kWorkloadsOnly);
  EXPECT_EQ(r.flows.size(), 72u);
  EXPECT_TRUE(grid(r, "all", R"(
    x/a - . . . . . . . .
    x/b . - . . . . . . .
    x/c . . - . . . . . .
    y/a . . . - . . . . .
    y/b . . . . - . . . .
    y/c . . . . . - . . .
    z/a . . . . . . - . .
    z/b . . . . . . . - .
    z/c . . . . . . . . -
  )"));
}

TEST(ReachTruthTable, DefaultDenyIngress) {
  Cluster c("namespace x\npolicy deny { selects {} ingress {} }");
  ASSERT_TRUE(c.ok());
  Reachability r = computeReach(c.ir());
  EXPECT_TRUE(grid(r, "all", R"(
    x/a - X X . . . . . .
    x/b X - X . . . . . .
    x/c X X - . . . . . .
    y/a X X X - . . . . .
    y/b X X X . - . . . .
    y/c X X X . . - . . .
    z/a X X X . . . - . .
    z/b X X X . . . . - .
    z/c X X X . . . . . -
  )"));
  // Nor from the host or outside; x's egress is untouched.
  EXPECT_EQ(conns(r, "host", "x/a"), "-");
  EXPECT_EQ(conns(r, "0.0.0.0-255.255.255.255", "x/a"), "-");
  EXPECT_EQ(conns(r, "x/a", "host"), "all");
  EXPECT_EQ(conns(r, "x/a", "0.0.0.0-255.255.255.255"), "all");
  EXPECT_EQ(conns(r, "host", "y/a"), "all");
  // Neither side a workload: not listed.
  EXPECT_EQ(conns(r, "host", "0.0.0.0-255.255.255.255"), "-");
}

TEST(ReachTruthTable, DefaultDenyEgressKeepsDnsOnly) {
  Cluster c(R"(
    namespace x
    policy deny { selects {} egress { allow to pods { pod = c } in namespace z on udp/53, tcp/53 } }
  )");
  ASSERT_TRUE(c.ok());
  Reachability r = computeReach(c.ir(), kWorkloadsOnly);
  EXPECT_TRUE(grid(r, "TCP 53; UDP 53", R"(
    x/a - X X X X X X X .
    x/b X - X X X X X X .
    x/c X X - X X X X X .
    y/a ? ? ? - ? ? ? ? ?
    y/b ? ? ? ? - ? ? ? ?
    y/c ? ? ? ? ? - ? ? ?
    z/a ? ? ? ? ? ? - ? ?
    z/b ? ? ? ? ? ? ? - ?
    z/c ? ? ? ? ? ? ? ? -
  )"));
  EXPECT_EQ(conns(r, "y/a", "x/a"), "all");
}

TEST(ReachTruthTable, NamespaceSelector) {
  Cluster c(R"(
    namespace x
    policy a { selects { pod = a } ingress { allow from namespaces { ns in (y, z) }, pods { pod = b } on tcp/80 } }
  )");
  ASSERT_TRUE(c.ok());
  Reachability r = computeReach(c.ir(), kWorkloadsOnly);
  EXPECT_TRUE(grid(r, "TCP 80", R"(
    x/a - ? ? ? ? ? ? ? ?
    x/b . - ? ? ? ? ? ? ?
    x/c X ? - ? ? ? ? ? ?
    y/a . ? ? - ? ? ? ? ?
    y/b . ? ? ? - ? ? ? ?
    y/c . ? ? ? ? - ? ? ?
    z/a . ? ? ? ? ? - ? ?
    z/b . ? ? ? ? ? ? - ?
    z/c . ? ? ? ? ? ? ? -
  )"));
}

// ---- protocols and ports ----------------------------------------------------------------

TEST(ReachPorts, AdjacentAndOverlappingRangesMerge) {
  Cluster c(R"(
    namespace x
    policy a { selects { pod = a } ingress {
      allow from all on tcp/80, tcp/81, tcp/8000-8080, udp/53
      allow from namespace y on tcp/82-90, tcp/8050-8100
    } }
  )");
  ASSERT_TRUE(c.ok());
  Reachability r = computeReach(c.ir(), kWorkloadsOnly);
  EXPECT_EQ(conns(r, "z/a", "x/a"), "TCP 80-81,8000-8080; UDP 53");
  EXPECT_EQ(conns(r, "y/a", "x/a"), "TCP 80-90,8000-8100; UDP 53");
}

TEST(ReachHttp, AnHttpRestrictedFlowListsTheRequestItemsPerPort) {
  Cluster c(R"(
    namespace x
    policy a { selects { pod = a } ingress {
      allow from pods { pod = b } on tcp/8080 with http { GET "/api/*"; POST "/orders" }
      allow from pods { pod = c } on tcp/8080, tcp/9090
      deny from all on tcp/8080 with http { DELETE }
    } }
  )");
  ASSERT_TRUE(c.ok());
  Reachability r = computeReach(c.ir(), kWorkloadsOnly);
  const Flow* fromB = nullptr;
  const Flow* fromC = nullptr;
  for (const auto& f : r.flows) {
    if (f.src == "x/b" && f.dst == "x/a") fromB = &f;
    if (f.src == "x/c" && f.dst == "x/a") fromC = &f;
  }
  ASSERT_NE(fromB, nullptr);
  EXPECT_EQ(fromB->conns.str(), "TCP 8080");
  ASSERT_EQ(fromB->http.size(), 1u);
  EXPECT_EQ(fromB->http[0].ports, (std::vector<ir::PortRange>{{8080, 8080}}));
  EXPECT_EQ(fromB->http[0].allowed, (std::vector<std::string>{"GET \"/api/*\"", "POST \"/orders\""}));
  EXPECT_EQ(fromB->http[0].denied, (std::vector<std::string>{"DELETE"}));
  ASSERT_NE(fromC, nullptr);
  ASSERT_EQ(fromC->http.size(), 1u) << "a plain allow with an http deny: read, every request but the denied";
  EXPECT_TRUE(fromC->http[0].allowed.empty());
  EXPECT_EQ(fromC->http[0].denied, (std::vector<std::string>{"DELETE"}));

  auto json = nlohmann::json::parse(render(r, "json"));
  bool found = false;
  for (const auto& f : json["flows"])
    if (f["src"] == "x/b" && f["dst"] == "x/a") {
      found = true;
      EXPECT_EQ(f["http"], nlohmann::json::parse(R"([{"ports": ["8080"], "requests": ["GET \"/api/*\"", "POST \"/orders\""],
                                                   "deniedRequests": ["DELETE"]}])"));
    }
  EXPECT_TRUE(found);
  EXPECT_NE(render(r, "text").find("TCP 8080 HTTP: GET \"/api/*\"; POST \"/orders\"; denied DELETE"),
            std::string::npos)
      << render(r, "text");
  for (const auto& f : json["flows"]) {
    if (f["src"] != "x/b" && f["src"] != "x/c") {
      EXPECT_FALSE(f.contains("http")) << f.dump();
    }
  }
}

TEST(ReachProcess, AFlowOnlyProcessRulesAllowListsItsExecutablesNotAPlainAllow) {
  Cluster c(R"(
    namespace x
    policy b { selects { pod = b } egress {
      allow to pods { pod = a } on tcp/5432 with process { exe "/opt/app/server" }
      allow to pods { pod = a } on udp/5353 with process { exe "/opt/app/server", exe "/usr/bin/python3" }
      allow to pods { pod = a } on tcp/80
      allow to pods { pod = c } on tcp/80 with process { exe "/opt/app/server" }
      allow to pods { pod = c } on tcp/80
    } }
  )");
  ASSERT_TRUE(c.ok());
  Reachability r = computeReach(c.ir(), kWorkloadsOnly);
  const Flow* toA = nullptr;
  const Flow* toC = nullptr;
  for (const auto& f : r.flows) {
    if (f.src == "x/b" && f.dst == "x/a") toA = &f;
    if (f.src == "x/b" && f.dst == "x/c") toC = &f;
  }
  ASSERT_NE(toA, nullptr);
  EXPECT_EQ(toA->conns.str(), "TCP 80,5432; UDP 5353") << "the connections stay listed";
  ASSERT_EQ(toA->process.size(), 2u) << "one group per set of executables";
  EXPECT_EQ(toA->process[0].conns.str(), "TCP 5432");
  EXPECT_EQ(toA->process[0].executables, (std::vector<std::string>{"/opt/app/server"}));
  EXPECT_EQ(toA->process[1].conns.str(), "UDP 5353");
  EXPECT_EQ(toA->process[1].executables, (std::vector<std::string>{"/opt/app/server", "/usr/bin/python3"}));
  ASSERT_NE(toC, nullptr);
  EXPECT_TRUE(toC->process.empty()) << "a plain allow of the same port lets every executable";

  std::string text = render(r, "text");
  EXPECT_NE(text.find("TCP 5432 process: /opt/app/server\n"), std::string::npos) << text;
  EXPECT_NE(text.find("UDP 5353 process: /opt/app/server, /usr/bin/python3\n"), std::string::npos) << text;
  auto json = nlohmann::json::parse(render(r, "json"));
  bool found = false;
  for (const auto& f : json["flows"]) {
    if (f["src"] == "x/b" && f["dst"] == "x/a") {
      found = true;
      EXPECT_EQ(f["process"],
                nlohmann::json::parse(R"([{"conns": {"TCP": ["5432"]}, "executables": ["/opt/app/server"]},
                                                       {"conns": {"UDP": ["5353"]},
                                                        "executables": ["/opt/app/server", "/usr/bin/python3"]}])"));
    } else {
      EXPECT_FALSE(f.contains("process")) << f.dump();
    }
  }
  EXPECT_TRUE(found);
  EXPECT_NE(render(r, "md").find("TCP 5432 only for calls by `/opt/app/server`"), std::string::npos) << render(r, "md");
  EXPECT_NE(render(r, "dot").find("TCP 5432 process: /opt/app/server"), std::string::npos) << render(r, "dot");
}

TEST(ReachProcess, AnIngressDenyStillRemovesAProcessFlow) {
  Cluster c(R"(
    namespace x
    policy b { selects { pod = b } egress {
      allow to pods { pod = a } on tcp/5432 with process { exe "/opt/app/server" }
    } }
    policy a { selects { pod = a } ingress { allow from pods { pod = c } on tcp/5432 } }
  )");
  ASSERT_TRUE(c.ok());
  Reachability r = computeReach(c.ir(), kWorkloadsOnly);
  EXPECT_EQ(conns(r, "x/b", "x/a"), "-");
}

TEST(ReachNames, ANamePeerIsADestinationStandingForAddressesLearnedUnderIt) {
  Cluster c(R"(
    namespace x
    policy a { selects { pod = a } egress {
      allow to pods { pod = b } on udp/53 with dns { "*.example.com" }
      allow to dns "*.example.com" on tcp/443
      allow to dns "api.example.com" on tcp/8443
    } }
  )");
  ASSERT_TRUE(c.ok());
  ReachOptions options;
  options.host = false;
  options.external = false;
  Reachability r = computeReach(c.ir(), options);
  EXPECT_EQ(conns(r, "x/a", "dns *.example.com"), "TCP 443") << "x.example.com stands for the pattern";
  EXPECT_EQ(conns(r, "x/a", "dns api.example.com"), "TCP 443,8443") << "the pattern matches api.example.com too";
  EXPECT_EQ(conns(r, "x/a", "x/b"), "UDP 53");
  for (const auto& f : r.flows) EXPECT_NE(f.src.rfind("dns ", 0), 0u) << "a name is never a source: " << f.src;
}

TEST(ReachPorts, DenyCarvesHoles) {
  Cluster c(R"(
    namespace x
    policy a { selects { pod = a } ingress {
      allow from all on tcp, udp/1-65535
      deny from all on tcp/443, tcp/1-22, udp/65535
    } }
  )");
  ASSERT_TRUE(c.ok());
  Reachability r = computeReach(c.ir(), kWorkloadsOnly);
  EXPECT_EQ(conns(r, "y/b", "x/a"), "TCP 23-442,444-65535; UDP 1-65534");
}

TEST(ReachPorts, AllOnlyWhenEveryProtocolAndPort) {
  Cluster everything(R"(
    namespace x
    policy a { selects { pod = a } ingress { allow from all } }
    policy b { selects { pod = b } ingress { allow from all on any } }
    policy c { selects { pod = c } ingress { allow from all on tcp, udp, sctp, icmp, icmpv6 } }
  )");
  ASSERT_TRUE(everything.ok());
  Reachability r = computeReach(everything.ir(), kWorkloadsOnly);
  EXPECT_EQ(conns(r, "y/a", "x/a"), "all");
  EXPECT_EQ(conns(r, "y/a", "x/b"), "all");
  // Every named protocol, but not GRE and the other protocols no rule names.
  EXPECT_EQ(conns(r, "y/a", "x/c"), "TCP 1-65535; UDP 1-65535; SCTP 1-65535; ICMP 0-255; ICMPv6 0-255");

  Cluster others(R"(
    namespace x
    policy a { selects { pod = a } ingress { allow from all  deny from all on tcp/80, icmp/echo-request } }
  )");
  ASSERT_TRUE(others.ok());
  r = computeReach(others.ir(), kWorkloadsOnly);
  EXPECT_EQ(conns(r, "y/a", "x/a"),
            "TCP 1-79,81-65535; UDP 1-65535; SCTP 1-65535; ICMP 0-7,9-255; ICMPv6 0-255; other");
}

// ---- external peers --------------------------------------------------------------------

TEST(ReachExternal, RangesFromCidrWithExcept) {
  Cluster c(R"(
    namespace x
    policy a { selects { pod = a } egress { allow to cidr 10.0.0.0/8 except 10.1.0.0/16, cidr 2001:db8::/32 on tcp/443 } }
  )");
  ASSERT_TRUE(c.ok());
  Reachability r = computeReach(c.ir());
  EXPECT_EQ(peerNames(r, ReachPeer::Kind::External),
            (std::vector<std::string>{"0.0.0.0-9.255.255.255", "10.0.0.0-10.0.255.255", "10.1.0.0-10.1.255.255",
                                      "10.2.0.0-10.255.255.255", "11.0.0.0-255.255.255.255",
                                      "::-2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
                                      "2001:db9::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}));
  EXPECT_EQ(peerNames(r, ReachPeer::Kind::Host), std::vector<std::string>{"host"});
  EXPECT_EQ(conns(r, "x/a", "0.0.0.0-9.255.255.255"), "-");
  EXPECT_EQ(conns(r, "x/a", "10.0.0.0-10.0.255.255"), "TCP 443");
  EXPECT_EQ(conns(r, "x/a", "10.1.0.0-10.1.255.255"), "-");
  EXPECT_EQ(conns(r, "x/a", "10.2.0.0-10.255.255.255"), "TCP 443");
  EXPECT_EQ(conns(r, "x/a", "11.0.0.0-255.255.255.255"), "-");
  EXPECT_EQ(conns(r, "x/a", "2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"), "TCP 443");
  EXPECT_EQ(conns(r, "x/a", "host"), "-");
  // Inbound is not restricted; other workloads reach out freely.
  EXPECT_EQ(conns(r, "10.1.0.0-10.1.255.255", "x/a"), "all");
  EXPECT_EQ(conns(r, "x/b", "10.1.0.0-10.1.255.255"), "all");
  // Peers: workloads by name, host, then ranges.
  ASSERT_EQ(r.peers.size(), 9u + 1u + 8u);
  EXPECT_EQ(r.peers.front().name, "x/a");
  EXPECT_EQ(r.peers[9].name, "host");
}

TEST(ReachExternal, EndpointAddressesAreTheEndpointsNotTheRange) {
  // 198.18.2.1 is y/a: its one-address range has no external peer, and
  // y/a is reached as itself (as an endpoint inside the CIDR).
  Cluster c(R"(
    namespace x
    policy a { selects { pod = a } egress { allow to cidr 198.18.2.1/32 on tcp/80 } }
  )");
  ASSERT_TRUE(c.ok());
  Reachability r = computeReach(c.ir());
  EXPECT_EQ(peerNames(r, ReachPeer::Kind::External),
            (std::vector<std::string>{"0.0.0.0-198.18.2.0", "198.18.2.2-255.255.255.255",
                                      "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}));
  // The v4 address matches, the v6 one does not: what holds over both
  // families is nothing.
  EXPECT_EQ(conns(r, "x/a", "y/a"), "-");
  EXPECT_EQ(conns(r, "x/a", "0.0.0.0-198.18.2.0"), "-");
  // The representative of a range is an address no endpoint has.
  for (const auto& p : r.peers)
    if (p.kind == ReachPeer::Kind::External) {
      EXPECT_NE(p.representative.str(), "198.18.2.1");
    }
}

TEST(ReachExternal, PeerEntities) {
  Cluster c(R"(
    namespace x
    policy a { selects { pod = a } ingress { allow from world on tcp/443  allow from host on tcp/8081 } }
  )");
  ASSERT_TRUE(c.ok());
  Reachability r = computeReach(c.ir());
  EXPECT_EQ(conns(r, "host", "x/a"), "TCP 8081");
  EXPECT_EQ(conns(r, "0.0.0.0-255.255.255.255", "x/a"), "TCP 443");
  EXPECT_EQ(conns(r, "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "x/a"), "TCP 443");
  EXPECT_EQ(conns(r, "y/a", "x/a"), "-");
}

// ---- workloads -----------------------------------------------------------------------

json webInventory() {
  json inv = {{"namespaces", json::array({json{{"name", "w"}}})}, {"endpoints", json::array()}};
  auto pod = [&](const std::string& name, const std::string& workload, json labels, const std::string& ip) {
    json e = {{"name", name}, {"namespace", "w"}, {"labels", labels}, {"addresses", json::array({ip})}};
    if (!workload.empty()) e["workload"] = workload;
    inv["endpoints"].push_back(e);
  };
  pod("web-7d4b9-abcde", "web", {{"app", "web"}, {"track", "stable"}}, "198.18.5.1");
  pod("web-7d4b9-fghij", "web", {{"app", "web"}}, "198.18.5.2");
  pod("db-0", "db", {{"app", "db"}}, "198.18.5.3");
  pod("debug", "", {{"app", "debug"}}, "198.18.5.4");
  return inv;
}

TEST(ReachWorkloads, PodsAreGroupedByWorkload) {
  Cluster c("namespace w\npolicy db { selects { app = db } ingress { allow from pods { app = web } on tcp/5432 } }",
            webInventory());
  ASSERT_TRUE(c.ok());
  Reachability r = computeReach(c.ir(), kWorkloadsOnly);
  EXPECT_EQ(peerNames(r, ReachPeer::Kind::Workload), (std::vector<std::string>{"w/db", "w/debug", "w/web"}));
  EXPECT_EQ(r.peers[2].endpoints, (std::vector<std::string>{"w/web-7d4b9-abcde", "w/web-7d4b9-fghij"}));
  EXPECT_EQ(flows(r),
            "w/db -> w/debug: all\n"
            "w/db -> w/web: all\n"
            "w/debug -> w/web: all\n"
            "w/web -> w/db: TCP 5432\n"
            "w/web -> w/debug: all\n");  // no w/web -> w/web, though its pods may talk
}

TEST(ReachWorkloads, WorkloadPairIsTheIntersectionOverItsPods) {
  // Only the stable pod may connect: not every pod of w/web may, so w/web
  // -> w/db is left out; the other port, allowed to both, is listed.
  Cluster c(R"(
    namespace w
    policy db { selects { app = db } ingress {
      allow from pods { app = web, track = stable } on tcp/5432
      allow from pods { app = web } on tcp/9187
    } }
  )",
            webInventory());
  ASSERT_TRUE(c.ok());
  Reachability r = computeReach(c.ir(), kWorkloadsOnly);
  EXPECT_EQ(conns(r, "w/web", "w/db"), "TCP 9187");
}

TEST(ReachWorkloads, KubectlOwnerReferencesAndDefaultNamespace) {
  json pods = {{"kind", "PodList"}, {"items", json::array()}};
  auto pod = [&](const std::string& name, json owner, const std::string& ip, const std::string& app) {
    json meta = {{"name", name}, {"labels", {{"app", app}, {"pod-template-hash", "5f6d"}}}};
    if (!owner.is_null()) meta["ownerReferences"] = json::array({owner});
    pods["items"].push_back({{"kind", "Pod"}, {"metadata", meta}, {"status", {{"podIP", ip}}}});
  };
  json rs = {{"kind", "ReplicaSet"}, {"name", "api-5f6d"}, {"controller", true}};
  pod("api-5f6d-aaaaa", rs, "198.18.7.1", "api");
  pod("api-5f6d-bbbbb", rs, "198.18.7.2", "api");
  pod("lonely", nullptr, "198.18.7.3", "other");
  Cluster c("policy api { selects { app = api } ingress {} }", pods);
  ASSERT_TRUE(c.ok());
  Reachability r = computeReach(c.ir(), kWorkloadsOnly);
  EXPECT_EQ(peerNames(r, ReachPeer::Kind::Workload), (std::vector<std::string>{"default/api", "default/lonely"}));
  EXPECT_EQ(flows(r), "default/api -> default/lonely: all\n");
}

// ---- output formats ----------------------------------------------------------------------

TEST(ReachFormats, JsonContract) {
  Cluster c(R"(
    namespace x
    policy a { selects { pod = a } ingress { allow from pods { pod = b } on tcp/80, tcp/8000-8080, udp/53 } egress {} }
    policy b { selects { pod = b } egress { allow to pods { pod = a } } }
  )");
  ASSERT_TRUE(c.ok());
  Reachability r = computeReach(c.ir(), kWorkloadsOnly);
  json j = json::parse(renderJson(r));
  ASSERT_TRUE(j.is_object());
  ASSERT_EQ(j.size(), 1u);
  ASSERT_TRUE(j["flows"].is_array());
  // Sorted by (src, dst): x/a has no egress, x/b only to x/a, x/a accepts
  // only x/b, the rest is open.
  const json& f = j["flows"];
  ASSERT_EQ(f.size(), 7u * 7u + 1u);
  EXPECT_EQ(f[0]["src"], "x/b");
  EXPECT_EQ(f[0]["dst"], "x/a");
  ASSERT_EQ(f[0].size(), 3u);
  ASSERT_TRUE(f[0]["conns"].is_object());
  EXPECT_EQ(f[0]["conns"], json::parse(R"({"TCP": ["80", "8000-8080"], "UDP": ["53"]})"));
  EXPECT_EQ(f[0]["conns"].begin().key(), "TCP");
  EXPECT_EQ(f[1]["src"], "x/c");
  EXPECT_EQ(f[1]["dst"], "x/b");
  EXPECT_EQ(f[1]["conns"], "all");
  EXPECT_EQ(renderJson(Reachability{}), "{\n  \"flows\": []\n}\n");
  // Keys in contract order.
  std::string text = renderJson(r);
  EXPECT_EQ(text.substr(0, text.find("\"conns\"")),
            "{\n  \"flows\": [\n    {\n      \"src\": \"x/b\",\n      \"dst\": \"x/a\",\n      ");
}

TEST(ReachFormats, TextCsvMarkdownDot) {
  Cluster c(R"(
    namespace x
    policy in-x { selects {} ingress { allow from pods { pod = a } on tcp/80, udp/53 } }
  )");
  ASSERT_TRUE(c.ok());
  Reachability r = computeReach(c.ir(), kWorkloadsOnly);
  ASSERT_EQ(conns(r, "x/a", "x/b"), "TCP 80; UDP 53");
  // Three of its flows, plus one that allows everything.
  Reachability small;
  small.peers = {r.peers[0], r.peers[1], r.peers[2]};
  for (const auto& f : r.flows)
    if (f.src == "x/a" && f.dst.starts_with("x/")) small.flows.push_back(f);
  small.flows.push_back({"x/b", "x/c", Conns{true, {}}, {}, {}});
  EXPECT_EQ(renderText(small),
            "SOURCE  DESTINATION  CONNECTIONS\n"
            "x/a     x/b          TCP 80; UDP 53\n"
            "x/a     x/c          TCP 80; UDP 53\n"
            "x/b     x/c          all\n");
  EXPECT_EQ(renderCsv(small),
            "src,dst,protocol,ports\n"
            "x/a,x/b,TCP,80\n"
            "x/a,x/b,UDP,53\n"
            "x/a,x/c,TCP,80\n"
            "x/a,x/c,UDP,53\n"
            "x/b,x/c,all,all\n");
  EXPECT_EQ(renderMarkdown(small),
            "| Source | Destination | Allowed |\n"
            "| --- | --- | --- |\n"
            "| `x/a` | `x/b` | TCP 80<br>UDP 53 |\n"
            "| `x/a` | `x/c` | TCP 80<br>UDP 53 |\n"
            "| `x/b` | `x/c` | all |\n");
  EXPECT_EQ(renderDot(small),
            "digraph reach {\n"
            "  rankdir=LR;\n"
            "  node [shape=box];\n"
            "  \"x/a\";\n"
            "  \"x/b\";\n"
            "  \"x/c\";\n"
            "  \"x/a\" -> \"x/b\" [label=\"TCP 80\\nUDP 53\"];\n"
            "  \"x/a\" -> \"x/c\" [label=\"TCP 80\\nUDP 53\"];\n"
            "  \"x/b\" -> \"x/c\" [label=\"all\"];\n"
            "}\n");
  EXPECT_EQ(render(small, "md"), renderMarkdown(small));
  EXPECT_EQ(render(small, "yaml"), "");
  EXPECT_EQ(renderText(Reachability{}), "no connections are allowed\n");
}

// ---- the shipped example -------------------------------------------------------------------

TEST(ReachShop, ShippedPolicies) {
  pipeline::Compilation c;
  pipeline::run({{MEMBRANE_SOURCE_DIR "/policies/shop"}, {MEMBRANE_SOURCE_DIR "/policies/shop/inventory.json"}}, c);
  ASSERT_EQ(c.outcome(), pipeline::Outcome::Ok);
  Reachability r = computeReach(*c.ir);
  EXPECT_EQ(conns(r, "shop/frontend", "shop/api"), "TCP 8080");
  EXPECT_EQ(conns(r, "shop/api", "shop/postgres"), "TCP 5432");
  EXPECT_EQ(conns(r, "shop/order-worker", "shop/nats"), "TCP 4222");
  EXPECT_EQ(conns(r, "shop/api", "kube-system/coredns"), "TCP 53; UDP 53");
  EXPECT_EQ(conns(r, "host", "shop/frontend"), "TCP 8081");
  EXPECT_EQ(conns(r, "shop/api", "198.19.200.0-198.19.200.255"), "TCP 443");
  EXPECT_EQ(conns(r, "198.19.66.0-198.19.66.255", "shop/frontend"), "-");
  EXPECT_EQ(conns(r, "198.19.67.0-198.19.199.255", "shop/frontend"), "TCP 80,443");
  EXPECT_EQ(conns(r, "shop/frontend", "shop/postgres"), "-");
  EXPECT_EQ(conns(r, "shop/nats", "shop/nats"), "-");
}

}  // namespace
}  // namespace membrane::analysis
