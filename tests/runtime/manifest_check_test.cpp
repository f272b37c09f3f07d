// The manifest reader checks that the parts of a manifest agree with each
// other (Manifest::check), and `membrane apply` refuses an inconsistent one
// before touching the kernel. Each case edits the shop's manifest one way.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "runtime_test_support.h"

namespace membrane::testing {
namespace {

using nlohmann::json;

class ManifestCheck : public ShopManifestTest {
 protected:
  // The index of the class with this id, of the endpoint with this name.
  static size_t classIndex(const json& m, uint32_t id) {
    for (size_t i = 0; i < m["classes"].size(); ++i)
      if (m["classes"][i]["id"] == id) return i;
    ADD_FAILURE() << "no class " << id;
    return 0;
  }
  // The id of the rule of `policy` whose text starts so (ids are hashes).
  static uint32_t idOf(const std::string& policy, const std::string& textStart) {
    for (const auto& r : (*shop_)["rules"])
      if (r["policy"] == policy && r["text"].get<std::string>().starts_with(textStart)) return r["id"];
    ADD_FAILURE() << "no rule of " << policy << " starting " << textStart;
    return 0;
  }
  static std::string ruleOf(const std::string& policy, const std::string& textStart) {
    return "rule " + std::to_string(idOf(policy, textStart));
  }
  static size_t endpointIndex(const json& m, const std::string& ns, const std::string& name) {
    for (size_t i = 0; i < m["endpoints"].size(); ++i)
      if (m["endpoints"][i]["namespace"] == ns && m["endpoints"][i]["name"] == name) return i;
    ADD_FAILURE() << "no endpoint " << ns << "/" << name;
    return 0;
  }
};

TEST_F(ManifestCheck, TheCompilersManifestPasses) {
  EXPECT_EQ(refusal([](json&) {}), "");
}

TEST_F(ManifestCheck, RefusesAClassListingARuleThatDoesNotExist) {
  EXPECT_EQ(refusal([](json& m) { m["classes"][classIndex(m, 1)]["ingress"]["rules"].push_back(999); }),
            "manifest.classes[1].ingress.rules[2]: rule 999 is not in manifest.rules");
}

TEST_F(ManifestCheck, RefusesAnEmptiedRuleList) {
  // Class 1 (shop/api): its ingress rules use named ports its endpoints define.
  EXPECT_EQ(refusal([](json& m) { m["classes"][classIndex(m, 1)]["ingress"]["rules"] = json::array(); }),
            "manifest.classes[1].ingress.rules: " + ruleOf("shop/api", "allow from pods frontend") +
                " of shop/api is missing");
  // Egress: shop/default-deny's DNS rule is every shop class's. (The
  // manifest does not say why an egress rule on named ports no destination
  // defines is left out, so shop/api's egress rules, in class 1 alone,
  // cannot be missed.)
  EXPECT_EQ(refusal([](json& m) { m["classes"][classIndex(m, 1)]["egress"]["rules"] = json::array(); }),
            "manifest.classes[1].egress.rules: " + ruleOf("shop/default-deny", "allow to cluster-dns") +
                " of shop/default-deny is missing");
}

TEST_F(ManifestCheck, RefusesRulesOfOtherPoliciesOrDirectionsOrOutOfOrder) {
  const uint32_t coredns = idOf("kube-system/coredns", "");
  EXPECT_EQ(refusal([&](json& m) { m["classes"][classIndex(m, 1)]["ingress"]["rules"].push_back(coredns); }),
            "manifest.classes[1].ingress.rules[2]: rule " + std::to_string(coredns) +
                " belongs to kube-system/coredns, which is not among the class's policies");
  const uint32_t toDatabase = idOf("shop/api", "allow to pods database");
  EXPECT_EQ(refusal([&](json& m) { m["classes"][classIndex(m, 1)]["ingress"]["rules"].push_back(toDatabase); }),
            "manifest.classes[1].ingress.rules[2]: rule " + std::to_string(toDatabase) + " is an egress rule");
  // shop/default-deny's rule before shop/api's: policies are in key order.
  const uint32_t dns = idOf("shop/default-deny", "allow to cluster-dns");
  EXPECT_EQ(refusal([&](json& m) { m["classes"][classIndex(m, 1)]["egress"]["rules"] = {dns, toDatabase}; }),
            "manifest.classes[1].egress.rules[1]: not in verdict order (denies, then allows, each group by policy)");
  EXPECT_EQ(refusal([&](json& m) {
              m["classes"][classIndex(m, 1)]["egress"]["rules"] = {toDatabase, toDatabase, dns};
            }),
            "manifest.classes[1].egress.rules[1]: rule " + std::to_string(toDatabase) + " is listed twice");
  // An allow before a deny (shop/database's ingress).
  const uint32_t allowApi = idOf("shop/database", "allow from pods { app in (api");
  const uint32_t denyRunner = idOf("shop/database", "deny from pods { role = backup");
  size_t database = 0;
  const json& shop = *shop_;  // const: [] must not grow it
  for (size_t i = 0; i < shop["classes"].size(); ++i)
    if (shop["classes"][i]["policies"] == json{"shop/database", "shop/default-deny"}) database = i;
  ASSERT_NE(database, 0u);
  EXPECT_EQ(refusal([&](json& m) { m["classes"][database]["ingress"]["rules"] = {allowApi, denyRunner}; }),
            "manifest.classes[" + std::to_string(database) +
                "].ingress.rules[1]: not in verdict order (denies, then allows, each group by policy)");
  EXPECT_EQ(refusal([](json& m) { m["classes"][classIndex(m, 1)]["ingress"]["enforced"] = false; }),
            "manifest.classes[1].ingress.enforced: false, but the class has " +
                ruleOf("shop/api", "allow from pods frontend") + " of shop/api");
}

TEST_F(ManifestCheck, RefusesAnEndpointListedInAClassItDoesNotRun) {
  // shop/api-0 runs class 1; class 3 (nats) lists it as well.
  EXPECT_EQ(refusal([](json& m) { m["classes"][classIndex(m, 3)]["endpoints"].push_back("shop/api-0"); }),
            "manifest.classes[3].endpoints[2]: shop/api-0 runs class 1");
  // ... or class 1 forgets it.
  EXPECT_EQ(refusal([](json& m) {
              auto& eps = m["classes"][classIndex(m, 1)]["endpoints"];
              eps.erase(eps.begin());
            }),
            "manifest.endpoints[4].class: class 1 does not list shop/api-0");
  // ... or lists one that does not exist.
  EXPECT_EQ(refusal([](json& m) { m["classes"][classIndex(m, 1)]["endpoints"].push_back("shop/ghost"); }),
            "manifest.classes[1].endpoints[2]: no endpoint \"shop/ghost\" in manifest.endpoints");
}

TEST_F(ManifestCheck, RefusesAnEndpointInAClassThatIsNotForThePoliciesSelectingIt) {
  // shop/api-0 moved to class 3 both ways: class 3 is nats', for other policies.
  EXPECT_EQ(refusal([](json& m) {
              m["endpoints"][endpointIndex(m, "shop", "api-0")]["class"] = 3;
              auto& from = m["classes"][classIndex(m, 1)]["endpoints"];
              from.erase(from.begin());
              m["classes"][classIndex(m, 3)]["endpoints"].push_back("shop/api-0");
            }),
            "manifest.endpoints[4].class: class 3 is for {shop/broker, shop/default-deny}, but {shop/api, "
            "shop/default-deny} select shop/api-0");
  // An endpoint the policies select must run a class.
  EXPECT_EQ(refusal([](json& m) {
              m["endpoints"][endpointIndex(m, "shop", "api-0")]["class"] = nullptr;
              auto& from = m["classes"][classIndex(m, 1)]["endpoints"];
              from.erase(from.begin());
            }),
            "manifest.endpoints[4].class: null, but every endpoint runs a class ({shop/api, shop/default-deny} "
            "select it)");
}

// Endpoints no policy selects run the open class, which checks their source
// addresses: without a class they would send anything from any address.
TEST_F(ManifestCheck, RefusesAnUnselectedEndpointWithoutTheOpenClass) {
  EXPECT_EQ(refusal([](json& m) {
              size_t open = m["classes"].size() - 1;
              ASSERT_TRUE(m["classes"][open]["policies"].empty());
              size_t e = endpointIndex(m, "monitoring", "prometheus-0");
              m["endpoints"][e]["class"] = nullptr;
              m["classes"][open]["endpoints"] = json::array();
            }),
            "manifest.endpoints[" + std::to_string(endpointIndex(*shop_, "monitoring", "prometheus-0")) +
                "].class: null, but every endpoint runs a class (the open class, as no policy selects it)");
}

TEST_F(ManifestCheck, RefusesAnOpenClassWithRulesOrASecondOne) {
  EXPECT_EQ(refusal([](json& m) {
              json& open = m["classes"][m["classes"].size() - 1];
              open["egress"]["enforced"] = true;
            }),
            "manifest.classes[" + std::to_string((*shop_)["classes"].size() - 1) +
                "]: the open class (no policies) has no rules and enforces nothing");
  EXPECT_EQ(refusal([](json& m) {
              json& cls = m["classes"][0];
              cls["policies"] = json::array();
              cls["ingress"] = {{"enforced", false}, {"audited", false}, {"rules", json::array()}};
              cls["egress"] = cls["ingress"];
            }),
            "manifest.classes[" + std::to_string((*shop_)["classes"].size() - 1) +
                "].policies: empty, but class 0 is the open class already");
}

TEST_F(ManifestCheck, RefusesIdentitiesWhoseBitsAreNotTheirLabels) {
  EXPECT_EQ(refusal([](json& m) {
              m["identities"][0]["bits"] = {0, 7};
            }),
            "manifest.identities[0].bits: not the selectors its namespace, labels and ports match");
  EXPECT_EQ(refusal([](json& m) { m["identities"][0]["bits"] = {4096}; }),
            "manifest.identities[0].bits: bit 4096 has no selector");
  EXPECT_EQ(refusal([](json& m) { m["identities"][0]["id"] = 2; }),
            "manifest.identities[0].id: 2 is reserved (identities start at 256)");
}

TEST_F(ManifestCheck, RefusesIdsListedTwice) {
  EXPECT_EQ(refusal([](json& m) { m["rules"][1]["id"] = m["rules"][0]["id"]; }),
            "manifest.rules[1].id: rule " + std::to_string((*shop_)["rules"][0]["id"].get<uint32_t>()) +
                " is listed twice");
  EXPECT_EQ(refusal([](json& m) { m["identities"][1]["id"] = m["identities"][0]["id"]; }),
            "manifest.identities[1].id: identity 256 is listed twice");
  EXPECT_EQ(refusal([](json& m) {
              json copy = m["classes"][0];
              copy["object"] = "class-9.o";
              m["classes"].push_back(copy);
            }),
            "manifest.classes[7].id: class 0 is listed twice");
  EXPECT_EQ(refusal([](json& m) { m["classes"][1]["object"] = "class-0.o"; }),
            "manifest.classes[1].object: class-0.o is another class's object too");
  EXPECT_EQ(refusal([](json& m) { m["policies"][1]["key"] = m["policies"][0]["key"]; }),
            "manifest.policies[1].key: \"kube-system/coredns\" is listed twice");
  EXPECT_EQ(refusal([](json& m) { m["endpoints"].push_back(m["endpoints"][0]); }),
            "manifest.endpoints[12]: endpoint kube-system/coredns-0 is listed twice");
}

TEST_F(ManifestCheck, RefusesTwoEndpointsSharingAnAddress) {
  EXPECT_EQ(refusal([](json& m) {
              m["endpoints"][endpointIndex(m, "shop", "api-1")]["addresses"][0] =
                  m["endpoints"][endpointIndex(m, "shop", "api-0")]["addresses"][0];
            }),
            "manifest.endpoints[5].addresses[0]: 198.18.1.20 is also the address of shop/api-0");
}

TEST_F(ManifestCheck, RefusesRulesThatDoNotFitTheirPolicyOrTheCounters) {
  EXPECT_EQ(refusal([](json& m) { m["rules"][0]["policy"] = "shop/nope"; }),
            "manifest.rules[0].policy: no policy \"shop/nope\" in manifest.policies");
  EXPECT_EQ(refusal([](json& m) { m["rules"][0]["audit"] = true; }),
            "manifest.rules[0].audit: policy " + (*shop_)["rules"][0]["policy"].get<std::string>() +
                " is not in audit mode");
  EXPECT_EQ(refusal([](json& m) { m["rules"][0]["direction"] = "sideways"; }),
            "manifest.rules[0].direction: expected \"ingress\" or \"egress\"");
  EXPECT_EQ(refusal([](json& m) { m["rules"][0]["id"] = 16777216; }),
            "manifest.rules[0].id: 16777216 is not a rule id (1-16777215)");
  EXPECT_EQ(refusal([](json& m) { m["policies"][0]["namespace"] = ""; }),
            "manifest.policies[0].namespace: required unless clusterwide");
}

TEST_F(ManifestCheck, RefusesTierFieldsThatDoNotFitTheirPolicies) {
  const std::string first = (*shop_)["rules"][0]["policy"];
  EXPECT_EQ(refusal([](json& m) { m["rules"][0]["action"] = "pass"; }),
            "manifest.rules[0].action: \"pass\" is an admin-tier action, and policy " + first + " is not one");
  EXPECT_EQ(refusal([](json& m) { m["rules"][0]["action"] = "skip"; }),
            "manifest.rules[0].action: expected \"allow\", \"deny\" or \"pass\"");
  EXPECT_EQ(refusal([](json& m) { m["policies"][0]["tier"] = "admin"; }),
            "manifest.policies[0].tier: only a clusterwide policy has a tier");
  EXPECT_EQ(refusal([](json& m) { m["policies"][0]["tier"] = "top"; }),
            "manifest.policies[0].tier: expected \"admin\" or \"baseline\" (absent for ordinary policies)");
  EXPECT_EQ(refusal([](json& m) { m["policies"][0]["priority"] = 3; }),
            "manifest.policies[0].priority: only an admin-tier policy has a priority");
  EXPECT_EQ(refusal([](json& m) { m["policies"][0]["namespaces"] = json{{"requirements", json::array()}}; }),
            "manifest.policies[0].namespaces: only a clusterwide policy selects by namespace labels");
  // An ordinary policy's rules listed as the admin tier's.
  const uint32_t fromFrontend = idOf("shop/api", "allow from pods frontend");
  EXPECT_EQ(refusal([&](json& m) {
              auto& ingress = m["classes"][classIndex(m, 1)]["ingress"];
              ingress["admin"] = ingress["rules"];
              ingress["rules"] = json::array();
            }),
            "manifest.classes[1].ingress.admin[0]: rule " + std::to_string(fromFrontend) +
                " belongs to shop/api, of the network tier, not the admin tier");
}

// Found by manifest_fuzzer: nlohmann converts any number to the integer type
// asked for, a float too large for it being undefined behaviour and an
// integer too large wrapping around (4294967297 read as a uint32_t is 1).
TEST_F(ManifestCheck, RefusesNumbersThatAreNotIntegersOfTheirType) {
  EXPECT_EQ(refusal([](json& m) { m["rules"][0]["id"] = 1.68889e75; }), "manifest.rules[0].id: has the wrong type");
  EXPECT_EQ(refusal([](json& m) { m["rules"][0]["id"] = 4294967297ull; }), "manifest.rules[0].id: has the wrong type");
  EXPECT_EQ(refusal([](json& m) { m["rules"][0]["id"] = -1; }), "manifest.rules[0].id: has the wrong type");
  EXPECT_EQ(refusal([](json& m) { m["classes"][1]["ingress"]["rules"] = {3.0, 4}; }),
            "manifest.classes[1].ingress.rules: has the wrong type");
  EXPECT_EQ(refusal([](json& m) { m["classes"][0]["lowering"]["portIntervals"] = -1; }),
            "manifest.classes[0].lowering.portIntervals: has the wrong type");
  EXPECT_EQ(refusal([](json& m) { m["formatVersion"] = 1.5; }), "manifest.formatVersion: has the wrong type");
}

TEST_F(ManifestCheck, RefusesAKeyRepeatedAnywhere) {
  std::string text = shop_->dump(2);
  auto at = text.find("\"abiVersion\"");
  ASSERT_NE(at, std::string::npos);
  text.insert(at, "\"abiVersion\": 9,\n  ");
  std::string error;
  EXPECT_FALSE(artifacts::Manifest::fromJson(text, &error));
  EXPECT_TRUE(Contains(error, "manifest.json:3:3: duplicate key \"abiVersion\" (first at 2:3)")) << error;
}

// apply refuses an inconsistent manifest before the bpffs is even mounted.
TEST_F(ApplyTest, RefusesAnInconsistentManifestBeforeTouchingTheKernel) {
  json m = json::parse(readText(artifacts / "manifest.json"));
  m["classes"][1]["ingress"]["rules"].push_back(999);
  writeText(artifacts / "manifest.json", m.dump(2));
  std::string error;
  EXPECT_FALSE(loader::apply(artifacts.string(), cgroupNode("/nonexistent"), paths, nullptr, &error));
  EXPECT_EQ(error, "refusing '" + artifacts.string() +
                       "': manifest.classes[1].ingress.rules[2]: rule 999 is not in manifest.rules");
  EXPECT_TRUE(nothingApplied());
  EXPECT_FALSE(fs::exists(paths.bpffsRoot)) << "refused before touching bpffs";
}

// manifest.json and the objects are read with io::readRegularFile: a FIFO
// or a device in their place is refused at once, not waited on.
TEST_F(ApplyTest, RefusesAFifoOrADeviceAsManifestOrObjectAtOnce) {
  auto applyRefusal = [this] {
    auto error = std::make_shared<std::string>();
    auto ok = std::make_shared<bool>(true);
    std::string dir = artifacts.string();
    loader::Paths p = paths;
    loader::NodeConfig node = cgroupNode("/nonexistent");
    EXPECT_TRUE(finishesWithin(std::chrono::seconds(10), [=] {
      *ok = loader::apply(dir, node, p, nullptr, error.get());
    })) << "apply blocked on a FIFO or device";
    EXPECT_FALSE(*ok);
    return *error;
  };
  fs::path object = artifacts / "class-0.o";
  fs::remove(object);
  ASSERT_EQ(mkfifo(object.c_str(), 0600), 0);
  EXPECT_TRUE(Contains(applyRefusal(), "object class-0.o of class 0: '" + object.string() +
                                           "' is not a regular file (a FIFO); a class object must be a file"));
  fs::remove(object);
  fs::create_symlink("/dev/zero", object);
  EXPECT_TRUE(Contains(applyRefusal(), "is not a regular file (a character device)"));

  fs::path manifest = artifacts / "manifest.json";
  fs::remove(manifest);
  ASSERT_EQ(mkfifo(manifest.c_str(), 0600), 0);
  EXPECT_TRUE(Contains(applyRefusal(),
                       "'" + manifest.string() + "' is not a regular file (a FIFO); manifest.json must be a file"));
  fs::remove(manifest);
  fs::create_symlink("/dev/zero", manifest);
  EXPECT_TRUE(Contains(applyRefusal(), "is not a regular file (a character device); manifest.json must be a file"));
  EXPECT_TRUE(nothingApplied());
}

}  // namespace
}  // namespace membrane::testing
