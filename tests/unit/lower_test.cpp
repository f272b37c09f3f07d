// Lowering checked policies and an inventory to the policy IR: the selector
// table, identities, endpoint classes and the normalized rule lists that
// every later stage reads.
#include "lower/lower.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "abi/datapath.h"
#include "pipeline/pipeline.h"
#include "evaluator/evaluator.h"
#include "features/l4/l4.h"
#include "ir_print/ir_json.h"

namespace membrane::ir {
namespace {

using nlohmann::json;

// An endpoint for an inventory: namespace/name, labels, addresses, named ports.
json endpoint(const std::string& ns, const std::string& name, json labels, const std::string& v4 = "",
              json ports = json::array()) {
  json e = {{"name", name}, {"namespace", ns}, {"labels", std::move(labels)}, {"ports", std::move(ports)}};
  e["addresses"] = json::array();
  if (!v4.empty()) e["addresses"].push_back(v4);
  return e;
}

json namedPort(const std::string& name, int port, const std::string& protocol = "TCP") {
  return {{"name", name}, {"port", port}, {"protocol", protocol}};
}

json inventoryOf(json endpoints) {
  json inv = {{"namespaces", json::array()}, {"endpoints", std::move(endpoints)}};
  for (const char* ns : {"w", "x", "y", "z"}) inv["namespaces"].push_back({{"name", ns}, {"labels", {{"ns", ns}}}});
  return inv;
}

// x/a, x/b, x/c and y/a, labelled pod=<name>.
json smallInventory() {
  return inventoryOf(json::array({endpoint("x", "a", {{"pod", "a"}}, "198.18.1.1"),
                                  endpoint("x", "b", {{"pod", "b"}}, "198.18.1.2"),
                                  endpoint("x", "c", {{"pod", "c"}}, "198.18.1.3"),
                                  endpoint("y", "a", {{"pod", "a"}}, "198.18.2.1")}));
}

class Compiled {
 public:
  explicit Compiled(const std::string& policy, const json& inv = smallInventory())
      : Compiled(std::vector<std::pair<std::string, std::string>>{{"t.policy", policy}}, inv) {}
  Compiled(const std::vector<std::pair<std::string, std::string>>& files, const json& inv) {
    c_ = std::make_unique<pipeline::Compilation>();
    if (!inv.is_null() &&
        !inventory::loadInventoryText("inventory.json", inv.dump(), c_->inventory, &inventoryError_))
      return;
    pipeline::runText(files, *c_);
  }

  testing::AssertionResult ok() const {
    if (!inventoryError_.empty()) return testing::AssertionFailure() << "inventory: " << inventoryError_;
    if (c_->diags.hasErrors() || !c_->ir) return testing::AssertionFailure() << "did not compile:\n" << diagnostics();
    return testing::AssertionSuccess();
  }
  std::string diagnostics() const {
    std::ostringstream out;
    c_->diags.print(out, false);
    return out.str();
  }

  const Program& ir() const { return *c_->ir; }
  pipeline::Compilation& compilation() { return *c_; }
  const DiagnosticEngine& diags() const { return c_->diags; }

  uint32_t rule(std::string_view text) const {
    for (const auto& [id, info] : ir().rules)
      if (info.text == text) return id;
    ADD_FAILURE() << "no rule `" << text << "`\n" << toText(ir());
    return 0;
  }

  const EndpointClass* classOf(const std::string& ns, const std::string& name) const {
    const Endpoint* e = ir().findEndpoint(ns, name);
    if (!e) {
      ADD_FAILURE() << "no endpoint " << ns << "/" << name;
      return nullptr;
    }
    return e->classIndex ? &ir().classes.at(*e->classIndex) : nullptr;
  }

 private:
  std::unique_ptr<pipeline::Compilation> c_;
  std::string inventoryError_;
};

const Rule* findRule(const DirectionPolicy& d, uint32_t id) {
  for (const auto& r : d.rules)
    if (r.id == id) return &r;
  return nullptr;
}

std::vector<uint32_t> ruleIds(const DirectionPolicy& d) {
  std::vector<uint32_t> out;
  for (const auto& r : d.rules) out.push_back(r.id);
  return out;
}

labels::Selector selector(std::vector<labels::Requirement> reqs) {
  labels::Selector s{std::move(reqs)};
  s.canonicalize();
  return s;
}

std::string str(const std::vector<L4Match>& l4) {
  json j = json::array();
  for (const auto& m : l4) j.push_back(features::l4::toJson(m));
  return j.dump();
}

// ---- the selector table ----------------------------------------------------------------

TEST(LowerSelectors, SameSelectorIsOneBitAcrossPoliciesAndSpellings) {
  Compiled c(R"(
    namespace x
    policy one { selects {pod = a} ingress { allow from pods {pod = b} } }
    policy two {
      selects {pod = c}
      ingress {
        allow from pods {pod in (b)}
        allow from pods {pod == b} in namespace x
      }
      egress { allow to pods {pod = b} }
    }
    policy three { namespace y selects {} ingress { allow from pods {pod = b} } }
  )");
  ASSERT_TRUE(c.ok());
  const Program& p = c.ir();
  ASSERT_EQ(p.selectors.size(), 2u) << toText(p);
  for (uint32_t i = 0; i < p.selectors.size(); ++i) EXPECT_EQ(p.selectors[i].bit, i);
  // Policies are lowered in key order: x/one, x/two, y/three.
  EXPECT_EQ(p.selectors[0].pods, selector({{"pod", labels::Op::Equals, {"b"}}}));
  EXPECT_EQ(p.selectors[0].scope, NamespaceScope::Exact);
  EXPECT_EQ(p.selectors[0].ns, "x");
  EXPECT_EQ(p.selectors[1].pods, p.selectors[0].pods);
  EXPECT_EQ(p.selectors[1].ns, "y") << "the policy's namespace is part of the selector";

  for (const char* text : {"allow from pods {pod = b}", "allow from pods {pod in (b)}",
                           "allow from pods {pod == b} in namespace x", "allow to pods {pod = b}"}) {
    SCOPED_TRACE(text);
    uint32_t id = c.rule(text);
    const Rule* r = nullptr;
    for (const auto& cls : p.classes)
      for (const auto* d : {&cls.ingress, &cls.egress})
        if (!r) r = findRule(*d, id);
    ASSERT_NE(r, nullptr);
    uint32_t want = p.rules.at(id).policy == "y/three" ? 1u : 0u;
    EXPECT_EQ(r->peer.selectorBits, std::vector<uint32_t>{want});
  }
}

TEST(LowerSelectors, NamespaceScopes) {
  Compiled c(R"(
    namespace x
    policy p {
      selects {}
      ingress {
        allow from pods {} in namespaces {}
        allow from namespaces {}
        allow from namespace y
        allow from pods {} in namespace y
        allow from namespaces {ns = y}
        allow from pods {pod = a, ns in (y, z)} in namespaces {ns in (z, y)}
        allow from pods {ns in (y, z), pod = a} in namespaces {ns in (y, z)}
      }
    }
    policy cw { clusterwide selects {} ingress { allow from pods {} } }
  )");
  ASSERT_TRUE(c.ok());
  const Program& p = c.ir();
  // Policies in key order: "cw" < "x/p".
  ASSERT_EQ(p.selectors.size(), 4u) << toText(p);
  EXPECT_EQ(p.selectors[0].scope, NamespaceScope::Any) << "a clusterwide policy's pods look everywhere";
  EXPECT_TRUE(p.selectors[0].pods.empty());
  EXPECT_EQ(p.selectors[0].ns, "");
  EXPECT_EQ(p.selectors[1].scope, NamespaceScope::Exact);
  EXPECT_EQ(p.selectors[1].ns, "y");
  EXPECT_EQ(p.selectors[2].scope, NamespaceScope::Selector);
  EXPECT_EQ(p.selectors[2].namespaces, selector({{"ns", labels::Op::Equals, {"y"}}}));
  EXPECT_EQ(p.selectors[2].ns, "");
  EXPECT_EQ(p.selectors[3].scope, NamespaceScope::Selector);
  EXPECT_EQ(p.selectors[3].namespaces, selector({{"ns", labels::Op::In, {"y", "z"}}}));
  EXPECT_EQ(p.selectors[3].str(), "pods {ns in (y, z), pod = a} in namespaces {ns in (y, z)}");

  auto bitsOf = [&](std::string_view text) {
    const Rule* r = findRule(c.classOf("x", "a")->ingress, c.rule(text));
    return r ? r->peer.selectorBits : std::vector<uint32_t>{UINT32_MAX};
  };
  EXPECT_EQ(bitsOf("allow from pods {} in namespaces {}"), std::vector<uint32_t>{0});
  EXPECT_EQ(bitsOf("allow from namespaces {}"), std::vector<uint32_t>{0});
  EXPECT_EQ(bitsOf("allow from namespace y"), std::vector<uint32_t>{1});
  EXPECT_EQ(bitsOf("allow from pods {} in namespace y"), std::vector<uint32_t>{1});
  EXPECT_EQ(bitsOf("allow from namespaces {ns = y}"), std::vector<uint32_t>{2});
}

TEST(LowerSelectors, OneRuleWithSeveralPeers) {
  Compiled c(R"(
    namespace x
    policy p {
      selects {}
      egress {
        allow to pods {pod = c}, pods {pod = a}, pods {pod in (a)}, world, host,
                 cidr 198.19.0.0/16, cidr 198.18.0.0/16, cidr 198.19.0.0/16
      }
    }
  )");
  ASSERT_TRUE(c.ok());
  const Program& p = c.ir();
  ASSERT_EQ(p.selectors.size(), 2u);
  ASSERT_EQ(p.classes.size(), 1u);
  ASSERT_EQ(p.classes[0].egress.rules.size(), 1u);
  const PeerMatch& m = p.classes[0].egress.rules[0].peer;
  EXPECT_EQ(m.selectorBits, (std::vector<uint32_t>{0, 1}));
  EXPECT_TRUE(m.world);
  EXPECT_TRUE(m.host);
  EXPECT_FALSE(m.cluster);
  EXPECT_FALSE(m.all);
  ASSERT_EQ(m.cidrs.size(), 2u) << "sorted, duplicates dropped";
  EXPECT_EQ(m.cidrs[0].prefix.str(), "198.18.0.0/16");
  EXPECT_EQ(m.cidrs[1].prefix.str(), "198.19.0.0/16");
}

// ---- identities ------------------------------------------------------------------------------

TEST(LowerIdentities, SharedByEqualNamespaceAndLabels) {
  json inv = inventoryOf(json::array({
      endpoint("x", "a-1", {{"pod", "a"}}, "198.18.1.1"),
      endpoint("x", "a-2", {{"pod", "a"}}, "198.18.1.2"),
      endpoint("x", "b", {{"pod", "b"}}, "198.18.1.3"),
      endpoint("y", "a", {{"pod", "a"}}, "198.18.2.1"),
      endpoint("y", "bare", json::object(), "198.18.2.2"),
      endpoint("y", "bare-2", json::object(), "198.18.2.3"),
  }));
  Compiled c(R"(
    namespace x
    policy p {
      selects {}
      ingress {
        allow from pods {pod = a}
        allow from namespaces {ns = y}
        allow from pods {} in namespaces {}
      }
    }
  )",
             inv);
  ASSERT_TRUE(c.ok());
  const Program& p = c.ir();
  ASSERT_EQ(p.selectors.size(), 3u);
  ASSERT_EQ(p.identities.size(), 4u) << toText(p);
  // Numbered from 256, in (namespace, labels) order.
  for (uint32_t i = 0; i < p.identities.size(); ++i) EXPECT_EQ(p.identities[i].id, 256 + i);
  const auto& xa = p.identities[0];
  EXPECT_EQ(xa.ns, "x");
  EXPECT_EQ(xa.labels, (labels::LabelSet{{"pod", "a"}}));
  EXPECT_EQ(xa.namespaceLabels, (labels::LabelSet{{"kubernetes.io/metadata.name", "x"}, {"ns", "x"}}));
  EXPECT_EQ(xa.selectorBits, (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ(p.identities[1].labels, (labels::LabelSet{{"pod", "b"}}));
  EXPECT_EQ(p.identities[1].selectorBits, (std::vector<uint32_t>{2}));
  EXPECT_EQ(p.identities[2].ns, "y");
  EXPECT_TRUE(p.identities[2].labels.empty());
  EXPECT_EQ(p.identities[2].selectorBits, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(p.identities[3].labels, (labels::LabelSet{{"pod", "a"}}));
  EXPECT_EQ(p.identities[3].selectorBits, (std::vector<uint32_t>{1, 2})) << "pod=a in y is not pods {pod = a} of x";

  auto identityOf = [&](const char* ns, const char* name) { return p.findEndpoint(ns, name)->identity; };
  EXPECT_EQ(identityOf("x", "a-1"), 256u);
  EXPECT_EQ(identityOf("x", "a-2"), 256u);
  EXPECT_EQ(identityOf("x", "b"), 257u);
  EXPECT_EQ(identityOf("y", "bare"), 258u);
  EXPECT_EQ(identityOf("y", "bare-2"), 258u);
  EXPECT_EQ(identityOf("y", "a"), 259u);
  ASSERT_NE(p.identity(259), nullptr);
  EXPECT_EQ(p.identity(259)->ns, "y");
  EXPECT_EQ(p.identity(255), nullptr);
  EXPECT_EQ(p.identity(260), nullptr);

  // Endpoints keep their data, sorted by (namespace, name).
  ASSERT_EQ(p.endpoints.size(), 6u);
  EXPECT_EQ(p.endpoints[0].key(), "x/a-1");
  EXPECT_EQ(p.endpoints[5].key(), "y/bare-2");
  EXPECT_EQ(p.endpoints[0].workload, "a-1");
  ASSERT_EQ(p.endpoints[0].addresses.size(), 1u);
  EXPECT_EQ(p.endpoints[0].addresses[0].str(), "198.18.1.1");
  EXPECT_EQ(p.endpointByAddress(*net::Address::parse("198.18.2.3")), p.findEndpoint("y", "bare-2"));
  EXPECT_EQ(p.endpointByAddress(*net::Address::parse("198.19.2.3")), nullptr);
}

TEST(LowerIdentities, NoPoliciesNoBits) {
  Compiled c("");
  ASSERT_TRUE(c.ok());
  const Program& p = c.ir();
  EXPECT_TRUE(p.selectors.empty());
  EXPECT_TRUE(p.classes.empty());
  EXPECT_TRUE(p.rules.empty());
  ASSERT_EQ(p.identities.size(), 4u) << "one per (namespace, labels)";
  ASSERT_EQ(p.endpoints.size(), 4u);
  for (const auto& i : p.identities) EXPECT_TRUE(i.selectorBits.empty());
  for (const auto& e : p.endpoints) EXPECT_FALSE(e.classIndex) << e.key();
}

TEST(LowerIdentities, WithoutInventory) {
  Compiled c("namespace x\npolicy p { selects {} ingress { allow from pods {pod = a} } }", json());
  ASSERT_TRUE(c.ok());
  const Program& p = c.ir();
  EXPECT_EQ(p.selectors.size(), 1u);
  EXPECT_TRUE(p.identities.empty());
  EXPECT_TRUE(p.endpoints.empty());
  EXPECT_TRUE(p.classes.empty());
  EXPECT_EQ(p.rules.size(), 1u);
}

// ---- endpoint classes ------------------------------------------------------------------------

TEST(LowerClasses, EndpointsSelectedBySamePoliciesShareAClass) {
  json inv = inventoryOf(json::array({
      endpoint("x", "a", {{"pod", "a"}}, "198.18.1.1"),
      endpoint("x", "a-2", {{"pod", "a"}, {"extra", "1"}}, "198.18.1.4"),
      endpoint("x", "b", {{"pod", "b"}}, "198.18.1.2"),
      endpoint("x", "c", {{"pod", "c"}}, "198.18.1.3"),
      endpoint("y", "a", {{"pod", "a"}}, "198.18.2.1"),
      endpoint("z", "a", {{"pod", "a"}}, "198.18.3.1"),
  }));
  Compiled c(R"(
    namespace x
    policy every { selects {} ingress {} }
    policy only-a { selects {pod = a} egress {} }
    policy cw { clusterwide selects {pod = a} ingress { allow from pods {pod = b} } }
    policy ya { namespace y selects {pod = a} ingress {} }
  )",
             inv);
  ASSERT_TRUE(c.ok());
  const Program& p = c.ir();
  ASSERT_EQ(p.classes.size(), 4u) << toText(p);
  for (uint32_t i = 0; i < p.classes.size(); ++i) EXPECT_EQ(p.classes[i].id, i);

  const EndpointClass* xa = c.classOf("x", "a");
  ASSERT_NE(xa, nullptr);
  EXPECT_EQ(c.classOf("x", "a-2"), xa) << "different labels, same selecting policies";
  EXPECT_EQ(xa->policies, (std::vector<std::string>{"cw", "x/every", "x/only-a"}));
  EXPECT_EQ(xa->endpoints, (std::vector<std::string>{"x/a", "x/a-2"}));
  EXPECT_TRUE(xa->ingress.enforced);
  EXPECT_TRUE(xa->egress.enforced);

  const EndpointClass* xb = c.classOf("x", "b");
  ASSERT_NE(xb, nullptr);
  EXPECT_NE(xb, xa);
  EXPECT_EQ(c.classOf("x", "c"), xb);
  EXPECT_EQ(xb->policies, (std::vector<std::string>{"x/every"}));
  EXPECT_EQ(xb->endpoints, (std::vector<std::string>{"x/b", "x/c"}));
  EXPECT_TRUE(xb->ingress.enforced);
  EXPECT_FALSE(xb->egress.enforced);
  EXPECT_TRUE(xb->ingress.rules.empty());

  const EndpointClass* ya = c.classOf("y", "a");
  ASSERT_NE(ya, nullptr);
  EXPECT_EQ(ya->policies, (std::vector<std::string>{"cw", "y/ya"}));
  const EndpointClass* za = c.classOf("z", "a");
  ASSERT_NE(za, nullptr);
  EXPECT_EQ(za->policies, (std::vector<std::string>{"cw"}));
  EXPECT_EQ(za->ingress.rules.size(), 1u);
  EXPECT_FALSE(za->egress.enforced);

  // Every endpoint of a class points back at it.
  for (const auto& cls : p.classes)
    for (const auto& key : cls.endpoints) {
      auto slash = key.find('/');
      const Endpoint* e = p.findEndpoint(key.substr(0, slash), key.substr(slash + 1));
      ASSERT_NE(e, nullptr) << key;
      EXPECT_EQ(e->classIndex, cls.id) << key;
    }
}

TEST(LowerClasses, UnselectedEndpointsHaveNoClass) {
  Compiled c("namespace x\npolicy p { selects {pod = a} ingress {} }");
  ASSERT_TRUE(c.ok());
  const Program& p = c.ir();
  ASSERT_EQ(p.classes.size(), 1u);
  EXPECT_EQ(p.classes[0].endpoints, std::vector<std::string>{"x/a"});
  EXPECT_EQ(c.classOf("x", "b"), nullptr);
  EXPECT_EQ(c.classOf("x", "c"), nullptr);
  EXPECT_EQ(c.classOf("y", "a"), nullptr) << "a namespaced policy selects in its namespace only";
  // Unselected means unrestricted.
  Verdict v = evaluate(p, *p.findEndpoint("x", "b"), Direction::Ingress, Peer::world(*net::Address::parse("198.19.0.1")),
                       {kTCP, 80});
  EXPECT_EQ(v.reason, Reason::NoPolicy);
}

TEST(LowerClasses, IngressNamedPortsSplitClasses) {
  json inv = inventoryOf(json::array({
      endpoint("x", "a", {{"pod", "a"}}, "198.18.1.1", json::array({namedPort("web", 80)})),
      endpoint("x", "b", {{"pod", "b"}}, "198.18.1.2", json::array({namedPort("web", 81)})),
      endpoint("x", "c", {{"pod", "c"}}, "198.18.1.3", json::array({namedPort("web", 80), namedPort("x", 9)})),
      endpoint("x", "d", {{"pod", "d"}}, "198.18.1.4"),
      endpoint("x", "e", {{"pod", "e"}}, "198.18.1.5", json::array({namedPort("web", 80, "UDP")})),
  }));
  Compiled c("namespace x\npolicy web { selects {} ingress { allow from all on tcp/web } }", inv);
  ASSERT_TRUE(c.ok());
  const Program& p = c.ir();
  ASSERT_EQ(p.classes.size(), 3u) << toText(p);
  const EndpointClass* a = c.classOf("x", "a");
  const EndpointClass* b = c.classOf("x", "b");
  const EndpointClass* d = c.classOf("x", "d");
  ASSERT_TRUE(a && b && d);
  EXPECT_EQ(a->endpoints, (std::vector<std::string>{"x/a", "x/c"})) << "web is 80 on both";
  EXPECT_EQ(b->endpoints, std::vector<std::string>{"x/b"});
  EXPECT_EQ(d->endpoints, (std::vector<std::string>{"x/d", "x/e"})) << "a UDP port named web is not tcp/web";
  EXPECT_EQ(a->policies, b->policies);
  // Recorded per class, so a node can place endpoints learned later.
  using B = labels::PortNameBinding;
  EXPECT_EQ(a->ingressNamedPorts, (std::vector<B>{{"web", kTCP, 80}}));
  EXPECT_EQ(b->ingressNamedPorts, (std::vector<B>{{"web", kTCP, 81}}));
  EXPECT_EQ(d->ingressNamedPorts, (std::vector<B>{{"web", kTCP, std::nullopt}}));
  EXPECT_EQ(toJson(p)["classes"][d->id]["ingressNamedPorts"], json::parse(R"([{"name": "web", "protocol": "tcp"}])"));
  ASSERT_EQ(a->ingress.rules.size(), 1u);
  EXPECT_EQ(features::l4::matchesOf(a->ingress.rules[0]), (std::vector<L4Match>{{kTCP, {{80, 80}}}}));
  ASSERT_EQ(b->ingress.rules.size(), 1u);
  EXPECT_EQ(features::l4::matchesOf(b->ingress.rules[0]), (std::vector<L4Match>{{kTCP, {{81, 81}}}}));
  EXPECT_TRUE(d->ingress.rules.empty());
  EXPECT_TRUE(d->ingress.enforced);
  // One warning per endpoint lacking the port.
  EXPECT_EQ(c.diags().warningCount(), 2u) << c.diagnostics();
}

TEST(LowerClasses, EgressNamedPortsDoNotSplitClasses) {
  json inv = inventoryOf(json::array({
      endpoint("x", "a", {{"pod", "a"}}, "198.18.1.1", json::array({namedPort("web", 80)})),
      endpoint("x", "b", {{"pod", "b"}}, "198.18.1.2", json::array({namedPort("web", 81)})),
      endpoint("y", "a", {{"pod", "a"}}, "198.18.2.1", json::array({namedPort("web", 8080)})),
  }));
  Compiled c("namespace x\npolicy out { selects {} egress { allow to pods {} in namespace y on tcp/web } }", inv);
  ASSERT_TRUE(c.ok());
  const Program& p = c.ir();
  ASSERT_EQ(p.classes.size(), 1u) << "the subject's own ports do not matter on egress\n" << toText(p);
  EXPECT_EQ(p.classes[0].endpoints, (std::vector<std::string>{"x/a", "x/b"}));
  EXPECT_EQ(c.diags().warningCount(), 0u) << c.diagnostics();
}

// ---- egress named ports, resolved in each destination -----------------------------------------

// Kubernetes resolves an egress rule's named port in the destination pod, so
// the rule allows 8080 towards y/a, 8443 towards y/b and nothing else.
TEST(LowerEgressNamedPorts, EachDestinationIsReachedOnItsOwnNumberOnly) {
  json inv = inventoryOf(json::array({
      endpoint("x", "a", {{"pod", "a"}}, "198.18.1.1"),
      endpoint("y", "a", {{"pod", "a"}}, "198.18.2.1", json::array({namedPort("web", 8080)})),
      endpoint("y", "b", {{"pod", "b"}}, "198.18.2.2", json::array({namedPort("web", 8443)})),
      endpoint("y", "c", {{"pod", "c"}}, "198.18.2.3", json::array({namedPort("web", 9000)})),
      endpoint("y", "d", {{"pod", "d"}}, "198.18.2.4"),
  }));
  Compiled c("namespace x\npolicy out { selects {} egress { allow to pods {pod != c} in namespace y on tcp/web } }",
             inv);
  ASSERT_TRUE(c.ok());
  const Program& p = c.ir();
  const Endpoint& xa = *p.findEndpoint("x", "a");
  struct Row {
    const char* dst;
    uint16_t port;
    bool allowed;
  };
  for (Row row : {Row{"a", 8080, true}, Row{"a", 8443, false}, Row{"b", 8443, true}, Row{"b", 8080, false},
                  Row{"c", 9000, false}, Row{"c", 8080, false}, Row{"d", 8080, false}, Row{"d", 8443, false}}) {
    const Endpoint& dst = *p.findEndpoint("y", row.dst);
    Verdict v = evaluate(p, xa, Direction::Egress, Peer::endpoint(p.identity(dst.identity), dst.addresses[0]),
                         {kTCP, row.port});
    EXPECT_EQ(v.allowed, row.allowed) << "x/a -> y/" << row.dst << " tcp/" << row.port << "\n" << toText(p);
  }
  // One IR rule per number, all with the source rule's id, each towards the
  // pods that define the name with that number.
  const auto& rules = p.classes[0].egress.rules;
  ASSERT_EQ(rules.size(), 2u) << toText(p);
  uint32_t id = c.rule("allow to pods {pod != c} in namespace y on tcp/web");
  for (const auto& r : rules) {
    EXPECT_EQ(r.id, id);
    ASSERT_EQ(r.peer.selectorBits.size(), 1u);
    const PeerSelector& cond = p.selectors.at(r.peer.selectorBits[0]);
    ASSERT_TRUE(cond.definesPort);
    EXPECT_EQ(features::l4::matchesOf(r), (std::vector<L4Match>{{kTCP, {{cond.definesPort->port, cond.definesPort->port}}}}));
    EXPECT_EQ(cond.pods.str(), "{pod != c}");
  }
  EXPECT_EQ(p.selectors.at(rules[0].peer.selectorBits[0]).str(),
            "pods {pod != c} in namespace y defining tcp port web = 8080");
}

TEST(LowerEgressNamedPorts, NumbersAndNamesInOneRule) {
  json inv = inventoryOf(json::array({
      endpoint("x", "a", {{"pod", "a"}}, "198.18.1.1"),
      endpoint("y", "a", {{"pod", "a"}}, "198.18.2.1", json::array({namedPort("web", 80)})),
      endpoint("y", "b", {{"pod", "b"}}, "198.18.2.2", json::array({namedPort("web", 81)})),
  }));
  Compiled c("namespace x\npolicy out { selects {} egress { allow to namespace y on tcp/{web, 443}, udp } }", inv);
  ASSERT_TRUE(c.ok());
  const Program& p = c.ir();
  const Endpoint& xa = *p.findEndpoint("x", "a");
  auto allowed = [&](const char* dst, uint8_t proto, uint16_t port) {
    const Endpoint& e = *p.findEndpoint("y", dst);
    return evaluate(p, xa, Direction::Egress, Peer::endpoint(p.identity(e.identity)), {proto, port}).allowed;
  };
  // The numbered part keeps the whole peer set.
  EXPECT_TRUE(allowed("a", kTCP, 443));
  EXPECT_TRUE(allowed("b", kTCP, 443));
  EXPECT_TRUE(allowed("b", kUDP, 80));
  EXPECT_TRUE(allowed("a", kTCP, 80));
  EXPECT_FALSE(allowed("a", kTCP, 81));
  EXPECT_TRUE(allowed("b", kTCP, 81));
  EXPECT_FALSE(allowed("b", kTCP, 80));
}

// `to all` / `to cluster` with a named port: any pod that defines it, and
// nothing that is not a pod (world and the host define no ports). CIDR peers
// narrow to the known endpoints inside them that define the number.
TEST(LowerEgressNamedPorts, EntitiesAndCidrsNarrowToPodsDefiningThePort) {
  json inv = inventoryOf(json::array({
      endpoint("x", "a", {{"pod", "a"}}, "198.18.1.1"),
      endpoint("y", "a", {{"pod", "a"}}, "198.18.2.1", json::array({namedPort("web", 80)})),
      endpoint("z", "a", {{"pod", "a"}}, "198.18.3.1", json::array({namedPort("web", 81)})),
  }));
  for (const char* peer : {"all", "cluster", "cidr 198.18.0.0/16"}) {
    Compiled c(std::string("namespace x\npolicy out { selects {pod = a} egress { allow to ") + peer + " on tcp/web } }",
               inv);
    ASSERT_TRUE(c.ok()) << peer;
    const Program& p = c.ir();
    const Endpoint& xa = *p.findEndpoint("x", "a");
    auto toPod = [&](const char* ns, uint16_t port) {
      const Endpoint& e = *p.findEndpoint(ns, "a");
      return evaluate(p, xa, Direction::Egress, Peer::endpoint(p.identity(e.identity), e.addresses[0]), {kTCP, port})
          .allowed;
    };
    EXPECT_TRUE(toPod("y", 80)) << peer << "\n" << toText(p);
    EXPECT_FALSE(toPod("y", 81)) << peer;
    EXPECT_TRUE(toPod("z", 81)) << peer;
    EXPECT_FALSE(toPod("z", 80)) << peer;
    for (const char* outside : {"198.18.9.9", "198.19.0.1"})
      for (uint16_t port : {80, 81})
        EXPECT_FALSE(evaluate(p, xa, Direction::Egress, Peer::world(*net::Address::parse(outside)), {kTCP, port}).allowed)
            << peer << " -> " << outside << ":" << port;
    EXPECT_FALSE(evaluate(p, xa, Direction::Egress, Peer::host(), {kTCP, 80}).allowed) << peer;
  }
}

// Endpoints with the same labels but different numbers for a name some rule
// resolves per destination get different identities; names no egress rule
// uses do not split identities.
TEST(LowerEgressNamedPorts, IdentitiesSplitOnlyByNamesTheRulesUse) {
  json inv = inventoryOf(json::array({
      endpoint("x", "a", {{"pod", "a"}}, "198.18.1.1"),
      endpoint("y", "old", {{"app", "web"}}, "198.18.2.1", json::array({namedPort("web", 80), namedPort("m", 9)})),
      endpoint("y", "new", {{"app", "web"}}, "198.18.2.2", json::array({namedPort("web", 81), namedPort("m", 9)})),
      endpoint("y", "other", {{"app", "web"}}, "198.18.2.3", json::array({namedPort("web", 81), namedPort("m", 10)})),
  }));
  Compiled c("namespace x\npolicy out { selects {pod = a} egress { allow to pods {app = web} in namespace y on tcp/web } }",
             inv);
  ASSERT_TRUE(c.ok());
  const Program& p = c.ir();
  const Endpoint& oldEp = *p.findEndpoint("y", "old");
  const Endpoint& newEp = *p.findEndpoint("y", "new");
  const Endpoint& other = *p.findEndpoint("y", "other");
  EXPECT_NE(oldEp.identity, newEp.identity);
  EXPECT_EQ(newEp.identity, other.identity) << "port m is not resolved per destination";
  const Identity& id = *p.identity(newEp.identity);
  EXPECT_EQ(id.ports, (std::vector<labels::NamedPort>{{"web", kTCP, 81}}));
  const Endpoint& xa = *p.findEndpoint("x", "a");
  EXPECT_TRUE(evaluate(p, xa, Direction::Egress, Peer::endpoint(p.identity(oldEp.identity)), {kTCP, 80}).allowed);
  EXPECT_FALSE(evaluate(p, xa, Direction::Egress, Peer::endpoint(p.identity(oldEp.identity)), {kTCP, 81}).allowed);
  EXPECT_TRUE(evaluate(p, xa, Direction::Egress, Peer::endpoint(&id), {kTCP, 81}).allowed);
}

// ---- ports ------------------------------------------------------------------------------------

TEST(LowerPorts, RangesAreSortedAndMerged) {
  json inv = inventoryOf(
      json::array({endpoint("x", "a", {{"pod", "a"}}, "198.18.1.1", json::array({namedPort("web", 80)}))}));
  Compiled c(R"(
    namespace x
    policy p {
      selects {}
      ingress {
        allow from pods {pod = a1} on tcp/{80-81, 82}
        allow from pods {pod = a2} on tcp/{80-90, 85-100, 200, 101}
        allow from pods {pod = a3} on tcp/80, tcp/81
        allow from pods {pod = a4} on udp/53, tcp/53
        allow from pods {pod = a5} on tcp/{443, 80}
        allow from pods {pod = a6} on tcp/{web, 81}, sctp/{9, 9, 7-8}
        allow from pods {pod = a7} on tcp/{1-65535}
        allow from pods {pod = a8} on tcp/{65535, 65534}
      }
    }
  )",
             inv);
  ASSERT_TRUE(c.ok());
  const DirectionPolicy& in = c.classOf("x", "a")->ingress;
  auto l4Of = [&](const char* text) {
    const Rule* r = findRule(in, c.rule(text));
    return r ? str(features::l4::matchesOf(*r)) : std::string("(no rule)");
  };
  EXPECT_EQ(l4Of("allow from pods {pod = a1} on tcp/{80-81, 82}"), R"([{"ports":["80-82"],"protocol":"tcp"}])");
  EXPECT_EQ(l4Of("allow from pods {pod = a2} on tcp/{80-90, 85-100, 200, 101}"),
            R"([{"ports":["80-101","200"],"protocol":"tcp"}])");
  EXPECT_EQ(l4Of("allow from pods {pod = a3} on tcp/80, tcp/81"), R"([{"ports":["80-81"],"protocol":"tcp"}])");
  EXPECT_EQ(l4Of("allow from pods {pod = a4} on udp/53, tcp/53"),
            R"([{"ports":["53"],"protocol":"tcp"},{"ports":["53"],"protocol":"udp"}])");
  EXPECT_EQ(l4Of("allow from pods {pod = a5} on tcp/{443, 80}"), R"([{"ports":["80","443"],"protocol":"tcp"}])");
  EXPECT_EQ(l4Of("allow from pods {pod = a6} on tcp/{web, 81}, sctp/{9, 9, 7-8}"),
            R"([{"ports":["80-81"],"protocol":"tcp"},{"ports":["7-9"],"protocol":"sctp"}])");
  EXPECT_EQ(l4Of("allow from pods {pod = a7} on tcp/{1-65535}"), R"([{"ports":["1-65535"],"protocol":"tcp"}])");
  EXPECT_EQ(l4Of("allow from pods {pod = a8} on tcp/{65535, 65534}"),
            R"([{"ports":["65534-65535"],"protocol":"tcp"}])");

  // The normal form is what the IR promises: sorted, non-overlapping, non-adjacent.
  for (const auto& r : in.rules)
    for (const auto& m : features::l4::matchesOf(r))
      for (size_t i = 0; i < m.ports.size(); ++i) {
        EXPECT_LE(m.ports[i].first, m.ports[i].last);
        if (i > 0) {
          EXPECT_GT(m.ports[i].first, m.ports[i - 1].last + 1) << "rule " << r.id;
        }
      }
}

TEST(LowerPorts, ProtocolWithoutPortsIsAllPorts) {
  Compiled c(R"(
    namespace x
    policy p {
      selects {}
      ingress {
        allow from pods {pod = a1} on tcp
        allow from pods {pod = a2} on tcp, tcp/80
        allow from pods {pod = a3} on tcp/80, udp
        allow from pods {pod = a4} on any
        allow from pods {pod = a5} on tcp/80, any
        allow from pods {pod = a6}
        allow from pods {pod = a7} on icmp, icmpv6/echo-request
      }
    }
  )");
  ASSERT_TRUE(c.ok());
  const DirectionPolicy& in = c.classOf("x", "a")->ingress;
  auto l4Of = [&](const char* text) { return features::l4::matchesOf(*findRule(in, c.rule(text))); };
  EXPECT_EQ(l4Of("allow from pods {pod = a1} on tcp"), (std::vector<L4Match>{{kTCP, {}}}));
  EXPECT_EQ(l4Of("allow from pods {pod = a2} on tcp, tcp/80"), (std::vector<L4Match>{{kTCP, {}}}));
  EXPECT_EQ(l4Of("allow from pods {pod = a3} on tcp/80, udp"),
            (std::vector<L4Match>{{kTCP, {{80, 80}}}, {kUDP, {}}}));
  EXPECT_TRUE(l4Of("allow from pods {pod = a4} on any").empty());
  EXPECT_TRUE(l4Of("allow from pods {pod = a5} on tcp/80, any").empty());
  EXPECT_TRUE(l4Of("allow from pods {pod = a6}").empty());
  EXPECT_EQ(l4Of("allow from pods {pod = a7} on icmp, icmpv6/echo-request"),
            (std::vector<L4Match>{{kICMP, {}}, {kICMPv6, {{128, 128}}}}));

  json j = toJson(*findRule(in, c.rule("allow from pods {pod = a3} on tcp/80, udp")));
  EXPECT_EQ(j["l4"], json::parse(R"([{"protocol":"tcp","ports":["80"]},{"protocol":"udp","ports":"all"}])"));
  EXPECT_EQ(toJson(*findRule(in, c.rule("allow from pods {pod = a4} on any")))["l4"], "any");
}

TEST(LowerPorts, IcmpTypesMergeAndPrintEveryType) {
  Compiled c(R"(
    namespace x
    policy p {
      selects {}
      ingress { allow from all on icmp/{echo-reply, 3, source-quench, echo-request}, icmpv6/{129, echo-request} }
    }
  )");
  ASSERT_TRUE(c.ok());
  const auto& rules = c.classOf("x", "a")->ingress.rules;
  ASSERT_EQ(rules.size(), 1u);
  // Type numbers are stored like ports: 0, 3-4, 8 and 128-129.
  EXPECT_EQ(features::l4::matchesOf(rules[0]), (std::vector<L4Match>{{kICMP, {{0, 0}, {3, 4}, {8, 8}}}, {kICMPv6, {{128, 129}}}}));
  // ... and every one of them is listed by name in the JSON.
  EXPECT_EQ(toJson(rules[0])["l4"], json::parse(R"([
    {"protocol": "icmp", "types": ["echo-reply", "destination-unreachable", "source-quench", "echo-request"]},
    {"protocol": "icmpv6", "types": ["echo-request", "echo-reply"]}
  ])"));
  // The text listing agrees.
  std::string text = toText(c.ir());
  EXPECT_NE(text.find("icmp/echo-reply,destination-unreachable,source-quench,echo-request"), std::string::npos)
      << text;
}

// ---- rules ------------------------------------------------------------------------------------

TEST(LowerRules, DenyRulesFirstThenInTheOrderWritten) {
  Compiled c(R"(
    namespace x
    policy a {
      selects {}
      ingress {
        allow from namespace y
        deny from namespace z
        allow from namespace w
        deny from pods {pod = b}
      }
      egress {
        allow to all
        deny to world
      }
    }
    policy b { selects {} ingress { deny from host  allow from host } }
  )");
  ASSERT_TRUE(c.ok());
  const Program& p = c.ir();
  ASSERT_EQ(p.rules.size(), 8u);
  const EndpointClass* cls = c.classOf("x", "a");
  ASSERT_NE(cls, nullptr);
  auto texts = [&](const DirectionPolicy& d) {
    std::vector<std::string> out;
    for (const auto& r : d.rules) out.push_back(p.rules.at(r.id).text);
    return out;
  };
  // Policies in key order, rules in source order, deny rules first.
  EXPECT_EQ(texts(cls->ingress),
            (std::vector<std::string>{"deny from namespace z", "deny from pods {pod = b}", "deny from host",
                                      "allow from namespace y", "allow from namespace w", "allow from host"}));
  EXPECT_EQ(texts(cls->egress), (std::vector<std::string>{"deny to world", "allow to all"}));
  for (const auto* d : {&cls->ingress, &cls->egress})
    for (const auto& r : d->rules) {
      EXPECT_EQ(r.action, p.rules.at(r.id).action);
      EXPECT_EQ(r.policy, p.rules.at(r.id).policy);
      EXPECT_EQ(p.rules.at(r.id).direction, d == &cls->ingress ? Direction::Ingress : Direction::Egress);
    }
  const RuleInfo& first = p.rules.at(cls->ingress.rules[3].id);
  EXPECT_EQ(first.location, "t.policy:6:9");
  EXPECT_EQ(first.loc.begin.line, 6u);
  EXPECT_EQ(p.rules.at(cls->ingress.rules.back().id).location, "t.policy:16:53");
  EXPECT_EQ(p.rules.at(cls->ingress.rules.back().id).policy, "x/b");
}

// The ids of the rules of a policy, by text.
std::map<std::string, uint32_t> idsOf(const Program& p, const std::string& policy) {
  std::map<std::string, uint32_t> out;
  for (const auto& [id, info] : p.rules)
    if (info.policy == policy) out[std::string(directionName(info.direction)) + " " + info.text] = id;
  return out;
}

TEST(LowerRules, ARulesIdDependsOnItsPolicyAndItselfNotOnOtherPolicies) {
  const std::string shop = R"(
    namespace x
    policy shop {
      selects { app = shop }
      ingress { allow from pods { app = web } on tcp/80  deny from world }
      egress { allow to pods { app = db } on tcp/5432 }
    }
  )";
  Compiled alone(shop);
  ASSERT_TRUE(alone.ok());
  // Another policy before it, with more rules, and another after it.
  Compiled among(R"(
    namespace x
    policy aaa { selects {} ingress { allow from host  allow from namespace y  deny from namespace z } }
    policy zzz { selects {} egress { allow to all } }
  )" + shop);
  ASSERT_TRUE(among.ok());
  auto ids = idsOf(alone.ir(), "x/shop");
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(idsOf(among.ir(), "x/shop"), ids);
  for (const auto& [text, id] : ids) {
    EXPECT_GT(id, 0u) << text;
    EXPECT_LT(id, MB_RULE_MAX) << text;
  }
  // A rule of the same policy changed: the others keep their ids.
  Compiled edited(R"(
    namespace x
    policy shop {
      selects { app = shop }
      ingress { allow from pods { app = web } on tcp/8080  deny from world }
      egress { allow to pods { app = db } on tcp/5432 }
    }
  )");
  ASSERT_TRUE(edited.ok());
  auto after = idsOf(edited.ir(), "x/shop");
  EXPECT_EQ(after.at("ingress deny from world"), ids.at("ingress deny from world"));
  EXPECT_EQ(after.at("egress allow to pods { app = db } on tcp/5432"),
            ids.at("egress allow to pods { app = db } on tcp/5432"));
  EXPECT_NE(after.at("ingress allow from pods { app = web } on tcp/8080"),
            ids.at("ingress allow from pods { app = web } on tcp/80"));
}

TEST(LowerRules, TheSameRuleTwiceInAPolicyOrInTwoPoliciesHasTwoIds) {
  Compiled c(R"(
    namespace x
    policy a { selects {} ingress { allow from host  allow from host } }
    policy b { selects {} ingress { allow from host } egress { allow to host } }
  )");
  ASSERT_TRUE(c.ok());
  std::set<uint32_t> ids;
  for (const auto& [id, info] : c.ir().rules) ids.insert(id);
  EXPECT_EQ(ids.size(), 4u);
  EXPECT_EQ(c.ir().rules.size(), 4u);
}

TEST(LowerRules, EnforcedAndAuditedFlags) {
  json inv = inventoryOf(json::array({endpoint("x", "a", {{"pod", "a"}}, "198.18.1.1"),
                                      endpoint("x", "b", {{"pod", "b"}}, "198.18.1.2"),
                                      endpoint("x", "c", {{"pod", "c"}}, "198.18.1.3"),
                                      endpoint("x", "d", {{"pod", "d"}}, "198.18.1.4")}));
  Compiled c(R"(
    namespace x
    policy enforce-in { selects {pod = a} ingress { allow from namespace y } }
    policy audit-out { selects {pod = a} mode audit egress { deny to world } }
    policy audit-both { selects {pod in (b, d)} mode audit ingress {} egress {} }
    policy enforce-out { selects {pod in (c, d)} mode enforce egress {} }
  )",
             inv);
  ASSERT_TRUE(c.ok());
  const EndpointClass* a = c.classOf("x", "a");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->ingress.enforced);
  EXPECT_FALSE(a->ingress.audited);
  EXPECT_FALSE(a->egress.enforced);
  EXPECT_TRUE(a->egress.audited);
  ASSERT_EQ(a->ingress.rules.size(), 1u);
  EXPECT_FALSE(a->ingress.rules[0].audit);
  ASSERT_EQ(a->egress.rules.size(), 1u);
  EXPECT_TRUE(a->egress.rules[0].audit);
  EXPECT_TRUE(c.ir().rules.at(a->egress.rules[0].id).audit);

  const EndpointClass* b = c.classOf("x", "b");
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(b->ingress.enforced);
  EXPECT_TRUE(b->ingress.audited);
  EXPECT_FALSE(b->egress.enforced);
  EXPECT_TRUE(b->egress.audited);

  const EndpointClass* cc = c.classOf("x", "c");
  ASSERT_NE(cc, nullptr);
  EXPECT_FALSE(cc->ingress.enforced);
  EXPECT_FALSE(cc->ingress.audited);
  EXPECT_TRUE(cc->egress.enforced);
  EXPECT_FALSE(cc->egress.audited);

  const EndpointClass* d = c.classOf("x", "d");
  ASSERT_NE(d, nullptr);
  EXPECT_FALSE(d->ingress.enforced);
  EXPECT_TRUE(d->ingress.audited);
  EXPECT_TRUE(d->egress.enforced);
  EXPECT_TRUE(d->egress.audited);
}

// ---- named ports that resolve to nothing ------------------------------------------------------------

TEST(LowerNamedPorts, UnresolvedIngressRuleIsDroppedForThatClassWithAWarning) {
  json inv = inventoryOf(json::array({
      endpoint("x", "a", {{"pod", "a"}}, "198.18.1.1", json::array({namedPort("web", 80)})),
      endpoint("x", "b", {{"pod", "b"}}, "198.18.1.2", json::array({namedPort("web", 80, "UDP")})),
  }));
  Compiled c(R"(
    namespace x
    policy p {
      selects {}
      ingress {
        allow from all on tcp/web
        allow from all on tcp/{web, 8080}
        allow from all on tcp/9090
      }
    }
  )",
             inv);
  ASSERT_TRUE(c.ok());
  uint32_t web = c.rule("allow from all on tcp/web");
  uint32_t mixed = c.rule("allow from all on tcp/{web, 8080}");
  uint32_t plain = c.rule("allow from all on tcp/9090");
  const EndpointClass* a = c.classOf("x", "a");
  const EndpointClass* b = c.classOf("x", "b");
  ASSERT_TRUE(a && b);
  ASSERT_NE(a, b);
  EXPECT_EQ(ruleIds(a->ingress), (std::vector<uint32_t>{web, mixed, plain}));
  EXPECT_EQ(ruleIds(b->ingress), (std::vector<uint32_t>{mixed, plain})) << "the tcp/web rule matches nothing on x/b";
  EXPECT_EQ(features::l4::matchesOf(*findRule(b->ingress, mixed)), (std::vector<L4Match>{{kTCP, {{8080, 8080}}}}));
  EXPECT_EQ(features::l4::matchesOf(*findRule(a->ingress, mixed)), (std::vector<L4Match>{{kTCP, {{80, 80}, {8080, 8080}}}}));
  EXPECT_TRUE(c.ir().rules.count(web)) << "the rule itself is still known";

  // Both references to web are reported, for x/b only.
  ASSERT_EQ(c.diags().warningCount(), 2u) << c.diagnostics();
  for (const auto& d : c.diags().all()) {
    EXPECT_EQ(d.severity, Severity::Warning);
    EXPECT_NE(d.message.find("'web'"), std::string::npos) << d.message;
    EXPECT_NE(d.message.find("x/b"), std::string::npos) << d.message;
  }

  // And the evaluator agrees: x/b admits 8080 and 9090 only.
  const Program& p = c.ir();
  Peer world = Peer::world(*net::Address::parse("198.19.0.1"));
  const Endpoint& xb = *p.findEndpoint("x", "b");
  EXPECT_FALSE(evaluate(p, xb, Direction::Ingress, world, {kTCP, 80}).allowed);
  EXPECT_TRUE(evaluate(p, xb, Direction::Ingress, world, {kTCP, 8080}).allowed);
  EXPECT_TRUE(evaluate(p, *p.findEndpoint("x", "a"), Direction::Ingress, world, {kTCP, 80}).allowed);
}

TEST(LowerNamedPorts, UnresolvedEgressRuleIsDroppedWithOneWarning) {
  json inv = inventoryOf(json::array({
      endpoint("x", "a", {{"pod", "a"}}, "198.18.1.1", json::array({namedPort("web", 80)})),
      endpoint("x", "b", {{"pod", "b"}}, "198.18.1.2"),
      endpoint("y", "a", {{"pod", "a"}}, "198.18.2.1", json::array({namedPort("metrics", 9100)})),
  }));
  Compiled c(R"(
    namespace x
    policy p {
      selects {}
      egress {
        allow to namespace y on tcp/web
        allow to namespace y on tcp/metrics
      }
    }
  )",
             inv);
  ASSERT_TRUE(c.ok());
  const Program& p = c.ir();
  ASSERT_EQ(p.classes.size(), 1u) << toText(p);
  EXPECT_EQ(ruleIds(p.classes[0].egress), std::vector<uint32_t>{c.rule("allow to namespace y on tcp/metrics")});
  EXPECT_TRUE(p.classes[0].egress.enforced);
  ASSERT_EQ(c.diags().warningCount(), 1u) << "once per rule, not once per endpoint\n" << c.diagnostics();
  EXPECT_NE(c.diags().all()[0].message.find("'web'"), std::string::npos) << c.diagnostics();
  // The warning points at the port name in the source.
  EXPECT_EQ(c.diags().all()[0].range.begin.line, 6u);
}

TEST(LowerNamedPorts, ANameGivenUnderSeveralProtocolsWarnsOnlyWhereItResolvesUnderNone) {
  // An AdminNetworkPolicy namedPort has no protocol: it becomes tcp/, udp/
  // and sctp/web. x/a defines web for TCP, x/b for UDP, x/c not at all:
  // only x/c is worth a warning (one, for the name), and only y's rule
  // towards pods defining it under no protocol.
  json inv = inventoryOf(json::array({
      endpoint("x", "a", {{"pod", "a"}}, "198.18.1.1", json::array({namedPort("web", 80)})),
      endpoint("x", "b", {{"pod", "b"}}, "198.18.1.2", json::array({namedPort("web", 81, "UDP")})),
      endpoint("x", "c", {{"pod", "c"}}, "198.18.1.3"),
      endpoint("y", "a", {{"pod", "a"}}, "198.18.2.1"),
  }));
  Compiled c(R"(
    namespace x
    policy p {
      selects {}
      ingress { allow from all on tcp/web, udp/web, sctp/web }
      egress {
        allow to pods { pod in (a, b) } on tcp/web, udp/web, sctp/web
        allow to namespace y on tcp/web, udp/web
      }
    }
  )",
             inv);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c.diags().warningCount(), 3u) << c.diagnostics();
  std::string all = c.diagnostics();
  EXPECT_NE(all.find("is not defined by endpoint x/c"), std::string::npos) << all;
  EXPECT_EQ(all.find("endpoint x/a"), std::string::npos) << all;
  EXPECT_EQ(all.find("endpoint x/b"), std::string::npos) << all;
  // y's rule: both of its protocols resolve nowhere, each is reported.
  size_t line8 = 0;
  for (const auto& d : c.diags().all()) line8 += d.range.begin.line == 8;
  EXPECT_EQ(line8, 2u) << all;
  // The verdicts are each protocol's own.
  const Program& p = c.ir();
  Peer world = Peer::world(*net::Address::parse("198.19.0.1"));
  EXPECT_TRUE(evaluate(p, *p.findEndpoint("x", "a"), Direction::Ingress, world, {kTCP, 80}).allowed);
  EXPECT_FALSE(evaluate(p, *p.findEndpoint("x", "a"), Direction::Ingress, world, {kUDP, 80}).allowed);
  EXPECT_TRUE(evaluate(p, *p.findEndpoint("x", "b"), Direction::Ingress, world, {kUDP, 81}).allowed);
}

// ---- determinism and JSON ------------------------------------------------------------------

const char* const kShopLikePolicy = R"(
  namespace x
  selector web = {pod in (a, b)}
  policy web {
    selects web
    ingress {
      allow from namespaces {ns = y} on tcp/serve
      deny from cidr 198.19.0.0/16 except (198.19.1.0/24, 198.19.2.0/24)
      allow from world, host on tcp/{443, 80-81}
    }
    egress { allow to pods {pod = c}, namespace z on udp/53, tcp }
  }
  policy all { selects {} ingress { allow from pods {} } }
)";

const char* const kClusterwidePolicy = R"(
  policy audit-all { clusterwide selects {} mode audit egress { deny to world on icmp/echo-request } }
)";

json shopLikeInventory() {
  return inventoryOf(json::array({
      endpoint("x", "a", {{"pod", "a"}}, "198.18.1.1", json::array({namedPort("serve", 8080)})),
      endpoint("x", "b", {{"pod", "b"}}, "198.18.1.2", json::array({namedPort("serve", 8081)})),
      endpoint("x", "c", {{"pod", "c"}}, "198.18.1.3"),
      endpoint("y", "a", {{"pod", "a"}}, "198.18.2.1"),
      endpoint("z", "a", {{"pod", "a"}}, "198.18.3.1"),
  }));
}

TEST(LowerDeterminism, SameInputSameJson) {
  Compiled one({{"a.policy", kShopLikePolicy}, {"b.policy", kClusterwidePolicy}}, shopLikeInventory());
  Compiled two({{"a.policy", kShopLikePolicy}, {"b.policy", kClusterwidePolicy}}, shopLikeInventory());
  ASSERT_TRUE(one.ok());
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(toJson(one.ir()).dump(2), toJson(two.ir()).dump(2));
  EXPECT_EQ(toText(one.ir()), toText(two.ir()));
  EXPECT_GE(one.ir().classes.size(), 3u);

  // Lowering the same checked program again gives the same IR.
  auto& comp = one.compilation();
  DiagnosticEngine diags(comp.sources);
  Program again = lowering::lower(*comp.checked, comp.inventory, comp.sources, diags);
  EXPECT_EQ(toJson(again).dump(2), toJson(one.ir()).dump(2));
}

TEST(LowerDeterminism, FileOrderDoesNotMatter) {
  Compiled one({{"a.policy", kShopLikePolicy}, {"b.policy", kClusterwidePolicy}}, shopLikeInventory());
  Compiled two({{"b.policy", kClusterwidePolicy}, {"a.policy", kShopLikePolicy}}, shopLikeInventory());
  ASSERT_TRUE(one.ok());
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(toJson(one.ir()).dump(2), toJson(two.ir()).dump(2));
}

TEST(LowerJson, SmallProgramFieldByField) {
  json inv = {
      {"namespaces", json::array({json{{"name", "x"}, {"labels", {{"team", "web"}}}}})},
      {"endpoints", json::array({
                        json{{"name", "api-0"},
                             {"namespace", "x"},
                             {"labels", {{"app", "api"}}},
                             {"addresses", json::array({"198.18.1.10", "2001:2::1:10"})},
                             {"ports", json::array({namedPort("http", 8080)})},
                             {"workload", "api"}},
                        json{{"name", "db-0"},
                             {"namespace", "x"},
                             {"labels", {{"app", "db"}}},
                             {"addresses", json::array({"198.18.1.11"})}},
                    })},
  };
  Compiled c({{"api.policy", R"(namespace x
policy api {
  selects {app = api}
  ingress {
    allow from pods {app = web} on tcp/http
    deny from cidr 198.19.0.0/16 except 198.19.1.0/24
  }
  egress {
    allow to pods {app = db}, world on tcp/{5432, 5433}, icmp/echo-request
  }
}
)"}},
             inv);
  ASSERT_TRUE(c.ok());
  json j = toJson(c.ir());
  SCOPED_TRACE(j.dump(2));

  ASSERT_EQ(j["selectors"].size(), 2u);
  const json& s0 = j["selectors"][0];
  EXPECT_EQ(s0["bit"], 0);
  EXPECT_EQ(s0["pods"], json::parse(R"([{"key": "app", "op": "=", "values": ["web"]}])"));
  EXPECT_EQ(s0["namespaceScope"], "exact");
  EXPECT_EQ(s0["namespace"], "x");
  EXPECT_FALSE(s0.contains("namespaces"));
  EXPECT_EQ(s0["text"], "pods {app = web} in namespace x");
  EXPECT_EQ(j["selectors"][1]["bit"], 1);
  EXPECT_EQ(j["selectors"][1]["text"], "pods {app = db} in namespace x");

  ASSERT_EQ(j["identities"].size(), 2u);
  EXPECT_EQ(j["identities"][0], json::parse(R"({"id": 256, "namespace": "x", "labels": {"app": "api"},
                                                 "selectorBits": []})"));
  EXPECT_EQ(j["identities"][1], json::parse(R"({"id": 257, "namespace": "x", "labels": {"app": "db"},
                                                 "selectorBits": [1]})"));

  ASSERT_EQ(j["endpoints"].size(), 2u);
  EXPECT_EQ(j["endpoints"][0], json::parse(R"({"name": "api-0", "namespace": "x", "workload": "api",
                                                "identity": 256, "addresses": ["198.18.1.10", "2001:2::1:10"],
                                                "class": 0})"));
  EXPECT_EQ(j["endpoints"][1]["workload"], "db-0");
  EXPECT_TRUE(j["endpoints"][1]["class"].is_null());

  ASSERT_EQ(j["classes"].size(), 1u);
  const json& cls = j["classes"][0];
  EXPECT_EQ(cls["id"], 0);
  EXPECT_EQ(cls["policies"], json::array({"x/api"}));
  EXPECT_EQ(cls["endpoints"], json::array({"x/api-0"}));
  EXPECT_EQ(cls["ingress"]["enforced"], true);
  EXPECT_EQ(cls["ingress"]["audited"], false);
  // Rule ids are hashes (LowerRules): each class rule is compared without
  // its id, and the id is the one the rule list gives its text.
  auto idOf = [&](const std::string& text) {
    for (const auto& r : j["rules"])
      if (r["text"] == text) return r["id"];
    return json();
  };
  auto withoutId = [](json r) {
    r.erase("id");
    return r;
  };
  ASSERT_EQ(cls["ingress"]["rules"].size(), 2u);
  EXPECT_EQ(withoutId(cls["ingress"]["rules"][0]), json::parse(R"({
    "action": "deny", "audit": false, "policy": "x/api",
    "peer": {"cidrs": [{"prefix": "198.19.0.0/16", "except": ["198.19.1.0/24"]}]},
    "l4": "any"})"));
  EXPECT_EQ(cls["ingress"]["rules"][0]["id"], idOf("deny from cidr 198.19.0.0/16 except 198.19.1.0/24"));
  EXPECT_EQ(withoutId(cls["ingress"]["rules"][1]), json::parse(R"({
    "action": "allow", "audit": false, "policy": "x/api",
    "peer": {"selectorBits": [0]},
    "l4": [{"protocol": "tcp", "ports": ["8080"]}]})"));
  EXPECT_EQ(cls["ingress"]["rules"][1]["id"], idOf("allow from pods {app = web} on tcp/http"));
  EXPECT_EQ(cls["egress"]["enforced"], true);
  ASSERT_EQ(cls["egress"]["rules"].size(), 1u);
  EXPECT_EQ(withoutId(cls["egress"]["rules"][0]), json::parse(R"({
    "action": "allow", "audit": false, "policy": "x/api",
    "peer": {"selectorBits": [1], "entities": ["world"]},
    "l4": [{"protocol": "icmp", "types": ["echo-request"]}, {"protocol": "tcp", "ports": ["5432-5433"]}]})"));
  EXPECT_EQ(cls["egress"]["rules"][0]["id"], idOf("allow to pods {app = db}, world on tcp/{5432, 5433}, icmp/echo-request"));

  // The rule list, by id.
  ASSERT_EQ(j["rules"].size(), 3u);
  std::map<std::string, json> byText;
  for (const auto& r : j["rules"]) {
    EXPECT_GT(r["id"].get<uint32_t>(), 0u);
    byText[r["text"]] = withoutId(r);
  }
  EXPECT_EQ(byText["allow from pods {app = web} on tcp/http"],
            json::parse(R"({"policy": "x/api", "direction": "ingress", "action": "allow",
    "audit": false, "text": "allow from pods {app = web} on tcp/http", "location": "api.policy:5:5"})"));
  EXPECT_EQ(byText["deny from cidr 198.19.0.0/16 except 198.19.1.0/24"]["action"], "deny");
  const json& egressRule = byText["allow to pods {app = db}, world on tcp/{5432, 5433}, icmp/echo-request"];
  EXPECT_EQ(egressRule["direction"], "egress");
  EXPECT_EQ(egressRule["location"], "api.policy:9:5");

  // Exactly these top-level keys.
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"classes", "endpoints", "identities", "rules", "selectors"}));
}

TEST(LowerJson, EntitiesAuditAndScopes) {
  Compiled c(R"(
    policy cw {
      clusterwide
      selects {pod = a}
      mode audit
      ingress { allow from all, cluster, host, world, namespaces {ns = y}, namespaces {} on tcp }
    }
  )");
  ASSERT_TRUE(c.ok());
  json j = toJson(c.ir());
  SCOPED_TRACE(j.dump(2));
  ASSERT_EQ(j["selectors"].size(), 2u);
  EXPECT_EQ(j["selectors"][0]["namespaceScope"], "selector");
  EXPECT_EQ(j["selectors"][0]["namespaces"], json::parse(R"([{"key": "ns", "op": "=", "values": ["y"]}])"));
  EXPECT_FALSE(j["selectors"][0].contains("namespace"));
  EXPECT_EQ(j["selectors"][1]["namespaceScope"], "any");
  EXPECT_EQ(j["selectors"][1]["text"], "pods {} in namespaces {}");
  ASSERT_EQ(j["classes"].size(), 1u);
  EXPECT_EQ(j["classes"][0]["endpoints"], json::array({"x/a", "y/a"}));
  EXPECT_EQ(j["classes"][0]["ingress"]["enforced"], false);
  EXPECT_EQ(j["classes"][0]["ingress"]["audited"], true);
  EXPECT_EQ(j["classes"][0]["egress"]["audited"], false);
  EXPECT_EQ(j["classes"][0]["egress"]["rules"], json::array());
  const json& r = j["classes"][0]["ingress"]["rules"][0];
  EXPECT_EQ(r["audit"], true);
  EXPECT_EQ(r["policy"], "cw");
  EXPECT_EQ(r["peer"]["entities"], json::parse(R"(["world", "host", "cluster", "all"])"));
  EXPECT_EQ(r["peer"]["selectorBits"], json::parse("[0, 1]"));
  EXPECT_EQ(r["l4"], json::parse(R"([{"protocol": "tcp", "ports": "all"}])"));
  EXPECT_EQ(j["rules"][0]["audit"], true);
  EXPECT_EQ(j["rules"][0]["policy"], "cw");
}

}  // namespace
}  // namespace membrane::ir
