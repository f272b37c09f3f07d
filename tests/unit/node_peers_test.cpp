// Nodes as peers (lowering::resolveNodePeers, docs/language.md "Node
// peers"): `nodes { labels }` stands for the addresses of the inventory's
// nodes whose labels match, as one-address CIDRs, in either direction and in
// every kind of policy; a peer that matches no node warns, since it can
// only ever match nothing.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "evaluator/evaluator.h"
#include "format/formatter.h"
#include "frontend/parser.h"
#include "frontend_test_support.h"
#include "inventory/inventory.h"
#include "lower/lower.h"
#include "pipeline/pipeline.h"
#include "sema/sema.h"

namespace membrane {
namespace {

using namespace membrane::testing;
using ir::Traffic;

// Two pods in shop; a control-plane node and two workers, worker-2 and the
// control plane dual-stack.
const char* kInventory = R"({
  "namespaces": [{"name": "shop"}],
  "endpoints": [
    {"name": "api-0", "namespace": "shop", "labels": {"app": "api"}, "addresses": ["198.18.1.10", "2001:2::1:10"]},
    {"name": "web-0", "namespace": "shop", "labels": {"app": "web"}, "addresses": ["198.18.1.20"]}
  ],
  "nodes": [
    {"name": "cp-1", "labels": {"node-role.kubernetes.io/control-plane": "", "zone": "a"},
     "addresses": ["198.18.200.1", "2001:2::c8:1"]},
    {"name": "worker-1", "labels": {"role": "worker", "zone": "a"}, "addresses": ["198.18.200.11"]},
    {"name": "worker-2", "labels": {"role": "worker", "zone": "b"}, "addresses": ["198.18.200.12", "2001:2::c8:12"]}
  ]
})";

// `policy` compiled with kInventory (or `inventory`), as `membranec check
// -i inventory.json` does.
std::unique_ptr<pipeline::Compilation> compileWith(const std::string& policy,
                                                   const std::string& inventory = kInventory) {
  auto c = std::make_unique<pipeline::Compilation>();
  std::string error;
  EXPECT_TRUE(inventory::loadInventoryText("inventory.json", inventory, c->inventory, &error)) << error;
  pipeline::runText({{"a.policy", policy}}, *c);
  return c;
}

// The peers of the only rule of the only policy, as their text.
std::vector<std::string> peersOfTheRule(const pipeline::Compilation& c) {
  std::vector<std::string> out;
  if (!c.checked) return out;
  for (const auto& spec : c.checked->policies.at(0).rules.at(0).peers)
    out.push_back(spec.kind == sema::PeerSpec::Kind::Cidr ? "cidr " + spec.cidr.prefix.str() : "not a cidr");
  return out;
}

// The endpoint shop/NAME, from its address of `family` (4 or 6).
ir::FlowEnd pod(const pipeline::Compilation& c, const std::string& name, int family = 4) {
  const ir::Endpoint* e = c.ir->findEndpoint("shop", name);
  if (!e) throw std::runtime_error("no endpoint shop/" + name);
  for (const auto& a : e->addresses)
    if ((a.bits() == 32) == (family == 4)) return {e, a, false};
  throw std::runtime_error("shop/" + name + " has no address of that family");
}

ir::FlowEnd outside(const char* address) { return {nullptr, *net::Address::parse(address), false}; }

bool allowed(const pipeline::Compilation& c, const ir::FlowEnd& src, const ir::FlowEnd& dst, Traffic t) {
  return ir::evaluateFlow(*c.ir, src, dst, t).allowed();
}

const Traffic kTcp6443{ir::kTCP, 6443}, kTcp10250{ir::kTCP, 10250}, kTcp80{ir::kTCP, 80};

std::string egressTo(const std::string& peers, const std::string& before = "") {
  return before + "namespace shop\npolicy api {\n  selects { app = api }\n  egress {\n    allow to " + peers +
         " on tcp/6443\n  }\n}\n";
}

TEST(NodePeers, ANodesPeerBecomesTheAddressesOfItsNodesIPv4AndIPv6) {
  auto c = compileWith(egressTo("nodes { node-role.kubernetes.io/control-plane }"));
  ASSERT_EQ(c->outcome(), pipeline::Outcome::Ok) << rendered(*c);
  EXPECT_TRUE(c->diags.all().empty()) << rendered(*c);
  EXPECT_EQ(peersOfTheRule(*c), (std::vector<std::string>{"cidr 198.18.200.1/32", "cidr 2001:2::c8:1/128"}));
  // Each CIDR keeps the peer's place, for findings and the manifest's rule text.
  const auto& peer = c->checked->policies[0].rules[0].peers[0];
  EXPECT_EQ(c->sources.slice(peer.range), "nodes { node-role.kubernetes.io/control-plane }");
  EXPECT_TRUE(allowed(*c, pod(*c, "api-0"), outside("198.18.200.1"), kTcp6443));
  EXPECT_TRUE(allowed(*c, pod(*c, "api-0", 6), outside("2001:2::c8:1"), kTcp6443));
  EXPECT_FALSE(allowed(*c, pod(*c, "api-0"), outside("198.18.200.1"), kTcp80));
  EXPECT_FALSE(allowed(*c, pod(*c, "api-0"), outside("198.18.200.11"), kTcp6443));  // a worker
  EXPECT_FALSE(allowed(*c, pod(*c, "api-0", 6), outside("2001:2::c8:12"), kTcp6443));
}

TEST(NodePeers, LabelsSelectAmongTheNodes) {
  auto workers = compileWith(egressTo("nodes { role = worker }"));
  ASSERT_EQ(workers->outcome(), pipeline::Outcome::Ok) << rendered(*workers);
  EXPECT_EQ(peersOfTheRule(*workers), (std::vector<std::string>{"cidr 198.18.200.11/32", "cidr 198.18.200.12/32",
                                                                 "cidr 2001:2::c8:12/128"}));
  auto zoneA = compileWith(egressTo("nodes { zone = a, !role }"));
  ASSERT_EQ(zoneA->outcome(), pipeline::Outcome::Ok) << rendered(*zoneA);
  EXPECT_EQ(peersOfTheRule(*zoneA), (std::vector<std::string>{"cidr 198.18.200.1/32", "cidr 2001:2::c8:1/128"}));
  // `nodes {}` is every node; beside other peers, each keeps its place.
  auto all = compileWith(egressTo("cidr 198.19.0.0/16, nodes {}"));
  ASSERT_EQ(all->outcome(), pipeline::Outcome::Ok) << rendered(*all);
  EXPECT_EQ(peersOfTheRule(*all).size(), 6u);
  EXPECT_EQ(peersOfTheRule(*all).front(), "cidr 198.19.0.0/16");
  EXPECT_TRUE(allowed(*all, pod(*all, "api-0"), outside("198.18.200.12"), kTcp6443));
  EXPECT_TRUE(allowed(*all, pod(*all, "api-0"), outside("198.19.3.4"), kTcp6443));
  EXPECT_FALSE(allowed(*all, pod(*all, "api-0"), outside("198.18.200.13"), kTcp6443));
}

TEST(NodePeers, ASelectorDefinitionCanNameTheNodes) {
  auto c = compileWith(egressTo("nodes workers", "selector workers = { role = worker, zone = b }\n"));
  ASSERT_EQ(c->outcome(), pipeline::Outcome::Ok) << rendered(*c);
  EXPECT_EQ(peersOfTheRule(*c), (std::vector<std::string>{"cidr 198.18.200.12/32", "cidr 2001:2::c8:12/128"}));
}

TEST(NodePeers, APeerMatchingNoNodeWarnsThatItMatchesNothing) {
  auto c = compileWith(egressTo("nodes { role = gpu }"));
  ASSERT_EQ(c->outcome(), pipeline::Outcome::Ok) << rendered(*c);
  EXPECT_EQ(diagnostics(*c),
            (Lines{"a.policy:5:14: warning: no node of the inventory matches this peer: it matches nothing | hint: a "
                   "nodes peer stands for the addresses of the cluster's nodes: give the Node manifests (`kubectl "
                   "get nodes -o yaml`) or an inventory file's `nodes` list (docs/inventory.md)"}));
  EXPECT_TRUE(peersOfTheRule(*c).empty());
  EXPECT_FALSE(allowed(*c, pod(*c, "api-0"), outside("198.18.200.11"), kTcp6443));
  // Without any node in the inventory, every nodes peer warns so.
  auto none = compileWith(egressTo("nodes {}"), R"({"endpoints": [{"name": "api-0", "namespace": "shop",
      "labels": {"app": "api"}, "addresses": ["198.18.1.10"]}]})");
  ASSERT_EQ(none->outcome(), pipeline::Outcome::Ok) << rendered(*none);
  ASSERT_EQ(none->diags.all().size(), 1u) << rendered(*none);
  EXPECT_EQ(none->diags.all()[0].message, "no node of the inventory matches this peer: it matches nothing");
}

TEST(NodePeers, NodesWithoutAddressesWarnToo) {
  auto c = compileWith(egressTo("nodes { role = worker }"), R"({"nodes": [{"name": "w", "labels": {"role": "worker"}}],
      "endpoints": [{"name": "api-0", "namespace": "shop", "labels": {"app": "api"}, "addresses": ["198.18.1.10"]}]})");
  ASSERT_EQ(c->outcome(), pipeline::Outcome::Ok) << rendered(*c);
  ASSERT_EQ(c->diags.all().size(), 1u) << rendered(*c);
  EXPECT_EQ(c->diags.all()[0].message,
            "the nodes this peer matches have no addresses in the inventory: it matches nothing");
}

TEST(NodePeers, IngressFromNodesMatchesTheirAddressesAsSources) {
  auto c = compileWith(
      "namespace shop\npolicy api {\n  selects { app = api }\n  ingress {\n    allow from nodes { role = worker } "
      "on tcp/10250\n  }\n}\n");
  ASSERT_EQ(c->outcome(), pipeline::Outcome::Ok) << rendered(*c);
  EXPECT_TRUE(allowed(*c, outside("198.18.200.11"), pod(*c, "api-0"), kTcp10250));
  EXPECT_TRUE(allowed(*c, outside("2001:2::c8:12"), pod(*c, "api-0", 6), kTcp10250));
  EXPECT_FALSE(allowed(*c, outside("198.18.200.1"), pod(*c, "api-0"), kTcp10250));  // the control plane
  EXPECT_FALSE(allowed(*c, pod(*c, "web-0"), pod(*c, "api-0"), kTcp10250));
}

TEST(NodePeers, InATierPolicyTheNodesAreDecidedByTheTier) {
  // The admin tier denies the workers to shop, whatever the ordinary
  // policy allows; the baseline allows the control plane to web-0, which
  // no ordinary policy selects.
  auto c = compileWith(R"(policy no-workers {
  clusterwide
  tier admin priority 5
  selects {} in namespace shop
  egress {
    deny to nodes { role = worker }
  }
}
policy control-plane {
  clusterwide
  tier baseline
  selects {} in namespace shop
  egress {
    allow to nodes { node-role.kubernetes.io/control-plane }
    deny to all
  }
}
namespace shop
policy api {
  selects { app = api }
  egress {
    allow to all
  }
}
)");
  ASSERT_EQ(c->outcome(), pipeline::Outcome::Ok) << rendered(*c);
  EXPECT_FALSE(allowed(*c, pod(*c, "api-0"), outside("198.18.200.11"), kTcp6443));
  EXPECT_FALSE(allowed(*c, pod(*c, "api-0", 6), outside("2001:2::c8:12"), kTcp6443));
  EXPECT_TRUE(allowed(*c, pod(*c, "api-0"), outside("198.18.200.1"), kTcp6443));  // the ordinary policy
  EXPECT_TRUE(allowed(*c, pod(*c, "api-0"), outside("198.19.1.1"), kTcp6443));
  EXPECT_TRUE(allowed(*c, pod(*c, "web-0"), outside("198.18.200.1"), kTcp6443));  // the baseline
  EXPECT_FALSE(allowed(*c, pod(*c, "web-0"), outside("198.18.200.11"), kTcp6443));  // the admin tier
  EXPECT_FALSE(allowed(*c, pod(*c, "web-0"), outside("198.19.1.1"), kTcp6443));     // the baseline
}

TEST(NodePeers, APeersDefinitionMayHoldNodes) {
  auto c = compileWith(egressTo("infra", "peers infra = nodes { zone = b }, cidr 198.19.0.0/16\n"));
  ASSERT_EQ(c->outcome(), pipeline::Outcome::Ok) << rendered(*c);
  EXPECT_EQ(peersOfTheRule(*c), (std::vector<std::string>{"cidr 198.18.200.12/32", "cidr 2001:2::c8:12/128",
                                                           "cidr 198.19.0.0/16"}));
}

TEST(NodePeers, TheSelectorIsCheckedLikeEveryOther) {
  auto c = compile(egressTo("nodes { \"bad key\" = x }"));
  EXPECT_EQ(c->outcome(), pipeline::Outcome::PolicyErrors);
  ASSERT_FALSE(c->diags.all().empty());
  EXPECT_NE(c->diags.all()[0].message.find("invalid label key 'bad key'"), std::string::npos) << rendered(*c);
}

TEST(NodePeers, LoweringRefusesANodesPeerThatWasNotResolved) {
  // The pipeline resolves nodes peers first; lowering one directly is a bug
  // that must not compile into a rule matching nothing.
  SourceManager sources;
  DiagnosticEngine diags(sources);
  FileId id = sources.add("a.policy", egressTo("nodes {}"));
  auto file = frontend::parseFile(id, sources, diags);
  ASSERT_TRUE(file);
  ast::Program program;
  program.files.push_back(std::move(*file));
  auto checked = sema::check(program, sources, diags);
  ASSERT_TRUE(checked);
  ASSERT_EQ(checked->policies[0].rules[0].peers[0].kind, sema::PeerSpec::Kind::Nodes);
  inventory::Inventory inv;
  EXPECT_THROW(lowering::lower(*checked, inv, sources, diags), std::logic_error);
}

TEST(NodePeers, FmtLaysOutTheNodesPeerLikeTheOtherPeers) {
  std::string errors;
  auto out = format::formatPolicy(
      "policy p{selects{}\negress{allow to nodes{role=worker,zone in(a,b)},nodes   workers on tcp/6443}}\n", &errors);
  ASSERT_TRUE(out) << errors;
  EXPECT_EQ(*out,
            "policy p {\n"
            "  selects {}\n"
            "  egress {\n"
            "    allow to nodes { role = worker, zone in (a, b) }, nodes workers on tcp/6443\n"
            "  }\n"
            "}\n");
  EXPECT_EQ(format::formatPolicy(*out), *out);
}

}  // namespace
}  // namespace membrane
