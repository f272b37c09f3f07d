// Program kinds in the manifest and the loader: every class lists its
// programs with their kind, hook, direction and kernel features; the reader
// refuses a list it cannot trust, naming the field; the loader attaches what
// the list says, by kind, and refuses a kind it cannot attach before it
// touches anything.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "abi/datapath.h"
#include "artifacts/programs.h"
#include "loader/attach.h"
#include "runtime_test_support.h"

namespace membrane::testing {
namespace {

using nlohmann::json;

// The shop's manifest, compiled once, edited one way per case.
class ProgramList : public ShopManifestTest {
 protected:
  // classes[0].programs[0] is mb_tc_from_endpoint at tc-from.
  static json& first(json& m) { return m["classes"][0]["programs"][0]; }
};

TEST_F(ProgramList, EveryClassListsTheSkeletonsProgramsWithKindHookAndFeatures) {
  std::string error;
  auto m = artifacts::Manifest::fromJson(shop_->dump(2), &error);
  ASSERT_TRUE(m) << error;
  ASSERT_FALSE(m->classes.empty());
  for (const auto& c : m->classes) {
    // The packet programs; a class with process rules (the api's) also the
    // socket calls and the gate.
    ASSERT_EQ(c.programs.size(), c.executables.empty() ? 4u : 9u) << "class " << c.id;
    for (size_t i = 4; i < c.programs.size(); ++i) {
      const auto& p = c.programs[i];
      EXPECT_EQ(p.name, artifacts::processPrograms()[i - 4].name);
      EXPECT_EQ(p.kind, p.hook == "process-gate" ? artifacts::kKindProcessGate : artifacts::kKindSockAddr);
      EXPECT_EQ(p.direction, "egress");
    }
    EXPECT_EQ(c.programs[0].name, MB_PROG_TC_FROM_ENDPOINT);
    EXPECT_EQ(c.programs[0].kind, artifacts::kKindTc);
    EXPECT_EQ(c.programs[0].hook, "tc-from");
    EXPECT_EQ(c.programs[0].direction, "egress");
    EXPECT_EQ(c.programs[0].requiredFeatures, std::vector<std::string>{"prog:sched_cls"});
    EXPECT_EQ(c.programs[1].name, MB_PROG_TC_TO_ENDPOINT);
    EXPECT_EQ(c.programs[1].hook, "tc-to");
    EXPECT_EQ(c.programs[1].direction, "ingress");
    EXPECT_EQ(c.programs[2].name, MB_PROG_CGROUP_INGRESS);
    EXPECT_EQ(c.programs[2].kind, artifacts::kKindCgroupSkb);
    EXPECT_EQ(c.programs[2].hook, "cg-in");
    EXPECT_EQ(c.programs[2].requiredFeatures, std::vector<std::string>{"prog:cgroup_skb"});
    EXPECT_EQ(c.programs[3].name, MB_PROG_CGROUP_EGRESS);
    EXPECT_EQ(c.programs[3].hook, "cg-out");
    EXPECT_EQ(c.programs[3].direction, "egress");
  }
  // Program kinds' features are the programs'; the manifest's own are the
  // maps', and what a node checks is both.
  for (const auto& f : m->requiredFeatures) EXPECT_FALSE(f.starts_with("prog:")) << f;
  auto all = m->allRequiredFeatures();
  EXPECT_NE(std::find(all.begin(), all.end(), "prog:sched_cls"), all.end());
  EXPECT_NE(std::find(all.begin(), all.end(), "prog:cgroup_skb"), all.end());
  EXPECT_NE(std::find(all.begin(), all.end(), "map:lpm_trie"), all.end());
  EXPECT_EQ(m->toJson(), shop_->dump(2) + "\n") << "written as read";
}

TEST_F(ProgramList, RefusesAnUnknownKindOrHook) {
  EXPECT_EQ(refusal([](json& m) { first(m)["kind"] = "xdp"; }),
            "manifest.classes[0].programs[0].kind: unknown program kind \"xdp\"");
  EXPECT_EQ(refusal([](json& m) { first(m)["hook"] = "tc-sideways"; }),
            "manifest.classes[0].programs[0].hook: unknown hook \"tc-sideways\"");
  // Hook names become link pin names: nothing but a known one gets there.
  EXPECT_EQ(refusal([](json& m) { first(m)["hook"] = "../../x"; }),
            "manifest.classes[0].programs[0].hook: unknown hook \"../../x\"");
}

TEST_F(ProgramList, RefusesAHookOfAnotherKindOrDirection) {
  EXPECT_EQ(refusal([](json& m) { first(m)["hook"] = "cg-out"; }),
            "manifest.classes[0].programs[0].hook: cg-out runs cgroup_skb programs, not tc");
  EXPECT_EQ(refusal([](json& m) { first(m)["direction"] = "ingress"; }),
            "manifest.classes[0].programs[0].direction: tc-from guards the endpoint's egress");
  EXPECT_EQ(refusal([](json& m) { first(m)["direction"] = "both"; }),
            "manifest.classes[0].programs[0].direction: expected \"ingress\" or \"egress\"");
}

TEST_F(ProgramList, RefusesMissingFieldsAndWrongTypes) {
  for (const char* key : {"name", "kind", "hook", "direction", "requiredFeatures"})
    EXPECT_EQ(refusal([&](json& m) { first(m).erase(key); }),
              std::string("manifest.classes[0].programs[0]: missing \"") + key + "\"");
  EXPECT_EQ(refusal([](json& m) { m["classes"][0].erase("programs"); }), "manifest.classes[0]: missing \"programs\"");
  EXPECT_EQ(refusal([](json& m) { m["classes"][0]["programs"] = json::object(); }),
            "manifest.classes[0].programs: expected an array");
  EXPECT_EQ(refusal([](json& m) { first(m)["kind"] = 1; }), "manifest.classes[0].programs[0].kind: has the wrong type");
  EXPECT_EQ(refusal([](json& m) { first(m)["requiredFeatures"] = "prog:sched_cls"; }),
            "manifest.classes[0].programs[0].requiredFeatures: has the wrong type");
}

TEST_F(ProgramList, RefusesAProgramWithoutItsKindsFeatures) {
  EXPECT_EQ(refusal([](json& m) { first(m)["requiredFeatures"] = json::array(); }),
            "manifest.classes[0].programs[0].requiredFeatures: a tc program needs \"prog:sched_cls\"");
}

TEST_F(ProgramList, RefusesDuplicatesBadNamesAndAClassWithoutPrograms) {
  EXPECT_EQ(refusal([](json& m) { m["classes"][0]["programs"][1]["name"] = MB_PROG_TC_FROM_ENDPOINT; }),
            "manifest.classes[0].programs[1].name: mb_tc_from_endpoint is listed twice");
  EXPECT_EQ(refusal([](json& m) {
              json& second = m["classes"][0]["programs"][1];
              second["hook"] = "tc-from";
              second["direction"] = "egress";
            }),
            "manifest.classes[0].programs[1].hook: tc-from has another program already");
  EXPECT_EQ(refusal([](json& m) { first(m)["name"] = "mb prog"; }),
            "manifest.classes[0].programs[0].name: \"mb prog\" is not a program name");
  EXPECT_EQ(refusal([](json& m) { first(m)["name"] = ""; }),
            "manifest.classes[0].programs[0].name: \"\" is not a program name");
  EXPECT_EQ(refusal([](json& m) { m["classes"][0]["programs"] = json::array(); }),
            "manifest.classes[0].programs: empty, but every class object runs at some hook");
}

TEST(AttachPoints, MapEachKindToItsTargetAndKernelDirection) {
  const loader::AttachPoint* tc = loader::attachPointFor(artifacts::kKindTc);
  ASSERT_TRUE(tc);
  EXPECT_EQ(tc->target, loader::AttachTarget::Interface);
  // The host side of the veth receives what the endpoint sends.
  EXPECT_TRUE(tc->kernelIngress("egress"));
  EXPECT_FALSE(tc->kernelIngress("ingress"));
  const loader::AttachPoint* cg = loader::attachPointFor(artifacts::kKindCgroupSkb);
  ASSERT_TRUE(cg);
  EXPECT_EQ(cg->target, loader::AttachTarget::Cgroup);
  EXPECT_TRUE(cg->kernelIngress("ingress"));
  EXPECT_FALSE(loader::attachPointFor("xdp"));
  // Every hook a manifest may name resolves to an attach point.
  for (const auto& h : artifacts::kHooks) EXPECT_TRUE(loader::resolveHook(h.name)) << h.name;
  EXPECT_FALSE(loader::resolveHook("tc-sideways"));
}

// The loader's own check, for a manifest that passed the reader (a kind the
// format knows but this loader has no attach point for).
TEST_F(ApplyTest, RefusesAProgramKindItCannotAttach) {
  std::string error;
  auto m = artifacts::Manifest::fromJson(readText(artifacts / "manifest.json"), &error);
  ASSERT_TRUE(m) << error;
  EXPECT_TRUE(loader::checkAttachable(*m, &error)) << error;
  m->classes[1].programs[2].kind = "sockops";
  EXPECT_FALSE(loader::checkAttachable(*m, &error));
  EXPECT_EQ(error,
            "manifest.classes[1].programs[2].kind: program mb_cgroup_ingress is of kind \"sockops\", which this "
            "membrane cannot attach");
}

// Through apply: a manifest naming a kind nothing here knows is refused with
// the field, and nothing is applied.
TEST_F(ApplyTest, RefusesAManifestWithAnUnknownProgramKindBeforeTouchingAnything) {
  json m = json::parse(readText(artifacts / "manifest.json"));
  m["classes"][1]["programs"][2]["kind"] = "sockops";
  writeText(artifacts / "manifest.json", m.dump(2) + "\n");
  std::string error;
  EXPECT_FALSE(loader::apply(artifacts.string(), cgroupNode("/nonexistent"), paths, nullptr, &error));
  EXPECT_TRUE(Contains(error, "manifest.classes[1].programs[2].kind: unknown program kind \"sockops\"")) << error;
  EXPECT_TRUE(nothingApplied());
  EXPECT_FALSE(fs::exists(paths.bpffsRoot + "/links"));
}

// The loader attaches the programs the manifest lists for the endpoint's
// target, not a fixed set: a class listing only its cgroup ingress program
// gets only that hook, and a class with no program for the endpoint's
// target is refused.
TEST_F(ApplyTest, AttachesTheProgramsTheManifestLists) {
  MB_REQUIRE_BPF();
  TestCgroup cg;
  ASSERT_TRUE(fs::exists(cg.path)) << "cannot create a test cgroup";
  json m = json::parse(readText(artifacts / "manifest.json"));
  size_t apiClass = 0;
  for (const auto& e : m["endpoints"])
    if (e["namespace"] == "shop" && e["name"] == "api-0") apiClass = e["class"];
  json* programs = nullptr;
  for (auto& c : m["classes"])
    if (c["id"] == apiClass) programs = &c["programs"];
  ASSERT_TRUE(programs);
  json onlyIn = json::array();
  for (const auto& p : *programs)
    if (p["hook"] != "cg-out") onlyIn.push_back(p);
  *programs = onlyIn;
  writeText(artifacts / "manifest.json", m.dump(2) + "\n");

  std::string error;
  loader::ApplyReport report;
  ASSERT_TRUE(loader::apply(artifacts.string(), cgroupNode(cg.path.string()), paths, &report, &error)) << error;
  // cg-in and the api's four socket calls: what the manifest lists for a
  // cgroup, and nothing at cg-out.
  EXPECT_EQ(report.attached, 5u);
  auto s = loader::status(paths, &error);
  ASSERT_TRUE(s) << error;
  ASSERT_EQ(s->endpoints.size(), 1u);
  EXPECT_EQ(s->endpoints[0].hooks.size(), 5u);
  EXPECT_TRUE(s->endpoints[0].hooks.count("cg-in"));
  EXPECT_FALSE(s->endpoints[0].hooks.count("cg-out"));
  EXPECT_TRUE(s->problems.empty()) << s->problems.front();
  ASSERT_TRUE(loader::detachAll(paths, &error)) << error;

  // No cgroup program at all for the class: refused, nothing applied.
  json tcOnly = json::array();
  for (const auto& p : onlyIn)
    if (p["kind"] == artifacts::kKindTc) tcOnly.push_back(p);
  *programs = tcOnly;
  writeText(artifacts / "manifest.json", m.dump(2) + "\n");
  EXPECT_FALSE(loader::apply(artifacts.string(), cgroupNode(cg.path.string()), paths, nullptr, &error));
  EXPECT_TRUE(Contains(error, "endpoint shop/api-0: class " + std::to_string(apiClass) +
                                  " has no program for a cgroup"));
  EXPECT_TRUE(nothingApplied());
}

// A program the manifest lists but the object lacks is found before any
// hook is attached, not halfway through.
TEST_F(ApplyTest, RefusesAListedProgramTheObjectDoesNotHave) {
  MB_REQUIRE_BPF();
  TestCgroup cg;
  json m = json::parse(readText(artifacts / "manifest.json"));
  for (auto& c : m["classes"])
    for (auto& p : c["programs"])
      if (p["hook"] == "cg-out") p["name"] = "mb_cgroup_sideways";
  writeText(artifacts / "manifest.json", m.dump(2) + "\n");
  std::string error;
  EXPECT_FALSE(loader::apply(artifacts.string(), cgroupNode(cg.path.string()), paths, nullptr, &error));
  EXPECT_TRUE(Contains(error, "has no program mb_cgroup_sideways, which the manifest lists at cg-out")) << error;
  EXPECT_TRUE(nothingApplied());
  EXPECT_TRUE(fs::is_empty(paths.bpffsRoot + "/links"));
}

}  // namespace
}  // namespace membrane::testing
