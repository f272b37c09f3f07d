// artifacts/manifest: the manifest model's writer and validating reader
// (runtime/artifacts/manifest.h, docs/artifacts.md), without a compiler or
// the kernel: a small manifest is built by hand, written, read back and
// edited. The consistency checks against a compiled manifest are in
// tests/runtime/manifest_check_test.cpp.
#include "artifacts/manifest.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "abi/datapath.h"
#include "small_manifest.h"

namespace membrane::artifacts {
namespace {

using nlohmann::json;
using testing::podIs;
using testing::smallManifest;

// The error the small manifest's JSON, edited by `edit`, is refused with ("" if accepted).
std::string refusal(const std::function<void(json&)>& edit) {
  json j = json::parse(smallManifest().toJson());
  edit(j);
  std::string error;
  return Manifest::fromJson(j.dump(2), &error) ? "" : error;
}

TEST(Manifest, TheSmallManifestIsConsistent) {
  std::string error;
  EXPECT_TRUE(smallManifest().check(&error)) << error;
}

TEST(Manifest, ReadsBackWhatItWrites) {
  Manifest m = smallManifest();
  std::string text = m.toJson();
  std::string error;
  auto back = Manifest::fromJson(text, &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->formatVersion, kFormatVersion);
  EXPECT_EQ(back->abiVersion, MB_ABI_VERSION);
  EXPECT_EQ(back->compilerVersion, "0.1.0");
  EXPECT_EQ(back->requiredFeatures, m.requiredFeatures);

  ASSERT_EQ(back->selectors.size(), 1u);
  EXPECT_EQ(back->selectors[0].bit, 0u);
  EXPECT_EQ(back->selectors[0].ns, "x");
  EXPECT_EQ(back->selectors[0].pods, podIs("b"));
  EXPECT_EQ(back->selectors[0].text, "pods {pod = b} in namespace x");

  ASSERT_EQ(back->classes.size(), 2u);
  const ClassEntry* c0 = back->findClass(0);
  ASSERT_TRUE(c0);
  EXPECT_EQ(c0->object, "class-0.o");
  EXPECT_EQ(c0->sha256, std::string(64, 'a'));
  EXPECT_EQ(c0->policies, std::vector<std::string>{"x/p"});
  EXPECT_EQ(c0->endpoints, std::vector<std::string>{"x/a"});
  EXPECT_TRUE(c0->ingress.enforced);
  EXPECT_EQ(c0->ingress.rules, (std::vector<uint32_t>{2, 1}));
  EXPECT_FALSE(c0->egress.enforced);
  EXPECT_EQ(c0->portIntervals, 7u);
  EXPECT_EQ(back->findClass(7), nullptr);

  ASSERT_EQ(back->endpoints.size(), 2u);
  EXPECT_EQ(back->endpoints[1].name, "b");
  EXPECT_EQ(back->endpoints[1].classId, std::optional<uint32_t>(1));
  EXPECT_EQ(back->endpoints[1].addresses.size(), 2u);
  EXPECT_EQ(back->endpoints[1].addresses[1].str(), "2001:2::1:2");

  ASSERT_EQ(back->rules.size(), 2u);
  EXPECT_EQ(back->rules[1].id, 2u);
  EXPECT_EQ(back->rules[1].action, "deny");
  EXPECT_EQ(back->rules[1].location, "t.policy:7:5");

  ASSERT_EQ(back->policies.size(), 1u);
  EXPECT_EQ(back->policies[0].selects, podIs("a"));
  // Written deterministically: the same model gives the same text.
  EXPECT_EQ(back->toJson(), text);
}

TEST(Manifest, TellsAnEndpointLearnedLaterItsBitsAndPolicies) {
  Manifest m = smallManifest();
  labels::LabelSet nsLabels = {{"kubernetes.io/metadata.name", "x"}};
  EXPECT_EQ(m.bitsFor("x", {{"pod", "b"}}, nsLabels, {}), std::vector<uint32_t>{0});
  EXPECT_EQ(m.bitsFor("y", {{"pod", "b"}}, {{"kubernetes.io/metadata.name", "y"}}, {}), std::vector<uint32_t>{});
  EXPECT_EQ(m.selectingPolicies("x", {{"pod", "a"}}, nsLabels), std::vector<std::string>{"x/p"});
  EXPECT_EQ(m.selectingPolicies("x", {{"pod", "c"}}, nsLabels), std::vector<std::string>{});
}

TEST(Manifest, PlacesALaterEndpointByItsNamespacesLabelsWhenAClusterwidePolicyAsksForThem) {
  Manifest m = smallManifest();
  PolicyEntry admin;
  admin.key = "guard";
  admin.clusterwide = true;
  admin.tier = Tier::Admin;
  admin.priority = 5;
  admin.namespaces = labels::Selector{{{"env", labels::Op::Equals, {"prod"}}}};
  m.policies.push_back(admin);
  labels::LabelSet prod = {{"kubernetes.io/metadata.name", "x"}, {"env", "prod"}};
  labels::LabelSet dev = {{"kubernetes.io/metadata.name", "x"}, {"env", "dev"}};
  EXPECT_EQ(m.selectingPolicies("x", {{"pod", "a"}}, prod), (std::vector<std::string>{"guard", "x/p"}));
  EXPECT_EQ(m.selectingPolicies("x", {{"pod", "a"}}, dev), std::vector<std::string>{"x/p"});
  // The fields survive the manifest's JSON, and only where they are set.
  std::string text = m.toJson();
  EXPECT_NE(text.find("\"tier\""), std::string::npos);
  std::string error;
  auto back = Manifest::fromJson(text, &error);
  ASSERT_TRUE(back);
  const PolicyEntry& read = back->policies.back();
  EXPECT_EQ(read.tier, Tier::Admin);
  EXPECT_EQ(read.priority, 5u);
  ASSERT_TRUE(read.namespaces);
  EXPECT_EQ(*read.namespaces, *admin.namespaces);
  EXPECT_FALSE(back->policies.front().namespaces);
  EXPECT_EQ(back->policies.front().tier, Tier::Network);
}

TEST(Manifest, RefusesAnotherFormatOrVersion) {
  EXPECT_EQ(refusal([](json& j) { j["format"] = "something-else"; }),
            "manifest.format: expected \"membrane-artifacts\"");
  EXPECT_EQ(refusal([](json& j) { j["formatVersion"] = kFormatVersion + 1; }),
            "manifest.formatVersion: " + std::to_string(kFormatVersion + 1) + " is not supported (this build reads " +
                std::to_string(kFormatVersion) + ")");
  EXPECT_EQ(refusal([](json& j) { j["formatVersion"] = "1"; }), "manifest.formatVersion: has the wrong type");
}

TEST(Manifest, NamesTheFieldThatIsMissingOrOfTheWrongType) {
  EXPECT_EQ(refusal([](json& j) { j.erase("classes"); }), "manifest: missing \"classes\"");
  EXPECT_EQ(refusal([](json& j) { j["endpoints"][0].erase("identity"); }),
            "manifest.endpoints[0]: missing \"identity\"");
  EXPECT_EQ(refusal([](json& j) { j["rules"][1]["id"] = 2.5; }), "manifest.rules[1].id: has the wrong type");
  EXPECT_EQ(refusal([](json& j) { j["selectors"][0]["bit"] = 4294967296; }),
            "manifest.selectors[0].bit: has the wrong type");
  EXPECT_EQ(refusal([](json& j) { j["selectors"][0]["namespaceScope"] = "nearby"; }),
            "manifest.selectors[0].namespaceScope: unknown scope \"nearby\"");
  EXPECT_EQ(refusal([](json& j) { j["endpoints"][0]["class"] = 9; }), "manifest.endpoints[0].class: no class 9");
}

TEST(Manifest, RefusesClassesWhoseObjectOrHashCouldNotBeTrusted) {
  EXPECT_EQ(refusal([](json& j) { j["classes"][0]["object"] = "../class-0.o"; }),
            "manifest.classes[0].object: must be a plain file name next to the manifest");
  EXPECT_EQ(refusal([](json& j) { j["classes"][0]["sha256"] = std::string(64, 'A'); }),
            "manifest.classes[0].sha256: expected 64 lowercase hex digits");
}

TEST(Manifest, ReadsBackItsPeerSetsAndRefusesKeysThatAreNotHashesOrRepeat) {
  Manifest m = smallManifest();
  EXPECT_EQ(json::parse(m.toJson()).count("peerSets"), 0u) << "none listed: no field";
  m.peerSets = {std::string(64, 'a'), std::string(64, 'b')};
  std::string error;
  auto back = Manifest::fromJson(m.toJson(), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->peerSets, m.peerSets);
  EXPECT_EQ(refusal([](json& j) { j["peerSets"] = {std::string(63, 'a')}; }),
            "manifest.peerSets[0]: expected 64 lowercase hex digits");
  EXPECT_EQ(refusal([](json& j) { j["peerSets"] = {std::string(64, 'a'), std::string(64, 'a')}; }),
            "manifest.peerSets[1]: listed twice");
}

TEST(Manifest, ReadsBackEachClassesVerdictColumnsAndZeroWhereTheFieldIsAbsent) {
  Manifest m = smallManifest();
  m.classes[0].verdictColumns = 86;
  std::string error;
  auto back = Manifest::fromJson(m.toJson(), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->classes[0].verdictColumns, 86u);
  json j = json::parse(m.toJson());
  j["classes"][0]["lowering"].erase("verdictColumns");
  back = Manifest::fromJson(j.dump(2), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->classes[0].verdictColumns, 0u);
}

TEST(Manifest, RefusesPartsThatDisagree) {
  // A rule of no listed policy; an identity whose bits are not its labels'.
  EXPECT_EQ(refusal([](json& j) { j["rules"][0]["policy"] = "x/q"; }),
            "manifest.rules[0].policy: no policy \"x/q\" in manifest.policies");
  EXPECT_EQ(refusal([](json& j) { j["identities"][0]["bits"] = {0}; }),
            "manifest.identities[0].bits: not the selectors its namespace, labels and ports match");
}

TEST(Manifest, ReadsBackAClassesL7PortsAndLeavesThemOutWhenThereAreNone) {
  Manifest m = smallManifest();
  m.classes[0].l7.httpIngress = {{80, 80}, {8000, 8100}};
  m.classes[0].l7.httpEgress = {{443, 443}};
  std::string text = m.toJson();
  std::string error;
  auto back = Manifest::fromJson(text, &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->findClass(0)->l7, m.classes[0].l7);
  EXPECT_TRUE(back->findClass(1)->l7.empty());
  auto j = json::parse(text);
  EXPECT_EQ(j["classes"][0]["l7"]["http"]["ingress"], json::parse("[[80, 80], [8000, 8100]]"));
  EXPECT_FALSE(j["classes"][1].contains("l7"));
}

TEST(Manifest, RefusesL7PortsThatAreNotIncreasingDisjointRanges) {
  auto with = [](const char* ingress) {
    return [ingress](json& j) {
      j["classes"][0]["l7"] = {{"http", {{"ingress", json::parse(ingress)}, {"egress", json::array()}}}};
    };
  };
  EXPECT_EQ(refusal(with("[[80, 80], [80, 90]]")),
            "manifest.classes[0].l7.http.ingress[1]: ranges must be increasing and disjoint");
  EXPECT_EQ(refusal(with("[[90, 80]]")), "manifest.classes[0].l7.http.ingress[0]: expected 1 <= first <= last");
  EXPECT_EQ(refusal(with("[[0, 80]]")), "manifest.classes[0].l7.http.ingress[0]: expected 1 <= first <= last");
  EXPECT_EQ(refusal(with("[[1, 65536]]")),
            "manifest.classes[0].l7.http.ingress[0]: expected [first, last], ports 1-65535");
  EXPECT_EQ(refusal(with("[8080]")), "manifest.classes[0].l7.http.ingress[0]: expected [first, last], ports 1-65535");
  EXPECT_EQ(refusal(with("[]")), "manifest.classes[0].l7: lists no port (leave \"l7\" out instead)");
  EXPECT_EQ(refusal([](json& j) { j["classes"][0]["l7"] = json::object(); }),
            "manifest.classes[0].l7: missing \"http\"");
}

TEST(Manifest, RefusesTextThatIsNotStrictJsonWithItsPosition) {
  std::string error;
  EXPECT_FALSE(Manifest::fromJson("{\"format\": \"membrane-artifacts\",\n \"format\": 1}", &error));
  EXPECT_EQ(error, "manifest.json:2:2: duplicate key \"format\" (first at 1:2)");
  EXPECT_FALSE(Manifest::fromJson("{\"format\": ", &error));
  EXPECT_TRUE(error.starts_with("manifest.json:1:12: not valid JSON: ")) << error;
  EXPECT_FALSE(Manifest::fromJson("[]", &error));
  EXPECT_EQ(error, "manifest: expected an object");
}

}  // namespace
}  // namespace membrane::artifacts
