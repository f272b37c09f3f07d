// ir/ir_json: the IR as `membranec ir` prints it (docs/cli.md). Checks the
// fields a consumer of the JSON relies on, in a small compiled program,
// rather than the whole text, which grows as the IR does.
#include "ir_print/ir_json.h"

#include <gtest/gtest.h>

#include <string>

#include "cluster_test_support.h"
#include "features/l4/l4.h"

namespace membrane::testing {
namespace {

using nlohmann::json;

// x/a is selected; its ingress allows x/b on two protocols and denies a CIDR.
const char* kPolicy = R"(namespace x

policy p {
  selects { pod = a }
  ingress {
    allow from pods { pod = b } on tcp/80, tcp/8000-8080, udp/53
    deny from cidr 198.18.9.0/24 except (198.18.9.128/25) on any
  }
}
)";

class IrJson : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.ok());
    doc_ = ir::toJson(cluster_.ir());
  }
  const json* endpoint(const std::string& ns, const std::string& name) const {
    for (const auto& e : doc_["endpoints"])
      if (e["namespace"] == ns && e["name"] == name) return &e;
    return nullptr;
  }
  XyzCluster cluster_{kPolicy};
  json doc_;
};

TEST_F(IrJson, HasEveryTopLevelSection) {
  for (const char* key : {"selectors", "identities", "endpoints", "classes", "rules"})
    EXPECT_TRUE(doc_.contains(key) && doc_[key].is_array()) << key;
}

TEST_F(IrJson, NamesEachSelectorByItsBitWithItsNamespaceScope) {
  ASSERT_EQ(doc_["selectors"].size(), 1u);
  const json& s = doc_["selectors"][0];
  EXPECT_EQ(s["bit"], 0);
  EXPECT_EQ(s["namespace"], "x");
  EXPECT_EQ(s["namespaceScope"], "exact");
  EXPECT_EQ(s["text"], "pods {pod = b} in namespace x");
}

TEST_F(IrJson, GivesEachEndpointItsIdentityAndClassOrNullWhenUnselected) {
  const json* a = endpoint("x", "a");
  const json* b = endpoint("x", "b");
  ASSERT_TRUE(a && b);
  EXPECT_EQ((*a)["class"], 0);
  EXPECT_TRUE((*b)["class"].is_null());
  EXPECT_EQ((*a)["addresses"], json::array({"198.18.1.1", "2001:2::1:1"}));
  EXPECT_EQ((*a)["workload"], "a");
  EXPECT_GE((*a)["identity"].get<int>(), 256);
  // The identity of x/b carries the selector's bit; x/a's does not.
  auto bitsOf = [&](const json& id) {
    for (const auto& i : doc_["identities"])
      if (i["id"] == id) return i["selectorBits"];
    return json("no such identity");
  };
  EXPECT_EQ(bitsOf((*b)["identity"]), json::array({0}));
  EXPECT_EQ(bitsOf((*a)["identity"]), json::array());
}

TEST_F(IrJson, ListsAClassWithItsEndpointsPoliciesAndDirections) {
  ASSERT_EQ(doc_["classes"].size(), 1u);
  const json& c = doc_["classes"][0];
  EXPECT_EQ(c["id"], 0);
  EXPECT_EQ(c["endpoints"], json::array({"x/a"}));
  EXPECT_EQ(c["policies"], json::array({"x/p"}));
  EXPECT_EQ(c["ingress"]["enforced"], true);
  EXPECT_EQ(c["ingress"]["audited"], false);
  EXPECT_EQ(c["egress"]["enforced"], false);
  EXPECT_EQ(c["egress"]["rules"], json::array());
}

TEST_F(IrJson, PrintsRulesDenyFirstWithPeerAndL4) {
  const json& rules = doc_["classes"][0]["ingress"]["rules"];
  ASSERT_EQ(rules.size(), 2u);
  const json& deny = rules[0];
  EXPECT_EQ(deny["action"], "deny");
  EXPECT_EQ(deny["policy"], "x/p");
  EXPECT_EQ(deny["audit"], false);
  EXPECT_EQ(deny["l4"], "any");
  ASSERT_EQ(deny["peer"]["cidrs"].size(), 1u);
  EXPECT_EQ(deny["peer"]["cidrs"][0]["prefix"], "198.18.9.0/24");
  EXPECT_EQ(deny["peer"]["cidrs"][0]["except"], json::array({"198.18.9.128/25"}));
  EXPECT_FALSE(deny["peer"].contains("selectorBits"));

  const json& allow = rules[1];
  EXPECT_EQ(allow["action"], "allow");
  EXPECT_EQ(allow["peer"]["selectorBits"], json::array({0}));
  ASSERT_TRUE(allow["l4"].is_array());
  ASSERT_EQ(allow["l4"].size(), 2u);
  EXPECT_EQ(allow["l4"][0]["protocol"], "tcp");
  EXPECT_EQ(allow["l4"][0]["ports"], json::array({"80", "8000-8080"}));
  EXPECT_EQ(allow["l4"][1]["protocol"], "udp");
  EXPECT_EQ(allow["l4"][1]["ports"], json::array({"53"}));
}

TEST_F(IrJson, DescribesEveryRuleIdWithItsSourceText) {
  ASSERT_EQ(doc_["rules"].size(), 2u);
  // Listed by id; ids are hashes, so find the allow rule by its action.
  const json& first = doc_["rules"][0]["action"] == "allow" ? doc_["rules"][0] : doc_["rules"][1];
  EXPECT_LT(doc_["rules"][0]["id"].get<uint32_t>(), doc_["rules"][1]["id"].get<uint32_t>());
  EXPECT_EQ(first["direction"], "ingress");
  EXPECT_EQ(first["action"], "allow");
  EXPECT_EQ(first["policy"], "x/p");
  EXPECT_EQ(first["text"], "allow from pods { pod = b } on tcp/80, tcp/8000-8080, udp/53");
  EXPECT_EQ(first["location"], "t.policy:6:5");
  // The class's rules refer to these ids.
  EXPECT_EQ(doc_["classes"][0]["ingress"]["rules"][1]["id"], first["id"]);
}

TEST(IrJsonL4, NamesIcmpTypesAndSaysAllForNoPortsOrTypes) {
  ir::L4Match echo{ir::kICMP, {{8, 8}}};
  EXPECT_EQ(features::l4::toJson(echo), json({{"protocol", "icmp"}, {"types", {"echo-request"}}}));
  // Adjacent types are stored as one range and listed one by one.
  ir::L4Match v6{ir::kICMPv6, {{128, 129}}};
  EXPECT_EQ(features::l4::toJson(v6)["types"], json::array({"echo-request", "echo-reply"}));
  ir::L4Match udp{ir::kUDP, {}};
  EXPECT_EQ(features::l4::toJson(udp), json({{"protocol", "udp"}, {"ports", "all"}}));
  ir::L4Match icmp{ir::kICMP, {}};
  EXPECT_EQ(features::l4::toJson(icmp)["types"], "all");
}

TEST(IrJsonText, ListsAClassWithItsRulesAsWritten) {
  XyzCluster cluster{kPolicy};
  ASSERT_TRUE(cluster.ok());
  std::string text = ir::toText(cluster.ir());
  EXPECT_NE(text.find("class 0"), std::string::npos) << text;
  EXPECT_NE(text.find("endpoints: x/a"), std::string::npos) << text;
  EXPECT_NE(text.find("deny cidr 198.18.9.0/24 except 198.18.9.128/25 on any"), std::string::npos) << text;
  EXPECT_NE(text.find("allow #0 pods {pod = b} in namespace x on tcp/80,8000-8080, udp/53"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace membrane::testing
