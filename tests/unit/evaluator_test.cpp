// The reference evaluator, held to truth tables in the style of the
// Kubernetes network-policy e2e tests (test/e2e/network/netpol): namespaces
// x, y and z with pods a, b and c each, probed on ports 80 and 81 over TCP,
// UDP and SCTP, over IPv4 and over IPv6.
//
// Every case compiles policy text through the whole pipeline (parse, check,
// lower) and compares the full 9x9 matrix that ir::evaluateFlow gives with an
// expected grid: rows are sources, columns destinations, '.' allowed and 'X'
// blocked. On a mismatch the actual grid is printed with the wrong cells in
// [brackets], followed by the verdicts behind each wrong cell.
#include "evaluator/evaluator.h"

#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string_view>

#include <nlohmann/json.hpp>

#include "pipeline/pipeline.h"
#include "inventory/inventory.h"

namespace membrane::ir {
namespace {

using nlohmann::json;

// ---- the cluster -----------------------------------------------------------------

const std::vector<std::string> kNamespaces = {"x", "y", "z"};
const std::vector<std::string> kPodNames = {"a", "b", "c"};

// "x/a", "x/b", ... "z/c": rows and columns of every grid.
const std::vector<std::string>& podKeys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> out;
    for (const auto& ns : kNamespaces)
      for (const auto& pod : kPodNames) out.push_back(ns + "/" + pod);
    return out;
  }();
  return keys;
}

// x/a is 198.18.1.1 and 2001:2::1:1, y/c is 198.18.2.3 and 2001:2::2:3.
std::string podV4(size_t ns, size_t pod) {
  return "198.18." + std::to_string(ns + 1) + "." + std::to_string(pod + 1);
}
std::string podV6(size_t ns, size_t pod) { return "2001:2::" + std::to_string(ns + 1) + ":" + std::to_string(pod + 1); }

constexpr const char* kHostV4 = "198.18.255.254";
constexpr const char* kHostV6 = "2001:2::ffff:fffe";
// Outside the cluster: no endpoint and not the node.
constexpr const char* kOutsideV4 = "198.19.1.1";
constexpr const char* kOutsideV6 = "2001:2:0:ff::1";

// Namespaces labelled ns=<name>, pods labelled pod=<name>, each pod with the
// upstream tests' named ports: serve-80-tcp, serve-81-tcp, serve-80-udp, ...
json standardInventory() {
  json inv = {{"namespaces", json::array()}, {"endpoints", json::array()}};
  for (size_t n = 0; n < kNamespaces.size(); ++n) {
    inv["namespaces"].push_back({{"name", kNamespaces[n]}, {"labels", {{"ns", kNamespaces[n]}}}});
    for (size_t p = 0; p < kPodNames.size(); ++p) {
      json ports = json::array();
      for (const char* proto : {"tcp", "udp", "sctp"}) {
        for (int port : {80, 81}) {
          ports.push_back({{"name", "serve-" + std::to_string(port) + "-" + proto},
                           {"port", port},
                           {"protocol", proto}});
        }
      }
      inv["endpoints"].push_back({{"name", kPodNames[p]},
                                  {"namespace", kNamespaces[n]},
                                  {"labels", {{"pod", kPodNames[p]}}},
                                  {"addresses", json::array({podV4(n, p), podV6(n, p)})},
                                  {"ports", ports}});
    }
  }
  return inv;
}

json& endpointIn(json& inv, const std::string& ns, const std::string& name) {
  for (auto& e : inv["endpoints"])
    if (e["namespace"] == ns && e["name"] == name) return e;
  throw std::runtime_error("no endpoint " + ns + "/" + name);
}

// The standard cluster plus the cluster DNS: kube-system/coredns, listening
// on udp/53 and tcp/53.
json inventoryWithDns() {
  json inv = standardInventory();
  inv["namespaces"].push_back({{"name", "kube-system"}});
  inv["endpoints"].push_back({{"name", "coredns"},
                              {"namespace", "kube-system"},
                              {"labels", {{"k8s-app", "kube-dns"}}},
                              {"addresses", json::array({"198.18.9.53", "2001:2::9:53"})},
                              {"ports", json::array({json{{"name", "dns"}, {"port", 53}, {"protocol", "UDP"}},
                                                     json{{"name", "dns-tcp"}, {"port", 53}, {"protocol", "TCP"}}})}});
  return inv;
}

// Policy files compiled against an inventory, all the way to the IR.
class Cluster {
 public:
  explicit Cluster(const std::string& policy, const json& inv = standardInventory())
      : Cluster(std::vector<std::pair<std::string, std::string>>{{"t.policy", policy}}, inv) {}
  Cluster(const std::vector<std::pair<std::string, std::string>>& files, const json& inv) {
    c_ = std::make_unique<pipeline::Compilation>();
    if (!inventory::loadInventoryText("inventory.json", inv.dump(), c_->inventory, &inventoryError_)) return;
    pipeline::runText(files, *c_);
  }

  // Use as ASSERT_TRUE(cluster.ok()).
  testing::AssertionResult ok() const {
    if (!inventoryError_.empty()) return testing::AssertionFailure() << "inventory: " << inventoryError_;
    if (c_->diags.hasErrors() || !c_->ir) {
      std::ostringstream out;
      c_->diags.print(out, false);
      return testing::AssertionFailure() << "policy did not compile:\n" << out.str();
    }
    return testing::AssertionSuccess();
  }

  const Program& ir() const { return *c_->ir; }
  const pipeline::Compilation& compilation() const { return *c_; }

  // The id of the rule written as `text` (whitespace folded).
  uint32_t rule(std::string_view text) const {
    for (const auto& [id, info] : ir().rules)
      if (info.text == text) return id;
    std::string known;
    for (const auto& [id, info] : ir().rules) known += "\n  " + std::to_string(id) + ": " + info.text;
    ADD_FAILURE() << "no rule `" << text << "`; rules are:" << known;
    return 0;
  }

 private:
  std::unique_ptr<pipeline::Compilation> c_;
  std::string inventoryError_;
};

// ---- probes and flows -------------------------------------------------------------

enum class Family { V4, V6 };
const char* familyName(Family f) { return f == Family::V4 ? "IPv4" : "IPv6"; }
const std::vector<Family> kBothFamilies = {Family::V4, Family::V6};

net::Address addr(const std::string& text) {
  auto a = net::Address::parse(text);
  if (!a) throw std::runtime_error("bad address in test: " + text);
  return *a;
}

// A protocol and a destination port (ICMP: a message type).
struct Probe {
  uint8_t protocol = kTCP;
  uint16_t port = 0;
  std::string str() const { return protocolName(protocol) + "/" + std::to_string(port); }
  Traffic traffic() const { return {protocol, port}; }
};

const Probe kTcp80{kTCP, 80}, kTcp81{kTCP, 81}, kUdp80{kUDP, 80}, kUdp81{kUDP, 81}, kSctp80{kSCTP, 80},
    kSctp81{kSCTP, 81};
const std::vector<Probe> kAllPorts = {kTcp80, kTcp81, kUdp80, kUdp81, kSctp80, kSctp81};

FlowEnd podEnd(const Program& p, const std::string& key, Family f) {
  auto slash = key.find('/');
  const Endpoint* e = p.findEndpoint(key.substr(0, slash), key.substr(slash + 1));
  if (!e) throw std::runtime_error("no endpoint " + key + " in the IR");
  for (const auto& a : e->addresses)
    if (a.family == (f == Family::V4 ? net::Family::V4 : net::Family::V6)) return {e, a, false};
  throw std::runtime_error("endpoint " + key + " has no " + familyName(f) + " address");
}
FlowEnd outsideEnd(Family f = Family::V4) { return {nullptr, addr(f == Family::V4 ? kOutsideV4 : kOutsideV6), false}; }
FlowEnd hostEnd(Family f = Family::V4) { return {nullptr, addr(f == Family::V4 ? kHostV4 : kHostV6), true}; }

FlowVerdict flow(const Program& p, const FlowEnd& src, const FlowEnd& dst, const Probe& probe) {
  return evaluateFlow(p, src, dst, probe.traffic());
}
FlowVerdict flow(const Program& p, const std::string& src, const std::string& dst, const Probe& probe,
                 Family f = Family::V4) {
  return flow(p, podEnd(p, src, f), podEnd(p, dst, f), probe);
}

std::string describe(const Verdict& v) {
  std::string s = std::string(v.allowed ? "allowed" : "denied") + " (" + reasonName(v.reason);
  if (v.rule) s += " rule " + std::to_string(v.rule);
  s += ")";
  if (v.auditWouldDeny) s += ", audit would deny (rule " + std::to_string(v.auditRule) + ")";
  return s;
}
std::string describe(const FlowVerdict& fv) {
  return "egress: " + (fv.egress ? describe(*fv.egress) : std::string("-")) +
         "; ingress: " + (fv.ingress ? describe(*fv.ingress) : std::string("-"));
}

// ---- grids --------------------------------------------------------------------------

// What a grid shows: the verdict, or the verdict had audit-mode policies been
// enforced (blocked when either side denies or its audit would deny).
enum class View { Verdict, Audit };

bool blocked(const FlowVerdict& fv, View view) {
  if (view == View::Verdict) return !fv.allowed();
  auto denies = [](const std::optional<Verdict>& v) { return v && (!v->allowed || v->auditWouldDeny); };
  return denies(fv.egress) || denies(fv.ingress);
}

// An expected grid: an optional header line naming the columns, then one line
// per source pod, "x/a" then nine cells of '.' or 'X' (spaces are ignored).
// Returns 81 cells, row-major, or an error.
std::string parseGrid(std::string_view text, std::string* error) {
  const auto& keys = podKeys();
  std::string cells;
  size_t row = 0;
  std::istringstream lines{std::string(text)};
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string first;
    if (!(words >> first)) continue;  // blank
    std::string rest, w;
    std::vector<std::string> tokens{first};
    while (words >> w) {
      rest += w;
      tokens.push_back(w);
    }
    if (rest.find_first_not_of(".X") != std::string::npos) {  // a header
      if (tokens != keys) *error = "header must name the columns " + keys.front() + " ... " + keys.back() + ": " + line;
      continue;
    }
    if (row >= keys.size() || first != keys[row]) {
      *error = "expected a row for " + (row < keys.size() ? keys[row] : std::string("nothing")) + ", got: " + line;
      return "";
    }
    if (rest.size() != keys.size()) {
      *error = "row " + first + " has " + std::to_string(rest.size()) + " cells, not " + std::to_string(keys.size());
      return "";
    }
    cells += rest;
    ++row;
  }
  if (row != keys.size()) *error = "grid has " + std::to_string(row) + " rows, not " + std::to_string(keys.size());
  return cells;
}

std::string renderGrid(const std::string& cells, const std::string& other = "") {
  const auto& keys = podKeys();
  std::string out = "        ";
  for (const auto& k : keys) out += k + " ";
  out += "\n";
  for (size_t r = 0; r < keys.size(); ++r) {
    out += "    " + keys[r] + " ";
    for (size_t col = 0; col < keys.size(); ++col) {
      size_t i = r * keys.size() + col;
      bool wrong = !other.empty() && other[i] != cells[i];
      out += wrong ? std::string("[") + cells[i] + "] " : std::string(" ") + cells[i] + "  ";
    }
    out += "\n";
  }
  return out;
}

// The whole matrix, for each probe and address family, against `expected`.
testing::AssertionResult reachability(const Program& p, const std::vector<Probe>& probes, std::string_view expected,
                                      const std::vector<Family>& families = kBothFamilies,
                                      View view = View::Verdict) {
  std::string error;
  std::string want = parseGrid(expected, &error);
  if (!error.empty()) return testing::AssertionFailure() << "bad expected grid: " << error;
  const auto& keys = podKeys();
  std::ostringstream failures;
  bool ok = true;
  for (const auto& probe : probes) {
    for (Family f : families) {
      std::string got;
      std::vector<std::string> why;
      for (const auto& src : keys) {
        for (const auto& dst : keys) {
          FlowVerdict fv = flow(p, src, dst, probe, f);
          char cell = blocked(fv, view) ? 'X' : '.';
          if (cell != want[got.size()])
            why.push_back("  " + src + " -> " + dst + ": expected " + (want[got.size()] == '.' ? "allowed" : "blocked") +
                          ", got " + (cell == '.' ? "allowed" : "blocked") + "; " + describe(fv));
          got += cell;
        }
      }
      if (why.empty()) continue;
      ok = false;
      failures << "\n" << probe.str() << " over " << familyName(f) << (view == View::Audit ? " (audit view)" : "")
               << ": " << why.size() << " cells differ. Got (differences in brackets):\n"
               << renderGrid(got, want) << "expected:\n"
               << renderGrid(want);
      for (const auto& w : why) failures << w << "\n";
    }
  }
  if (ok) return testing::AssertionSuccess();
  return testing::AssertionFailure() << failures.str();
}

constexpr std::string_view kAllAllowed = R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  .   .   .   .   .   .   .   .   .
    x/b  .   .   .   .   .   .   .   .   .
    x/c  .   .   .   .   .   .   .   .   .
    y/a  .   .   .   .   .   .   .   .   .
    y/b  .   .   .   .   .   .   .   .   .
    y/c  .   .   .   .   .   .   .   .   .
    z/a  .   .   .   .   .   .   .   .   .
    z/b  .   .   .   .   .   .   .   .   .
    z/c  .   .   .   .   .   .   .   .   .
)";

// Ingress to every pod of x blocked.
constexpr std::string_view kIntoXBlocked = R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   X   X   .   .   .   .   .   .
    x/b  X   X   X   .   .   .   .   .   .
    x/c  X   X   X   .   .   .   .   .   .
    y/a  X   X   X   .   .   .   .   .   .
    y/b  X   X   X   .   .   .   .   .   .
    y/c  X   X   X   .   .   .   .   .   .
    z/a  X   X   X   .   .   .   .   .   .
    z/b  X   X   X   .   .   .   .   .   .
    z/c  X   X   X   .   .   .   .   .   .
)";

// Ingress to x/a blocked, everything else open.
constexpr std::string_view kIntoXaBlocked = R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   .   .   .   .   .   .   .   .
    x/b  X   .   .   .   .   .   .   .   .
    x/c  X   .   .   .   .   .   .   .   .
    y/a  X   .   .   .   .   .   .   .   .
    y/b  X   .   .   .   .   .   .   .   .
    y/c  X   .   .   .   .   .   .   .   .
    z/a  X   .   .   .   .   .   .   .   .
    z/b  X   .   .   .   .   .   .   .   .
    z/c  X   .   .   .   .   .   .   .   .
)";

// Ingress to x/a only from namespace y.
constexpr std::string_view kIntoXaFromYOnly = R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   .   .   .   .   .   .   .   .
    x/b  X   .   .   .   .   .   .   .   .
    x/c  X   .   .   .   .   .   .   .   .
    y/a  .   .   .   .   .   .   .   .   .
    y/b  .   .   .   .   .   .   .   .   .
    y/c  .   .   .   .   .   .   .   .   .
    z/a  X   .   .   .   .   .   .   .   .
    z/b  X   .   .   .   .   .   .   .   .
    z/c  X   .   .   .   .   .   .   .   .
)";

// ---- the grid helper itself ------------------------------------------------------------

TEST(EvaluatorGrid, ReportsBadGridsAndDifferences) {
  Cluster c("namespace x\npolicy deny { selects {} ingress {} }");
  ASSERT_TRUE(c.ok());
  auto bad = reachability(c.ir(), {kTcp80}, "x/a . . .");
  EXPECT_FALSE(bad);
  EXPECT_NE(std::string(bad.message()).find("bad expected grid"), std::string::npos) << bad.message();
  auto wrong = reachability(c.ir(), {kTcp80}, kAllAllowed, {Family::V4});
  ASSERT_FALSE(wrong);
  std::string msg = wrong.message();
  EXPECT_NE(msg.find("tcp/80 over IPv4: 27 cells differ"), std::string::npos) << msg;
  EXPECT_NE(msg.find("    y/b [X] [X] [X]  .   .   .   .   .   .  \n"), std::string::npos) << msg;
  EXPECT_NE(msg.find("y/b -> x/c: expected allowed, got blocked; egress: allowed (no-policy); "
                     "ingress: denied (default-deny)"),
            std::string::npos)
      << msg;
}

// ---- default deny and allow-all -----------------------------------------------------------

TEST(EvaluatorReachability, NoPolicyAllowsEverything) {
  Cluster none("");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(reachability(none.ir(), kAllPorts, kAllAllowed));
  // Policies in a namespace without pods change nothing either.
  Cluster elsewhere("namespace w\npolicy deny-all { selects {} ingress {} egress {} }");
  ASSERT_TRUE(elsewhere.ok());
  EXPECT_TRUE(reachability(elsewhere.ir(), kAllPorts, kAllAllowed));
  EXPECT_TRUE(reachability(elsewhere.ir(), {{kICMP, 8}, {47, 0}}, kAllAllowed));
}

TEST(EvaluatorReachability, DefaultDenyIngress) {
  Cluster c(R"(
    namespace x
    policy default-deny-ingress { selects {} ingress {} }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, kIntoXBlocked));
  EXPECT_TRUE(reachability(c.ir(), {{kICMP, 8}, {kICMPv6, 128}, {47, 0}}, kIntoXBlocked));
  // Outside and the host are blocked too; x's egress is untouched.
  EXPECT_FALSE(flow(c.ir(), outsideEnd(), podEnd(c.ir(), "x/a", Family::V4), kTcp80).allowed());
  EXPECT_FALSE(flow(c.ir(), hostEnd(Family::V6), podEnd(c.ir(), "x/a", Family::V6), kTcp80).allowed());
  EXPECT_TRUE(flow(c.ir(), podEnd(c.ir(), "x/a", Family::V4), outsideEnd(), kTcp80).allowed());
}

TEST(EvaluatorReachability, DefaultDenyEgress) {
  Cluster c(R"(
    namespace x
    policy default-deny-egress { selects {} egress {} }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   X   X   X   X   X   X   X   X
    x/b  X   X   X   X   X   X   X   X   X
    x/c  X   X   X   X   X   X   X   X   X
    y/a  .   .   .   .   .   .   .   .   .
    y/b  .   .   .   .   .   .   .   .   .
    y/c  .   .   .   .   .   .   .   .   .
    z/a  .   .   .   .   .   .   .   .   .
    z/b  .   .   .   .   .   .   .   .   .
    z/c  .   .   .   .   .   .   .   .   .
  )"));
  EXPECT_FALSE(flow(c.ir(), podEnd(c.ir(), "x/b", Family::V6), outsideEnd(Family::V6), kUdp80).allowed());
  EXPECT_TRUE(flow(c.ir(), outsideEnd(), podEnd(c.ir(), "x/b", Family::V4), kUdp80).allowed());
}

TEST(EvaluatorReachability, DefaultDenyBothDirectionsForOnePod) {
  Cluster c(R"(
    namespace x
    policy isolate-a { selects {pod = a} ingress {} egress {} }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   X   X   X   X   X   X   X   X
    x/b  X   .   .   .   .   .   .   .   .
    x/c  X   .   .   .   .   .   .   .   .
    y/a  X   .   .   .   .   .   .   .   .
    y/b  X   .   .   .   .   .   .   .   .
    y/c  X   .   .   .   .   .   .   .   .
    z/a  X   .   .   .   .   .   .   .   .
    z/b  X   .   .   .   .   .   .   .   .
    z/c  X   .   .   .   .   .   .   .   .
  )"));
}

TEST(EvaluatorReachability, AllowAllIngress) {
  // Each of these peers admits every pod of every namespace.
  for (const char* peer : {"all", "cluster", "pods {} in namespaces {}", "namespaces {}", "cidr 198.18.0.0/15, cidr 2001:2::/48"}) {
    SCOPED_TRACE(peer);
    Cluster c(std::string(R"(
      namespace x
      policy default-deny { selects {} ingress {} }
      policy allow-all { selects {} ingress { allow from )") +
              peer + " } }");
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(reachability(c.ir(), kAllPorts, kAllAllowed));
  }
}

TEST(EvaluatorReachability, AllowAllEgress) {
  Cluster c(R"(
    namespace x
    policy default-deny { selects {} egress {} }
    policy allow-all { selects {} egress { allow to all } }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, kAllAllowed));
  EXPECT_TRUE(flow(c.ir(), podEnd(c.ir(), "x/c", Family::V4), outsideEnd(), kTcp80).allowed());
}

// ---- selectors ----------------------------------------------------------------------------

TEST(EvaluatorReachability, PodSelectorLooksInThePolicysNamespace) {
  Cluster c(R"(
    namespace x
    policy allow-b-to-a { selects {pod = a} ingress { allow from pods {pod = b} } }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   .   .   .   .   .   .   .   .
    x/b  .   .   .   .   .   .   .   .   .
    x/c  X   .   .   .   .   .   .   .   .
    y/a  X   .   .   .   .   .   .   .   .
    y/b  X   .   .   .   .   .   .   .   .
    y/c  X   .   .   .   .   .   .   .   .
    z/a  X   .   .   .   .   .   .   .   .
    z/b  X   .   .   .   .   .   .   .   .
    z/c  X   .   .   .   .   .   .   .   .
  )"));
}

TEST(EvaluatorReachability, DenyIngressFromOtherNamespaces) {
  Cluster c(R"(
    namespace x
    policy same-namespace-only { selects {} ingress { allow from pods {} } }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  .   .   .   .   .   .   .   .   .
    x/b  .   .   .   .   .   .   .   .   .
    x/c  .   .   .   .   .   .   .   .   .
    y/a  X   X   X   .   .   .   .   .   .
    y/b  X   X   X   .   .   .   .   .   .
    y/c  X   X   X   .   .   .   .   .   .
    z/a  X   X   X   .   .   .   .   .   .
    z/b  X   X   X   .   .   .   .   .   .
    z/c  X   X   X   .   .   .   .   .   .
  )"));
}

TEST(EvaluatorReachability, NamespaceSelectorAndShorthands) {
  // Four spellings of "every pod of namespace y".
  for (const char* peer : {"pods {} in namespaces {ns = y}", "namespaces {ns = y}", "namespace y",
                           "pods {} in namespace y"}) {
    SCOPED_TRACE(peer);
    Cluster c(std::string("namespace x\npolicy from-y { selects {pod = a} ingress { allow from ") + peer + " } }");
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(reachability(c.ir(), kAllPorts, kIntoXaFromYOnly));
  }
}

TEST(EvaluatorReachability, PodAndNamespaceSelectorCombined) {
  Cluster c(R"(
    namespace x
    policy from-b-in-y-or-z {
      selects {pod = a}
      ingress { allow from pods {pod = b} in namespaces {ns in (y, z)} }
    }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   .   .   .   .   .   .   .   .
    x/b  X   .   .   .   .   .   .   .   .
    x/c  X   .   .   .   .   .   .   .   .
    y/a  X   .   .   .   .   .   .   .   .
    y/b  .   .   .   .   .   .   .   .   .
    y/c  X   .   .   .   .   .   .   .   .
    z/a  X   .   .   .   .   .   .   .   .
    z/b  .   .   .   .   .   .   .   .   .
    z/c  X   .   .   .   .   .   .   .   .
  )"));
}

TEST(EvaluatorReachability, MatchExpressionsInAndNotIn) {
  Cluster c(R"(
    namespace x
    policy expressions {
      selects {pod = a}
      ingress { allow from pods {pod in (b, c)} in namespaces {ns notin (x)} }
    }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   .   .   .   .   .   .   .   .
    x/b  X   .   .   .   .   .   .   .   .
    x/c  X   .   .   .   .   .   .   .   .
    y/a  X   .   .   .   .   .   .   .   .
    y/b  .   .   .   .   .   .   .   .   .
    y/c  .   .   .   .   .   .   .   .   .
    z/a  X   .   .   .   .   .   .   .   .
    z/b  .   .   .   .   .   .   .   .   .
    z/c  .   .   .   .   .   .   .   .   .
  )"));
}

TEST(EvaluatorReachability, MatchExpressionsExistsAndNotExists) {
  // x/b and y/c carry an extra label.
  json inv = standardInventory();
  endpointIn(inv, "x", "b")["labels"]["tier"] = "web";
  endpointIn(inv, "y", "c")["labels"]["tier"] = "db";
  {
    SCOPED_TRACE("exists");
    Cluster c("namespace x\npolicy p { selects {pod = a} ingress { allow from pods {tier} in namespaces {ns} } }", inv);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(reachability(c.ir(), kAllPorts, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   .   .   .   .   .   .   .   .
    x/b  .   .   .   .   .   .   .   .   .
    x/c  X   .   .   .   .   .   .   .   .
    y/a  X   .   .   .   .   .   .   .   .
    y/b  X   .   .   .   .   .   .   .   .
    y/c  .   .   .   .   .   .   .   .   .
    z/a  X   .   .   .   .   .   .   .   .
    z/b  X   .   .   .   .   .   .   .   .
    z/c  X   .   .   .   .   .   .   .   .
    )"));
  }
  {
    SCOPED_TRACE("does not exist, and !=");
    Cluster c("namespace x\npolicy p { selects {pod = a} ingress { allow from pods {!tier, pod != a} in namespaces {} } }",
              inv);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(reachability(c.ir(), kAllPorts, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   .   .   .   .   .   .   .   .
    x/b  X   .   .   .   .   .   .   .   .
    x/c  .   .   .   .   .   .   .   .   .
    y/a  X   .   .   .   .   .   .   .   .
    y/b  .   .   .   .   .   .   .   .   .
    y/c  X   .   .   .   .   .   .   .   .
    z/a  X   .   .   .   .   .   .   .   .
    z/b  .   .   .   .   .   .   .   .   .
    z/c  .   .   .   .   .   .   .   .   .
    )"));
  }
  {
    SCOPED_TRACE("no namespace lacks the ns label");
    Cluster c("namespace x\npolicy p { selects {pod = a} ingress { allow from pods {} in namespaces {!ns} } }", inv);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(reachability(c.ir(), kAllPorts, kIntoXaBlocked));
  }
}

TEST(EvaluatorReachability, NamespaceNameLabelIsImplicit) {
  Cluster c(R"(
    namespace x
    policy p { selects {pod = a} ingress { allow from namespaces {kubernetes.io/metadata.name = y} } }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, kIntoXaFromYOnly));
}

// ---- CIDRs ----------------------------------------------------------------------------------

TEST(EvaluatorReachability, CidrWithExceptIPv4) {
  // 198.18.2.0/24 is namespace y. A CIDR rule matches by address, pods included;
  // an IPv4 prefix says nothing about IPv6 addresses.
  Cluster c(R"(
    namespace x
    policy cidr {
      selects {pod = a}
      ingress { allow from cidr 198.18.0.0/15 except (198.18.2.0/24, 198.19.1.0/24) }
      egress { allow to cidr 198.18.0.0/15 except 198.18.1.0/24 }
    }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   X   X   .   .   .   .   .   .
    x/b  .   .   .   .   .   .   .   .   .
    x/c  .   .   .   .   .   .   .   .   .
    y/a  X   .   .   .   .   .   .   .   .
    y/b  X   .   .   .   .   .   .   .   .
    y/c  X   .   .   .   .   .   .   .   .
    z/a  .   .   .   .   .   .   .   .   .
    z/b  .   .   .   .   .   .   .   .   .
    z/c  .   .   .   .   .   .   .   .   .
  )",
                           {Family::V4}));
  // No IPv6 address is in an IPv4 CIDR: x/a is isolated.
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   X   X   X   X   X   X   X   X
    x/b  X   .   .   .   .   .   .   .   .
    x/c  X   .   .   .   .   .   .   .   .
    y/a  X   .   .   .   .   .   .   .   .
    y/b  X   .   .   .   .   .   .   .   .
    y/c  X   .   .   .   .   .   .   .   .
    z/a  X   .   .   .   .   .   .   .   .
    z/b  X   .   .   .   .   .   .   .   .
    z/c  X   .   .   .   .   .   .   .   .
  )",
                           {Family::V6}));
  // Outside addresses match by address too: 198.19.1.1 is excepted, 198.19.2.1 is not.
  const Program& p = c.ir();
  FlowEnd xa = podEnd(p, "x/a", Family::V4);
  EXPECT_FALSE(flow(p, outsideEnd(), xa, kTcp80).allowed());
  EXPECT_TRUE(flow(p, FlowEnd{nullptr, addr("198.19.2.1"), false}, xa, kTcp80).allowed());
  EXPECT_TRUE(flow(p, xa, outsideEnd(), kTcp80).allowed());
  // The host matches by its address.
  EXPECT_TRUE(flow(p, hostEnd(Family::V4), xa, kTcp80).allowed());
  EXPECT_FALSE(flow(p, hostEnd(Family::V6), podEnd(p, "x/a", Family::V6), kTcp80).allowed());
}

TEST(EvaluatorReachability, CidrWithExceptIPv6) {
  // 2001:2::3:0/112 is namespace z; 2001:2::1:2 is x/b.
  Cluster c(R"(
    namespace x
    policy cidr6 {
      selects {pod = a}
      ingress { allow from cidr 2001:2::/48 except (2001:2::3:0/112, 2001:2::1:2/128) }
    }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  .   .   .   .   .   .   .   .   .
    x/b  X   .   .   .   .   .   .   .   .
    x/c  .   .   .   .   .   .   .   .   .
    y/a  .   .   .   .   .   .   .   .   .
    y/b  .   .   .   .   .   .   .   .   .
    y/c  .   .   .   .   .   .   .   .   .
    z/a  X   .   .   .   .   .   .   .   .
    z/b  X   .   .   .   .   .   .   .   .
    z/c  X   .   .   .   .   .   .   .   .
  )",
                           {Family::V6}));
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, kIntoXaBlocked, {Family::V4}));
  EXPECT_TRUE(flow(c.ir(), outsideEnd(Family::V6), podEnd(c.ir(), "x/a", Family::V6), kTcp80).allowed());
}

TEST(EvaluatorReachability, EgressCidrAndPodsInOneRule) {
  Cluster c(R"(
    namespace x
    policy egress-mixed {
      selects {pod = a}
      egress { allow to cidr 198.18.3.0/24, pods {pod = a} in namespace y }
    }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   X   X   .   X   X   .   .   .
    x/b  .   .   .   .   .   .   .   .   .
    x/c  .   .   .   .   .   .   .   .   .
    y/a  .   .   .   .   .   .   .   .   .
    y/b  .   .   .   .   .   .   .   .   .
    y/c  .   .   .   .   .   .   .   .   .
    z/a  .   .   .   .   .   .   .   .   .
    z/b  .   .   .   .   .   .   .   .   .
    z/c  .   .   .   .   .   .   .   .   .
  )",
                           {Family::V4}));
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   X   X   .   X   X   X   X   X
    x/b  .   .   .   .   .   .   .   .   .
    x/c  .   .   .   .   .   .   .   .   .
    y/a  .   .   .   .   .   .   .   .   .
    y/b  .   .   .   .   .   .   .   .   .
    y/c  .   .   .   .   .   .   .   .   .
    z/a  .   .   .   .   .   .   .   .   .
    z/b  .   .   .   .   .   .   .   .   .
    z/c  .   .   .   .   .   .   .   .   .
  )",
                           {Family::V6}));
}

// ---- ports and protocols --------------------------------------------------------------------

TEST(EvaluatorReachability, PortRange) {
  Cluster c(R"(
    namespace x
    policy range { selects {pod = a} ingress { allow from namespaces {} on tcp/80-81 } }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), {kTcp80, kTcp81}, kAllAllowed));
  EXPECT_TRUE(reachability(c.ir(), {kUdp80, kUdp81, kSctp80, kSctp81, {kTCP, 79}, {kTCP, 82}}, kIntoXaBlocked));
}

TEST(EvaluatorReachability, SinglePortsPerProtocol) {
  Cluster c(R"(
    namespace x
    policy ports {
      selects {pod = a}
      ingress {
        allow from namespace y on tcp/81
        allow from namespace z on udp/80, sctp/80-81
      }
    }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), {kTcp80, kUdp81}, kIntoXaBlocked));
  EXPECT_TRUE(reachability(c.ir(), {kTcp81}, kIntoXaFromYOnly));
  EXPECT_TRUE(reachability(c.ir(), {kUdp80, kSctp80, kSctp81}, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   .   .   .   .   .   .   .   .
    x/b  X   .   .   .   .   .   .   .   .
    x/c  X   .   .   .   .   .   .   .   .
    y/a  X   .   .   .   .   .   .   .   .
    y/b  X   .   .   .   .   .   .   .   .
    y/c  X   .   .   .   .   .   .   .   .
    z/a  .   .   .   .   .   .   .   .   .
    z/b  .   .   .   .   .   .   .   .   .
    z/c  .   .   .   .   .   .   .   .   .
  )"));
}

TEST(EvaluatorReachability, NamedPortIngress) {
  Cluster c(R"(
    namespace x
    policy named { selects {pod = a} ingress { allow from namespaces {} on tcp/serve-81-tcp, udp/serve-80-udp } }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.compilation().diags.warningCount(), 0u);
  EXPECT_TRUE(reachability(c.ir(), {kTcp81, kUdp80}, kAllAllowed));
  EXPECT_TRUE(reachability(c.ir(), {kTcp80, kUdp81, kSctp80, kSctp81}, kIntoXaBlocked));
}

TEST(EvaluatorReachability, NamedPortIngressResolvesAgainstEachDestination) {
  // "web" is 80 on x/a, 81 on x/b, and not defined on x/c; y/a calls 80 "web" too.
  json inv = standardInventory();
  endpointIn(inv, "x", "a")["ports"].push_back({{"name", "web"}, {"port", 80}});
  endpointIn(inv, "x", "b")["ports"].push_back({{"name", "web"}, {"port", 81}});
  endpointIn(inv, "y", "a")["ports"].push_back({{"name", "web"}, {"port", 80}});
  Cluster c("namespace x\npolicy web { selects {} ingress { allow from namespaces {} on tcp/web } }", inv);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), {kTcp80}, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  .   X   X   .   .   .   .   .   .
    x/b  .   X   X   .   .   .   .   .   .
    x/c  .   X   X   .   .   .   .   .   .
    y/a  .   X   X   .   .   .   .   .   .
    y/b  .   X   X   .   .   .   .   .   .
    y/c  .   X   X   .   .   .   .   .   .
    z/a  .   X   X   .   .   .   .   .   .
    z/b  .   X   X   .   .   .   .   .   .
    z/c  .   X   X   .   .   .   .   .   .
  )"));
  EXPECT_TRUE(reachability(c.ir(), {kTcp81}, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   .   X   .   .   .   .   .   .
    x/b  X   .   X   .   .   .   .   .   .
    x/c  X   .   X   .   .   .   .   .   .
    y/a  X   .   X   .   .   .   .   .   .
    y/b  X   .   X   .   .   .   .   .   .
    y/c  X   .   X   .   .   .   .   .   .
    z/a  X   .   X   .   .   .   .   .   .
    z/b  X   .   X   .   .   .   .   .   .
    z/c  X   .   X   .   .   .   .   .   .
  )"));
  EXPECT_TRUE(reachability(c.ir(), {kUdp80, kUdp81, kSctp80, kSctp81}, kIntoXBlocked));
  // x/c's missing port is reported.
  const auto& diags = c.compilation().diags;
  ASSERT_EQ(diags.warningCount(), 1u);
  EXPECT_NE(diags.all().back().message.find("x/c"), std::string::npos) << diags.all().back().message;
}

TEST(EvaluatorReachability, NamedPortEgress) {
  Cluster c(R"(
    namespace x
    policy named-egress { selects {pod = a} egress { allow to namespace y on udp/serve-80-udp } }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.compilation().diags.warningCount(), 0u);
  EXPECT_TRUE(reachability(c.ir(), {kUdp80}, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   X   X   .   .   .   X   X   X
    x/b  .   .   .   .   .   .   .   .   .
    x/c  .   .   .   .   .   .   .   .   .
    y/a  .   .   .   .   .   .   .   .   .
    y/b  .   .   .   .   .   .   .   .   .
    y/c  .   .   .   .   .   .   .   .   .
    z/a  .   .   .   .   .   .   .   .   .
    z/b  .   .   .   .   .   .   .   .   .
    z/c  .   .   .   .   .   .   .   .   .
  )"));
  EXPECT_TRUE(reachability(c.ir(), {kTcp80, kTcp81, kUdp81, kSctp80, kSctp81}, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   X   X   X   X   X   X   X   X
    x/b  .   .   .   .   .   .   .   .   .
    x/c  .   .   .   .   .   .   .   .   .
    y/a  .   .   .   .   .   .   .   .   .
    y/b  .   .   .   .   .   .   .   .   .
    y/c  .   .   .   .   .   .   .   .   .
    z/a  .   .   .   .   .   .   .   .   .
    z/b  .   .   .   .   .   .   .   .   .
    z/c  .   .   .   .   .   .   .   .   .
  )"));
}

TEST(EvaluatorReachability, IcmpTypes) {
  Cluster c(R"(
    namespace x
    policy ping {
      selects {pod = a}
      ingress {
        allow from namespaces {} on icmp/echo-request
        allow from namespace y on icmpv6/{echo-request, 135}
      }
    }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), {{kICMP, 8}}, kAllAllowed));
  EXPECT_TRUE(reachability(c.ir(), {{kICMPv6, 128}, {kICMPv6, 135}}, kIntoXaFromYOnly));
  // echo-reply, another type, ICMPv6's echo-request number under ICMP, and TCP.
  EXPECT_TRUE(reachability(c.ir(), {{kICMP, 0}, {kICMP, 3}, {kICMP, 128}, {kICMPv6, 8}, {kICMPv6, 136}, kTcp80},
                           kIntoXaBlocked));
}

TEST(EvaluatorReachability, AnyProtocol) {
  for (const char* l4 : {"any", "tcp/80, any", "udp, any"}) {
    SCOPED_TRACE(l4);
    Cluster c(std::string("namespace x\npolicy any { selects {pod = a} ingress { allow from namespace y on ") + l4 +
              " } }");
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(reachability(c.ir(), kAllPorts, kIntoXaFromYOnly));
    EXPECT_TRUE(reachability(c.ir(), {{kICMP, 8}, {kICMPv6, 1}, {47, 0}, {kTCP, 65535}}, kIntoXaFromYOnly));
  }
}

TEST(EvaluatorReachability, ProtocolWithoutPortsIsEveryPort) {
  Cluster c(R"(
    namespace x
    policy udp-only { selects {pod = a} ingress { allow from namespace y on udp } }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), {kUdp80, kUdp81, {kUDP, 1}, {kUDP, 65535}}, kIntoXaFromYOnly));
  EXPECT_TRUE(reachability(c.ir(), {kTcp80, kSctp81, {kICMP, 8}}, kIntoXaBlocked));
}

// ---- several rules and policies -------------------------------------------------------------

TEST(EvaluatorReachability, PoliciesAddUp) {
  Cluster c({{"one.policy", "namespace x\npolicy from-b { selects {pod = a} ingress { allow from pods {pod = b} } }"},
             {"two.policy", "namespace x\npolicy from-y { selects {} ingress { allow from namespace y on tcp/80 } }"}},
            standardInventory());
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), {kTcp80}, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   X   X   .   .   .   .   .   .
    x/b  .   X   X   .   .   .   .   .   .
    x/c  X   X   X   .   .   .   .   .   .
    y/a  .   .   .   .   .   .   .   .   .
    y/b  .   .   .   .   .   .   .   .   .
    y/c  .   .   .   .   .   .   .   .   .
    z/a  X   X   X   .   .   .   .   .   .
    z/b  X   X   X   .   .   .   .   .   .
    z/c  X   X   X   .   .   .   .   .   .
  )"));
  EXPECT_TRUE(reachability(c.ir(), {kTcp81, kUdp80, kSctp80}, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   X   X   .   .   .   .   .   .
    x/b  .   X   X   .   .   .   .   .   .
    x/c  X   X   X   .   .   .   .   .   .
    y/a  X   X   X   .   .   .   .   .   .
    y/b  X   X   X   .   .   .   .   .   .
    y/c  X   X   X   .   .   .   .   .   .
    z/a  X   X   X   .   .   .   .   .   .
    z/b  X   X   X   .   .   .   .   .   .
    z/c  X   X   X   .   .   .   .   .   .
  )"));
}

// Every pod of x admits everyone but pods named b.
constexpr std::string_view kIntoXExceptFromB = R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  .   .   .   .   .   .   .   .   .
    x/b  X   X   X   .   .   .   .   .   .
    x/c  .   .   .   .   .   .   .   .   .
    y/a  .   .   .   .   .   .   .   .   .
    y/b  X   X   X   .   .   .   .   .   .
    y/c  .   .   .   .   .   .   .   .   .
    z/a  .   .   .   .   .   .   .   .   .
    z/b  X   X   X   .   .   .   .   .   .
    z/c  .   .   .   .   .   .   .   .   .
)";

TEST(EvaluatorReachability, DenyBeatsAllowWhateverTheOrder) {
  const std::vector<std::pair<std::string, std::string>> variants = {
      {"allow first", R"(
        namespace x
        policy p { selects {} ingress {
          allow from namespaces {}
          deny from pods {pod = b} in namespaces {}
        } })"},
      {"deny first", R"(
        namespace x
        policy p { selects {} ingress {
          deny from pods {pod = b} in namespaces {}
          allow from namespaces {}
        } })"},
      {"deny in another policy", R"(
        namespace x
        policy a-allow { selects {} ingress { allow from namespaces {} } }
        policy z-deny { selects {} ingress { deny from pods {pod = b} in namespaces {} } })"},
      {"deny in an earlier policy", R"(
        namespace x
        policy a-deny { selects {} ingress { deny from pods {pod = b} in namespaces {} } }
        policy z-allow { selects {} ingress { allow from namespaces {} on any } })"},
      {"narrower allow", R"(
        namespace x
        policy p { selects {} ingress {
          deny from pods {pod = b} in namespaces {}
          allow from pods {pod = b} in namespaces {} on tcp/80
          allow from all
        } })"},
  };
  for (const auto& [name, text] : variants) {
    SCOPED_TRACE(name);
    Cluster c(text);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(reachability(c.ir(), kAllPorts, kIntoXExceptFromB));
  }
}

TEST(EvaluatorReachability, ClusterwideDenyBeatsNamespacedAllow) {
  // The clusterwide policy selects every pod and so makes every pod's ingress
  // default-deny; only x has an allow.
  Cluster c(R"(
    policy no-b { clusterwide selects {} ingress { deny from pods {pod = b} } }
    policy allow-all { namespace x selects {} ingress { allow from namespaces {} } }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  .   .   .   X   X   X   X   X   X
    x/b  X   X   X   X   X   X   X   X   X
    x/c  .   .   .   X   X   X   X   X   X
    y/a  .   .   .   X   X   X   X   X   X
    y/b  X   X   X   X   X   X   X   X   X
    y/c  .   .   .   X   X   X   X   X   X
    z/a  .   .   .   X   X   X   X   X   X
    z/b  X   X   X   X   X   X   X   X   X
    z/c  .   .   .   X   X   X   X   X   X
  )"));
}

TEST(EvaluatorReachability, DenyOnlyPolicyStillDefaultDenies) {
  // A section makes its direction default-deny, with or without allow rules.
  Cluster c("namespace x\npolicy p { selects {pod = a} ingress { deny from namespace y } }");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, kIntoXaBlocked));
  // The same in audit mode: nothing is blocked, everything would be.
  Cluster audit("namespace x\npolicy p { selects {pod = a} mode audit ingress { deny from namespace y } }");
  ASSERT_TRUE(audit.ok());
  EXPECT_TRUE(reachability(audit.ir(), kAllPorts, kAllAllowed));
  EXPECT_TRUE(reachability(audit.ir(), kAllPorts, kIntoXaBlocked, kBothFamilies, View::Audit));
  uint32_t deny = audit.rule("deny from namespace y");
  EXPECT_EQ(flow(audit.ir(), "y/b", "x/a", kTcp80).ingress->auditRule, deny);
  FlowVerdict fromZ = flow(audit.ir(), "z/b", "x/a", kTcp80);
  EXPECT_TRUE(fromZ.ingress->auditWouldDeny);
  EXPECT_EQ(fromZ.ingress->auditRule, 0u);
}

TEST(EvaluatorReachability, EgressAndIngressTogether) {
  Cluster c(R"(
    policy x-to-y { namespace x selects {} egress { allow to namespace y } }
    policy y-from-xa { namespace y selects {} ingress { allow from pods {pod = a} in namespace x } }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   X   X   .   .   .   X   X   X
    x/b  X   X   X   X   X   X   X   X   X
    x/c  X   X   X   X   X   X   X   X   X
    y/a  .   .   .   X   X   X   .   .   .
    y/b  .   .   .   X   X   X   .   .   .
    y/c  .   .   .   X   X   X   .   .   .
    z/a  .   .   .   X   X   X   .   .   .
    z/b  .   .   .   X   X   X   .   .   .
    z/c  .   .   .   X   X   X   .   .   .
  )"));
}

TEST(EvaluatorReachability, EgressToDnsOnly) {
  Cluster c(R"(
    namespace x
    policy dns-and-y {
      selects {}
      egress {
        allow to pods {k8s-app = kube-dns} in namespace kube-system on udp/53
        allow to namespace y on tcp/80
      }
    }
  )",
            inventoryWithDns());
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), {kTcp80}, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   X   X   .   .   .   X   X   X
    x/b  X   X   X   .   .   .   X   X   X
    x/c  X   X   X   .   .   .   X   X   X
    y/a  .   .   .   .   .   .   .   .   .
    y/b  .   .   .   .   .   .   .   .   .
    y/c  .   .   .   .   .   .   .   .   .
    z/a  .   .   .   .   .   .   .   .   .
    z/b  .   .   .   .   .   .   .   .   .
    z/c  .   .   .   .   .   .   .   .   .
  )"));
  EXPECT_TRUE(reachability(c.ir(), {kTcp81, kUdp80, kUdp81, kSctp80, kSctp81, {kUDP, 53}}, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   X   X   X   X   X   X   X   X
    x/b  X   X   X   X   X   X   X   X   X
    x/c  X   X   X   X   X   X   X   X   X
    y/a  .   .   .   .   .   .   .   .   .
    y/b  .   .   .   .   .   .   .   .   .
    y/c  .   .   .   .   .   .   .   .   .
    z/a  .   .   .   .   .   .   .   .   .
    z/b  .   .   .   .   .   .   .   .   .
    z/c  .   .   .   .   .   .   .   .   .
  )"));
  const Program& p = c.ir();
  for (Family f : kBothFamilies) {
    SCOPED_TRACE(familyName(f));
    FlowEnd dns = podEnd(p, "kube-system/coredns", f);
    for (const char* src : {"x/a", "x/b", "x/c"}) {
      EXPECT_TRUE(flow(p, podEnd(p, src, f), dns, {kUDP, 53}).allowed()) << src;
      EXPECT_FALSE(flow(p, podEnd(p, src, f), dns, {kTCP, 53}).allowed()) << src;
      EXPECT_FALSE(flow(p, podEnd(p, src, f), dns, {kUDP, 54}).allowed()) << src;
    }
    EXPECT_TRUE(flow(p, podEnd(p, "y/a", f), dns, {kTCP, 53}).allowed());
    // The rule names the pods, not whatever answers on port 53 outside.
    EXPECT_FALSE(flow(p, podEnd(p, "x/a", f), outsideEnd(f), {kUDP, 53}).allowed());
  }
}

// ---- entities ---------------------------------------------------------------------------

// x/a's ingress and egress allow one entity; pods are blocked unless it covers them.
struct EntityCase {
  const char* entity;
  bool pods, host, world;
};

TEST(EvaluatorReachability, Entities) {
  constexpr std::string_view kXaIsolated = R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   X   X   X   X   X   X   X   X
    x/b  X   .   .   .   .   .   .   .   .
    x/c  X   .   .   .   .   .   .   .   .
    y/a  X   .   .   .   .   .   .   .   .
    y/b  X   .   .   .   .   .   .   .   .
    y/c  X   .   .   .   .   .   .   .   .
    z/a  X   .   .   .   .   .   .   .   .
    z/b  X   .   .   .   .   .   .   .   .
    z/c  X   .   .   .   .   .   .   .   .
  )";
  const EntityCase cases[] = {
      {"world", false, false, true},
      {"cluster", true, true, false},
      {"host", false, true, false},
      {"all", true, true, true},
  };
  for (const auto& e : cases) {
    SCOPED_TRACE(e.entity);
    Cluster c(std::string("namespace x\npolicy p { selects {pod = a} ingress { allow from ") + e.entity +
              " } egress { allow to " + e.entity + " } }");
    ASSERT_TRUE(c.ok());
    const Program& p = c.ir();
    EXPECT_TRUE(reachability(p, kAllPorts, e.pods ? kAllAllowed : kXaIsolated));
    for (Family f : kBothFamilies) {
      SCOPED_TRACE(familyName(f));
      FlowEnd xa = podEnd(p, "x/a", f);
      EXPECT_EQ(flow(p, hostEnd(f), xa, kTcp80).allowed(), e.host);
      EXPECT_EQ(flow(p, xa, hostEnd(f), kTcp80).allowed(), e.host);
      EXPECT_EQ(flow(p, outsideEnd(f), xa, kTcp80).allowed(), e.world);
      EXPECT_EQ(flow(p, xa, outsideEnd(f), kTcp80).allowed(), e.world);
    }
  }
}

// ---- clusterwide policies ---------------------------------------------------------------

TEST(EvaluatorReachability, ClusterwidePodsPeerLooksInEveryNamespace) {
  Cluster c("policy only-from-b { clusterwide selects {pod = a} ingress { allow from pods {pod = b} } }");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   .   .   X   .   .   X   .   .
    x/b  .   .   .   .   .   .   .   .   .
    x/c  X   .   .   X   .   .   X   .   .
    y/a  X   .   .   X   .   .   X   .   .
    y/b  .   .   .   .   .   .   .   .   .
    y/c  X   .   .   X   .   .   X   .   .
    z/a  X   .   .   X   .   .   X   .   .
    z/b  .   .   .   .   .   .   .   .   .
    z/c  X   .   .   X   .   .   X   .   .
  )"));
}

TEST(EvaluatorReachability, ClusterwideWithNamespacePeer) {
  Cluster c("policy from-y { clusterwide selects {pod = a} ingress { allow from namespace y } }");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   .   .   X   .   .   X   .   .
    x/b  X   .   .   X   .   .   X   .   .
    x/c  X   .   .   X   .   .   X   .   .
    y/a  .   .   .   .   .   .   .   .   .
    y/b  .   .   .   .   .   .   .   .   .
    y/c  .   .   .   .   .   .   .   .   .
    z/a  X   .   .   X   .   .   X   .   .
    z/b  X   .   .   X   .   .   X   .   .
    z/c  X   .   .   X   .   .   X   .   .
  )"));
}

TEST(EvaluatorReachability, ClusterwideEgress) {
  Cluster c("policy to-c-only { clusterwide selects {} egress { allow to pods {pod = c} on tcp/80-81 } }");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), {kTcp80, kTcp81}, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   X   .   X   X   .   X   X   .
    x/b  X   X   .   X   X   .   X   X   .
    x/c  X   X   .   X   X   .   X   X   .
    y/a  X   X   .   X   X   .   X   X   .
    y/b  X   X   .   X   X   .   X   X   .
    y/c  X   X   .   X   X   .   X   X   .
    z/a  X   X   .   X   X   .   X   X   .
    z/b  X   X   .   X   X   .   X   X   .
    z/c  X   X   .   X   X   .   X   X   .
  )"));
  constexpr std::string_view kNothing = R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   X   X   X   X   X   X   X   X
    x/b  X   X   X   X   X   X   X   X   X
    x/c  X   X   X   X   X   X   X   X   X
    y/a  X   X   X   X   X   X   X   X   X
    y/b  X   X   X   X   X   X   X   X   X
    y/c  X   X   X   X   X   X   X   X   X
    z/a  X   X   X   X   X   X   X   X   X
    z/b  X   X   X   X   X   X   X   X   X
    z/c  X   X   X   X   X   X   X   X   X
  )";
  EXPECT_TRUE(reachability(c.ir(), {kUdp80, kUdp81, kSctp80, kSctp81}, kNothing));
}

// ---- audit mode -----------------------------------------------------------------------------

TEST(EvaluatorAudit, AuditDenyChangesNoVerdict) {
  Cluster c(R"(
    namespace x
    policy audit-deny-y {
      selects {}
      mode audit
      ingress {
        allow from all
        deny from namespace y
      }
    }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, kAllAllowed));
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  .   .   .   .   .   .   .   .   .
    x/b  .   .   .   .   .   .   .   .   .
    x/c  .   .   .   .   .   .   .   .   .
    y/a  X   X   X   .   .   .   .   .   .
    y/b  X   X   X   .   .   .   .   .   .
    y/c  X   X   X   .   .   .   .   .   .
    z/a  .   .   .   .   .   .   .   .   .
    z/b  .   .   .   .   .   .   .   .   .
    z/c  .   .   .   .   .   .   .   .   .
  )",
                           kBothFamilies, View::Audit));
  const Program& p = c.ir();
  uint32_t deny = c.rule("deny from namespace y");
  ASSERT_NE(deny, 0u);
  FlowVerdict fv = flow(p, "y/a", "x/b", kTcp80);
  ASSERT_TRUE(fv.ingress);
  EXPECT_TRUE(fv.ingress->allowed);
  EXPECT_EQ(fv.ingress->reason, Reason::NoPolicy);
  EXPECT_EQ(fv.ingress->rule, 0u);
  EXPECT_TRUE(fv.ingress->auditWouldDeny);
  EXPECT_EQ(fv.ingress->auditRule, deny);
  ASSERT_TRUE(fv.egress);
  EXPECT_FALSE(fv.egress->auditWouldDeny);
  // z is not denied by the audit policy.
  FlowVerdict fromZ = flow(p, "z/a", "x/b", kTcp80);
  EXPECT_FALSE(fromZ.ingress->auditWouldDeny);
  EXPECT_EQ(fromZ.ingress->auditRule, 0u);
}

TEST(EvaluatorAudit, AuditOnlyDefaultDeny) {
  Cluster c(R"(
    namespace x
    policy audit-from-y-only { selects {} mode audit ingress { allow from namespace y } }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, kAllAllowed));
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   X   X   .   .   .   .   .   .
    x/b  X   X   X   .   .   .   .   .   .
    x/c  X   X   X   .   .   .   .   .   .
    y/a  .   .   .   .   .   .   .   .   .
    y/b  .   .   .   .   .   .   .   .   .
    y/c  .   .   .   .   .   .   .   .   .
    z/a  X   X   X   .   .   .   .   .   .
    z/b  X   X   X   .   .   .   .   .   .
    z/c  X   X   X   .   .   .   .   .   .
  )",
                           kBothFamilies, View::Audit));
  FlowVerdict fromZ = flow(c.ir(), "z/c", "x/a", kSctp81, Family::V6);
  ASSERT_TRUE(fromZ.ingress);
  EXPECT_TRUE(fromZ.allowed());
  EXPECT_EQ(fromZ.ingress->reason, Reason::NoPolicy);
  EXPECT_TRUE(fromZ.ingress->auditWouldDeny);
  EXPECT_EQ(fromZ.ingress->auditRule, 0u) << "audit default deny has no rule";
  FlowVerdict fromY = flow(c.ir(), "y/c", "x/a", kSctp81, Family::V6);
  EXPECT_FALSE(fromY.ingress->auditWouldDeny);
  // The outside world would be denied too.
  FlowVerdict world = flow(c.ir(), outsideEnd(), podEnd(c.ir(), "x/a", Family::V4), kTcp80);
  EXPECT_TRUE(world.allowed());
  EXPECT_TRUE(world.ingress->auditWouldDeny);
}

TEST(EvaluatorAudit, AuditNextToEnforcedPolicies) {
  Cluster c(R"(
    namespace x
    policy allow-most {
      selects {}
      ingress {
        allow from namespaces {}
        deny from namespace z on tcp/81
      }
    }
    policy tighter { selects {} mode audit ingress { deny from pods {pod = c} in namespaces {} } }
  )");
  ASSERT_TRUE(c.ok());
  const Program& p = c.ir();
  EXPECT_TRUE(reachability(p, {kTcp80}, kAllAllowed));
  EXPECT_TRUE(reachability(p, {kTcp80}, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  .   .   .   .   .   .   .   .   .
    x/b  .   .   .   .   .   .   .   .   .
    x/c  X   X   X   .   .   .   .   .   .
    y/a  .   .   .   .   .   .   .   .   .
    y/b  .   .   .   .   .   .   .   .   .
    y/c  X   X   X   .   .   .   .   .   .
    z/a  .   .   .   .   .   .   .   .   .
    z/b  .   .   .   .   .   .   .   .   .
    z/c  X   X   X   .   .   .   .   .   .
  )",
                           kBothFamilies, View::Audit));
  uint32_t allow = c.rule("allow from namespaces {}");
  uint32_t enforcedDeny = c.rule("deny from namespace z on tcp/81");
  uint32_t auditDeny = c.rule("deny from pods {pod = c} in namespaces {}");
  // Allowed, but the audit policy would deny.
  FlowVerdict v = flow(p, "y/c", "x/a", kTcp80);
  ASSERT_TRUE(v.ingress);
  EXPECT_TRUE(v.ingress->allowed);
  EXPECT_EQ(v.ingress->reason, Reason::AllowedByRule);
  EXPECT_EQ(v.ingress->rule, allow);
  EXPECT_TRUE(v.ingress->auditWouldDeny);
  EXPECT_EQ(v.ingress->auditRule, auditDeny);
  // Already denied by an enforced rule: nothing more to report.
  FlowVerdict denied = flow(p, "z/c", "x/a", kTcp81);
  EXPECT_FALSE(denied.allowed());
  EXPECT_EQ(denied.ingress->reason, Reason::DeniedByRule);
  EXPECT_EQ(denied.ingress->rule, enforcedDeny);
  EXPECT_FALSE(denied.ingress->auditWouldDeny);
  EXPECT_EQ(denied.ingress->auditRule, 0u);
}

TEST(EvaluatorAudit, AuditEgressNextToEnforcedIngress) {
  // The class's ingress is enforced, its egress only audited.
  Cluster c(R"(
    namespace x
    policy in-from-y { selects {pod = a} ingress { allow from namespace y } }
    policy out-to-y { selects {pod = a} mode audit egress { allow to namespace y } }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, kIntoXaFromYOnly));
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   X   X   .   .   .   X   X   X
    x/b  X   .   .   .   .   .   .   .   .
    x/c  X   .   .   .   .   .   .   .   .
    y/a  .   .   .   .   .   .   .   .   .
    y/b  .   .   .   .   .   .   .   .   .
    y/c  .   .   .   .   .   .   .   .   .
    z/a  X   .   .   .   .   .   .   .   .
    z/b  X   .   .   .   .   .   .   .   .
    z/c  X   .   .   .   .   .   .   .   .
  )",
                           kBothFamilies, View::Audit));
}

// ---- verdict details --------------------------------------------------------------------

TEST(EvaluatorVerdict, ReasonsAndDecidingRules) {
  Cluster c(R"(
    namespace x
    policy verdicts {
      selects {pod = a}
      ingress {
        allow from namespace y on tcp/80
        allow from pods {pod = b} in namespaces {}
        deny from pods {pod = c} in namespaces {} on tcp
      }
    }
  )");
  ASSERT_TRUE(c.ok());
  const Program& p = c.ir();
  uint32_t fromY = c.rule("allow from namespace y on tcp/80");
  uint32_t fromB = c.rule("allow from pods {pod = b} in namespaces {}");
  uint32_t denyC = c.rule("deny from pods {pod = c} in namespaces {} on tcp");
  ASSERT_LT(fromY, fromB);

  struct Case {
    const char* src;
    Probe probe;
    bool allowed;
    Reason reason;
    uint32_t rule;
  };
  const Case cases[] = {
      {"y/b", kTcp80, true, Reason::AllowedByRule, fromY},  // both allows match: the lower id decides
      {"y/b", kTcp81, true, Reason::AllowedByRule, fromB},
      {"z/b", kTcp80, true, Reason::AllowedByRule, fromB},
      {"y/c", kTcp80, false, Reason::DeniedByRule, denyC},  // deny beats the earlier allow
      {"y/c", kUdp80, false, Reason::DefaultDeny, 0},
      {"z/a", kTcp80, false, Reason::DefaultDeny, 0},
      {"x/a", kSctp80, false, Reason::DefaultDeny, 0},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(std::string(k.src) + " -> x/a " + k.probe.str());
    for (Family f : kBothFamilies) {
      FlowVerdict fv = flow(p, k.src, "x/a", k.probe, f);
      ASSERT_TRUE(fv.egress && fv.ingress);
      EXPECT_EQ(fv.egress->reason, Reason::NoPolicy);
      EXPECT_TRUE(fv.egress->allowed);
      EXPECT_EQ(fv.egress->rule, 0u);
      EXPECT_EQ(fv.ingress->allowed, k.allowed);
      EXPECT_EQ(fv.ingress->reason, k.reason) << reasonName(fv.ingress->reason);
      EXPECT_EQ(fv.ingress->rule, k.rule);
      EXPECT_FALSE(fv.ingress->auditWouldDeny);
      EXPECT_EQ(fv.allowed(), k.allowed);
    }
  }

  // Endpoints no policy selects: NoPolicy both ways.
  FlowVerdict open = flow(p, "x/a", "y/a", kTcp80);
  ASSERT_TRUE(open.egress && open.ingress);
  EXPECT_EQ(open.egress->reason, Reason::NoPolicy);
  EXPECT_EQ(open.ingress->reason, Reason::NoPolicy);
  EXPECT_TRUE(open.allowed());

  // Only known endpoints get a verdict.
  FlowVerdict in = flow(p, outsideEnd(), podEnd(p, "x/a", Family::V4), kTcp80);
  EXPECT_FALSE(in.egress);
  ASSERT_TRUE(in.ingress);
  EXPECT_EQ(in.ingress->reason, Reason::DefaultDeny);
  FlowVerdict out = flow(p, podEnd(p, "x/a", Family::V4), outsideEnd(), kTcp80);
  EXPECT_FALSE(out.ingress);
  ASSERT_TRUE(out.egress);
  EXPECT_TRUE(out.allowed());

  EXPECT_STREQ(reasonName(Reason::NoPolicy), "no-policy");
  EXPECT_STREQ(reasonName(Reason::AllowedByRule), "allowed-by-rule");
  EXPECT_STREQ(reasonName(Reason::DeniedByRule), "denied-by-rule");
  EXPECT_STREQ(reasonName(Reason::DefaultDeny), "default-deny");
}

TEST(EvaluatorVerdict, LowestDenyDecidesAcrossPolicies) {
  Cluster c(R"(
    namespace x
    policy a { selects {} ingress { allow from all  deny from namespace y on tcp } }
    policy b { selects {} ingress { deny from namespace y } }
  )");
  ASSERT_TRUE(c.ok());
  uint32_t denyA = c.rule("deny from namespace y on tcp");
  uint32_t denyB = c.rule("deny from namespace y");
  ASSERT_LT(denyA, denyB);
  FlowVerdict tcp = flow(c.ir(), "y/a", "x/a", kTcp80);
  EXPECT_EQ(tcp.ingress->reason, Reason::DeniedByRule);
  EXPECT_EQ(tcp.ingress->rule, denyA);
  FlowVerdict udp = flow(c.ir(), "y/a", "x/a", kUdp80);
  EXPECT_EQ(udp.ingress->reason, Reason::DeniedByRule);
  EXPECT_EQ(udp.ingress->rule, denyB);
}

// The evaluator on hand-built IR: pieces the compiler never produces alone.
TEST(EvaluatorVerdict, PeerAndTrafficMatchingOnHandBuiltRules) {
  Identity ident;
  ident.id = 256;
  ident.selectorBits = {1, 4};
  Peer pod = Peer::endpoint(&ident, addr("198.18.1.1"));
  Peer podNoAddress = Peer::endpoint(&ident);
  Peer host = Peer::host(addr(kHostV4));
  Peer world = Peer::world(addr(kOutsideV4));

  PeerMatch bits;
  bits.selectorBits = {2, 4};
  EXPECT_TRUE(peerMatches(bits, pod));
  EXPECT_FALSE(peerMatches(bits, host));
  EXPECT_FALSE(peerMatches(bits, world));
  bits.selectorBits = {0, 2};
  EXPECT_FALSE(peerMatches(bits, pod));

  PeerMatch cidr;
  cidr.cidrs.push_back({*net::Prefix::parse("198.18.0.0/16"), {*net::Prefix::parse("198.18.1.0/24")}});
  EXPECT_FALSE(peerMatches(cidr, pod));
  EXPECT_FALSE(peerMatches(cidr, podNoAddress));
  EXPECT_TRUE(peerMatches(cidr, host));
  EXPECT_FALSE(peerMatches(cidr, world));
  cidr.cidrs.push_back({*net::Prefix::parse("198.19.0.0/16"), {}});
  EXPECT_TRUE(peerMatches(cidr, world));

  EXPECT_FALSE(peerMatches(PeerMatch{}, pod)) << "an empty peer matches nothing";

  Rule ports;
  ports.conditions.push_back(L4Condition{{{kTCP, {{80, 81}, {443, 443}}}, {kUDP, {}}}});
  // Each kind's meaning is tested with its module (features_l4_test); here,
  // that a rule's conditions are asked at all.
  EXPECT_TRUE(conditionsMatch(ports, {kTCP, 81}));
  EXPECT_FALSE(conditionsMatch(ports, {kTCP, 82}));
  EXPECT_TRUE(conditionsMatch(Rule{}, {47, 0})) << "a rule without conditions: the peer decides";

  // An enforced direction with no rules denies; an open one allows.
  DirectionPolicy closed;
  closed.enforced = true;
  Verdict v = evaluate(closed, pod, {kTCP, 80});
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.reason, Reason::DefaultDeny);
  Verdict o = evaluate(DirectionPolicy{}, pod, {kTCP, 80});
  EXPECT_TRUE(o.allowed);
  EXPECT_EQ(o.reason, Reason::NoPolicy);
}

// ---- tiers (AdminNetworkPolicy, docs/language.md "Tiers") -------------------------

TEST(EvaluatorTiers, AnAdminDenyWinsOverANetworkPolicyAllow) {
  Cluster c(R"(
    namespace x
    policy allow-all { selects {} ingress { allow from all } }
    policy no-y {
      clusterwide
      tier admin priority 10
      selects {} in namespaces { ns = x }
      ingress { deny from namespaces { ns = y } }
    }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  .   .   .   .   .   .   .   .   .
    x/b  .   .   .   .   .   .   .   .   .
    x/c  .   .   .   .   .   .   .   .   .
    y/a  X   X   X   .   .   .   .   .   .
    y/b  X   X   X   .   .   .   .   .   .
    y/c  X   X   X   .   .   .   .   .   .
    z/a  .   .   .   .   .   .   .   .   .
    z/b  .   .   .   .   .   .   .   .   .
    z/c  .   .   .   .   .   .   .   .   .
  )"));
  Verdict v = *flow(c.ir(), "y/a", "x/b", kTcp80).ingress;
  EXPECT_EQ(v.reason, Reason::DeniedByRule);
  EXPECT_EQ(v.rule, c.rule("deny from namespaces { ns = y }"));
}

TEST(EvaluatorTiers, AnAdminAllowWinsOverANetworkPolicysDefaultDeny) {
  Cluster c(R"(
    namespace x
    policy deny-ingress { selects {} ingress {} }
    policy let-z-in {
      clusterwide
      tier admin priority 10
      selects {}
      ingress { allow from namespaces { ns = z } on tcp/80 }
    }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), {kTcp80}, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   X   X   .   .   .   .   .   .
    x/b  X   X   X   .   .   .   .   .   .
    x/c  X   X   X   .   .   .   .   .   .
    y/a  X   X   X   .   .   .   .   .   .
    y/b  X   X   X   .   .   .   .   .   .
    y/c  X   X   X   .   .   .   .   .   .
    z/a  .   .   .   .   .   .   .   .   .
    z/b  .   .   .   .   .   .   .   .   .
    z/c  .   .   .   .   .   .   .   .   .
  )"));
  // On another port the admin rule does not match: the NetworkPolicy's default deny holds.
  EXPECT_TRUE(reachability(c.ir(), {kTcp81}, kIntoXBlocked));
}

TEST(EvaluatorTiers, APassLeavesTheFlowToTheNetworkPoliciesAndThenTheBaseline) {
  Cluster c(R"(
    namespace x
    policy only-from-y { selects { pod = a } ingress { allow from namespaces { ns = y } } }
    policy y-is-theirs {
      clusterwide
      tier admin priority 1
      selects {} in namespace x
      ingress { pass from namespaces { ns = y } }
    }
    policy nobody-else {
      clusterwide
      tier admin priority 2
      selects {} in namespace x
      ingress { deny from all }
    }
  )");
  ASSERT_TRUE(c.ok());
  // y passes the admin tier: x/a's NetworkPolicy allows it, and nothing
  // isolates x/b and x/c, so the (empty) baseline lets it in. Everyone else
  // meets the second admin policy's deny.
  EXPECT_TRUE(reachability(c.ir(), kAllPorts, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   X   X   .   .   .   .   .   .
    x/b  X   X   X   .   .   .   .   .   .
    x/c  X   X   X   .   .   .   .   .   .
    y/a  .   .   .   .   .   .   .   .   .
    y/b  .   .   .   .   .   .   .   .   .
    y/c  .   .   .   .   .   .   .   .   .
    z/a  X   X   X   .   .   .   .   .   .
    z/b  X   X   X   .   .   .   .   .   .
    z/c  X   X   X   .   .   .   .   .   .
  )"));
  Verdict passed = *flow(c.ir(), "y/a", "x/a", kTcp80).ingress;
  EXPECT_EQ(passed.rule, c.rule("allow from namespaces { ns = y }"));
  Verdict open = *flow(c.ir(), "y/a", "x/b", kTcp80).ingress;
  EXPECT_EQ(open.reason, Reason::NoPolicy);
}

TEST(EvaluatorTiers, TheLowerPriorityNumberDecidesFirst) {
  auto policies = [](int allowPriority, int denyPriority) {
    return "policy allow-y { clusterwide tier admin priority " + std::to_string(allowPriority) +
           " selects {} in namespace x ingress { allow from namespaces { ns = y } } }\n"
           "policy deny-y { clusterwide tier admin priority " +
           std::to_string(denyPriority) + " selects {} in namespace x ingress { deny from namespaces { ns = y } } }\n";
  };
  Cluster allowFirst(policies(5, 10));
  ASSERT_TRUE(allowFirst.ok());
  EXPECT_TRUE(flow(allowFirst.ir(), "y/a", "x/a", kTcp80).allowed());
  Cluster denyFirst(policies(10, 5));
  ASSERT_TRUE(denyFirst.ok());
  EXPECT_FALSE(flow(denyFirst.ir(), "y/a", "x/a", kTcp80).allowed());
  // Within one policy the first rule that matches decides, allow or deny.
  Cluster ordered(R"(
    policy first-match { clusterwide tier admin priority 3 selects {} in namespace x
      ingress { allow from pods { pod = a } in namespace y
                deny from namespaces { ns = y } } }
  )");
  ASSERT_TRUE(ordered.ok());
  EXPECT_TRUE(flow(ordered.ir(), "y/a", "x/a", kTcp80).allowed());
  EXPECT_FALSE(flow(ordered.ir(), "y/b", "x/a", kTcp80).allowed());
}

TEST(EvaluatorTiers, TheBaselineDecidesOnlyWhereNoNetworkPolicyIsolates) {
  Cluster c(R"(
    namespace z
    policy z-takes-y { selects {} ingress { allow from namespaces { ns = y } } }
    policy default {
      clusterwide
      tier baseline
      selects {}
      ingress { allow from namespaces { ns = x } on tcp/81
                deny from namespaces { ns = y }
                deny from namespaces { ns = x } }
    }
  )");
  ASSERT_TRUE(c.ok());
  // Into x and y the baseline decides: y and x are refused (x on tcp/80;
  // its first rule lets tcp/81 through). z's NetworkPolicy isolates z, so
  // the baseline has no say there: only y gets in.
  EXPECT_TRUE(reachability(c.ir(), {kTcp80}, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   X   X   X   X   X   X   X   X
    x/b  X   X   X   X   X   X   X   X   X
    x/c  X   X   X   X   X   X   X   X   X
    y/a  X   X   X   X   X   X   .   .   .
    y/b  X   X   X   X   X   X   .   .   .
    y/c  X   X   X   X   X   X   .   .   .
    z/a  .   .   .   .   .   .   X   X   X
    z/b  .   .   .   .   .   .   X   X   X
    z/c  .   .   .   .   .   .   X   X   X
  )"));
  EXPECT_TRUE(flow(c.ir(), "x/a", "y/a", kTcp81).allowed());
  Verdict baseline = *flow(c.ir(), "y/a", "x/a", kTcp80).ingress;
  EXPECT_EQ(baseline.reason, Reason::DeniedByRule);
  EXPECT_EQ(baseline.rule, c.rule("deny from namespaces { ns = y }"));
}

TEST(EvaluatorTiers, SubjectNamespacesNarrowWhomATierPolicySelects) {
  Cluster c(R"(
    policy lock-x {
      clusterwide
      tier admin priority 0
      selects { pod = a } in namespaces { ns in (x, z) }
      ingress { deny from all }
    }
  )");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reachability(c.ir(), {kTcp80, kUdp81}, R"(
        x/a x/b x/c y/a y/b y/c z/a z/b z/c
    x/a  X   .   .   .   .   .   X   .   .
    x/b  X   .   .   .   .   .   X   .   .
    x/c  X   .   .   .   .   .   X   .   .
    y/a  X   .   .   .   .   .   X   .   .
    y/b  X   .   .   .   .   .   X   .   .
    y/c  X   .   .   .   .   .   X   .   .
    z/a  X   .   .   .   .   .   X   .   .
    z/b  X   .   .   .   .   .   X   .   .
    z/c  X   .   .   .   .   .   X   .   .
  )"));
}

}  // namespace
}  // namespace membrane::ir
