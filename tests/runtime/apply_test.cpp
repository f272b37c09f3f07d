// `membrane apply` refuses bad artifacts before changing anything, and on a
// real cgroup attaches, swaps and detaches with links that outlive it.
#include <gtest/gtest.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstring>

#include "artifacts/manifest.h"
#include "runtime_test_support.h"

namespace membrane::testing {
namespace {

TEST_F(ApplyTest, RefusesAnObjectThatDoesNotMatchItsHash) {
  fs::path object = artifacts / "class-1.o";
  {
    std::fstream f(object, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x42');
  }
  std::string error;
  EXPECT_FALSE(loader::apply(artifacts.string(), cgroupNode("/nonexistent"), paths, nullptr, &error));
  EXPECT_NE(error.find("class-1.o does not match its SHA-256"), std::string::npos) << error;
  EXPECT_TRUE(nothingApplied());
  EXPECT_FALSE(fs::exists(paths.bpffsRoot + "/links")) << "refused before touching bpffs";
}

TEST_F(ApplyTest, RefusesAMissingObject) {
  fs::remove(artifacts / "class-0.o");
  std::string error;
  EXPECT_FALSE(loader::apply(artifacts.string(), cgroupNode("/nonexistent"), paths, nullptr, &error));
  EXPECT_NE(error.find("class-0.o of class 0 is missing"), std::string::npos) << error;
  EXPECT_TRUE(nothingApplied());
}

TEST_F(ApplyTest, RefusesAnotherFormatVersion) {
  fs::path manifest = artifacts / "manifest.json";
  std::ifstream in(manifest);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  std::string ours = "\"formatVersion\": " + std::to_string(membrane::artifacts::kFormatVersion);
  auto at = text.find(ours);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, ours.size(), "\"formatVersion\": 9");
  std::ofstream(manifest) << text;
  std::string error;
  EXPECT_FALSE(loader::apply(artifacts.string(), cgroupNode("/nonexistent"), paths, nullptr, &error));
  EXPECT_NE(error.find("formatVersion: 9 is not supported"), std::string::npos) << error;
  EXPECT_TRUE(nothingApplied());
}

TEST_F(ApplyTest, RefusesAnEndpointTheManifestDoesNotKnow) {
  std::string error;
  auto node = loader::NodeConfig::parse(R"({"endpoints": [{"name": "ghost", "namespace": "shop", "cgroup": "/x"}]})", &error);
  ASSERT_TRUE(node) << error;
  EXPECT_FALSE(loader::apply(artifacts.string(), *node, paths, nullptr, &error));
  EXPECT_NE(error.find("shop/ghost is not in the manifest"), std::string::npos) << error;
}

TEST_F(ApplyTest, AttachesSwapsAndDetachesOnACgroup) {
  MB_REQUIRE_BPF();
  TestCgroup cg;
  ASSERT_TRUE(fs::exists(cg.path)) << "cannot create a test cgroup";
  std::string error;
  loader::ApplyReport first;
  ASSERT_TRUE(loader::apply(artifacts.string(), cgroupNode(cg.path.string()), paths, &first, &error)) << error;
  // cg-in, cg-out, and the socket calls of the api's process rule
  // (connect4, connect6, sendmsg4, sendmsg6).
  EXPECT_EQ(first.attached, 6u);
  auto s = loader::status(paths, &error);
  ASSERT_TRUE(s) << error;
  ASSERT_EQ(s->endpoints.size(), 1u);
  EXPECT_FALSE(s->endpoints[0].learned) << "compiled from the inventory";
  uint32_t progIn = s->endpoints[0].programs.at("cg-in");
  EXPECT_NE(progIn, 0u);

  // The version's rule counters, room for one per rule id (0: default
  // deny), pinned with its trie. Counts as traffic would leave them, at
  // default deny and the highest rule id.
  std::string firstStats = paths.bpffsRoot + "/versions/" + first.version + "/mb_rule_stats";
  int ruleStats = bpf_obj_get(firstStats.c_str());
  ASSERT_GE(ruleStats, 0) << firstStats;
  bpf_map_info info{};
  uint32_t infoLen = sizeof info;
  ASSERT_EQ(bpf_obj_get_info_by_fd(ruleStats, &info, &infoLen), 0);
  uint32_t lastRule = 0;
  for (const auto& r : s->rules) lastRule = std::max(lastRule, r.id);
  EXPECT_EQ(info.type, BPF_MAP_TYPE_PERCPU_HASH) << "rule ids are sparse";
  EXPECT_EQ(info.max_entries, s->rules.size()) << "sized by the version's rules (and default deny), not MB_RULE_MAX";
  size_t cpus = static_cast<size_t>(std::max(libbpf_num_possible_cpus(), 1));
  const std::vector<uint32_t> countedIds = {0, lastRule};
  std::vector<mb_rule_stats> counted(cpus, mb_rule_stats{7, 700});
  for (uint32_t id : countedIds) ASSERT_EQ(bpf_map_update_elem(ruleStats, &id, counted.data(), BPF_ANY), 0);
  close(ruleStats);
  s = loader::status(paths, &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->rules.front().packets, 7u * cpus) << "status reads the version's counters";

  // A new policy version: the links stay, their programs change, atomically.
  fs::path v2 = dir.path() / "out2";
  compileShopTo(v2, "namespace shop\npolicy extra {\n  selects { app = api }\n  ingress { allow from host on tcp/9999 }\n}\n");
  loader::ApplyReport second;
  ASSERT_TRUE(loader::apply(v2.string(), cgroupNode(cg.path.string()), paths, &second, &error)) << error;
  EXPECT_EQ(second.swapped, 6u);
  EXPECT_EQ(second.attached, 0u);
  EXPECT_NE(second.version, first.version);
  s = loader::status(paths, &error);
  ASSERT_TRUE(s) << error;
  EXPECT_NE(s->endpoints[0].programs.at("cg-in"), progIn) << "the link now runs the new program";
  EXPECT_FALSE(fs::exists(paths.bpffsRoot + "/versions/" + first.version)) << "the old version's trie is gone";
  // Each version counts from zero, in its own map.
  EXPECT_FALSE(fs::exists(firstStats)) << "the old version's counters went with it";
  ruleStats = bpf_obj_get((paths.bpffsRoot + "/versions/" + second.version + "/mb_rule_stats").c_str());
  ASSERT_GE(ruleStats, 0);
  for (uint32_t id : countedIds) {
    std::vector<mb_rule_stats> now(cpus, mb_rule_stats{1, 1});
    if (bpf_map_lookup_elem(ruleStats, &id, now.data()) != 0) continue;  // not counted yet: zero
    for (const auto& c : now) EXPECT_EQ(c.packets + c.bytes, 0u) << "rule " << id << " kept its count";
  }
  close(ruleStats);

  ASSERT_TRUE(loader::detachAll(paths, &error)) << error;
  EXPECT_TRUE(nothingApplied());
  EXPECT_FALSE(loader::status(paths, &error));
}

// Maps a membrane of another datapath ABI pinned (mb_reasons had 16 entries
// before ABI 9) cannot be reused: apply names the map and what to do, before
// anything changes, instead of libbpf's "couldn't reuse pinned map".
TEST_F(ApplyTest, RefusesMapsPinnedByAnotherDatapathAbiNamingTheMapAndTheWayOut) {
  MB_REQUIRE_BPF();
  TestCgroup cg;
  std::string error;
  ASSERT_TRUE(loader::ensureBpffs(paths.bpffsRoot, &error)) << error;
  fs::create_directories(paths.bpffsRoot + "/maps");
  int old = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "mb_reasons", 4, 8, 16, nullptr);
  ASSERT_GE(old, 0) << std::strerror(errno);
  ASSERT_EQ(bpf_obj_pin(old, (paths.bpffsRoot + "/maps/mb_reasons").c_str()), 0) << std::strerror(errno);
  close(old);
  EXPECT_FALSE(loader::apply(artifacts.string(), cgroupNode(cg.path.string()), paths, nullptr, &error));
  EXPECT_NE(error.find("/maps/mb_reasons was pinned by a membrane of another datapath ABI"), std::string::npos)
      << error;
  EXPECT_NE(error.find("16 entries"), std::string::npos) << error;
  EXPECT_NE(error.find("run membrane detach, then apply"), std::string::npos) << error;
  EXPECT_TRUE(nothingApplied());
  EXPECT_TRUE(fs::is_empty(paths.bpffsRoot + "/links")) << "nothing attached";
}

// What the datapath learned from DNS is facts, not compiled bits: the DNS
// maps are pinned by name under maps/ like conntrack, shared by every
// object, and a new version reuses them untouched. `status` reports the DNS
// counters.
TEST_F(ApplyTest, DnsStateSurvivesAVersionSwapAndStatusCountsIt) {
  MB_REQUIRE_BPF();
  TestCgroup cg;
  ASSERT_TRUE(fs::exists(cg.path)) << "cannot create a test cgroup";
  std::string error;
  ASSERT_TRUE(loader::apply(artifacts.string(), cgroupNode(cg.path.string()), paths, nullptr, &error)) << error;

  int learned = bpf_obj_get((paths.bpffsRoot + "/maps/mb_dns_learned").c_str());
  int pending = bpf_obj_get((paths.bpffsRoot + "/maps/mb_dns_pending").c_str());
  int stats = bpf_obj_get((paths.bpffsRoot + "/maps/mb_dns_stats").c_str());
  ASSERT_GE(learned, 0) << "mb_dns_learned is not pinned under maps/";
  ASSERT_GE(pending, 0) << "mb_dns_pending is not pinned under maps/";
  ASSERT_GE(stats, 0) << "mb_dns_stats is not pinned under maps/";
  for (const char* name : {"mb_dns_scratch", "mb_dns_nesting"})
    EXPECT_TRUE(fs::exists(paths.bpffsRoot + "/maps/" + name)) << name;
  mb_dns_learned_key lk{};
  lk.endpoint = 7;
  lk.family = MB_FAMILY_V4;
  lk.addr[0] = 198, lk.addr[1] = 18, lk.addr[2] = 5, lk.addr[3] = 1;
  mb_dns_learned lv{};
  std::strcpy(lv.slot[0].name, "api.stripe.com");
  lv.slot[0].expires_ns = ~0ull;
  ASSERT_EQ(bpf_map_update_elem(learned, &lk, &lv, BPF_ANY), 0);
  mb_dns_pending_key pk{};
  pk.endpoint = 7;
  pk.id = 0x4242;
  mb_dns_pending pv{};
  std::strcpy(pv.name, "www.example.com");
  ASSERT_EQ(bpf_map_update_elem(pending, &pk, &pv, BPF_ANY), 0);
  size_t cpus = static_cast<size_t>(std::max(libbpf_num_possible_cpus(), 1));
  std::vector<uint64_t> three(cpus, 0);
  three[0] = 3;
  uint32_t learnedStat = MB_DNS_STAT_LEARNED;
  ASSERT_EQ(bpf_map_update_elem(stats, &learnedStat, three.data(), BPF_ANY), 0);

  fs::path v2 = dir.path() / "out2";
  compileShopTo(v2, "namespace shop\npolicy extra {\n  selects { app = api }\n  ingress { allow from host on tcp/9999 }\n}\n");
  loader::ApplyReport second;
  ASSERT_TRUE(loader::apply(v2.string(), cgroupNode(cg.path.string()), paths, &second, &error)) << error;
  EXPECT_EQ(second.swapped, 6u);
  mb_dns_learned lnow{};
  ASSERT_EQ(bpf_map_lookup_elem(learned, &lk, &lnow), 0) << "the swap lost a learned address";
  EXPECT_STREQ(lnow.slot[0].name, "api.stripe.com");
  mb_dns_pending pnow{};
  ASSERT_EQ(bpf_map_lookup_elem(pending, &pk, &pnow), 0) << "the swap lost a pending query";
  auto s = loader::status(paths, &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->dns.at("dns-learned"), 3u);
  EXPECT_EQ(s->dns.size(), size_t(MB_DNS_STAT_MAX));
  EXPECT_EQ(s->reasons.count("dns-refused"), 1u);
  close(learned);
  close(pending);
  close(stats);
  ASSERT_TRUE(loader::detachAll(paths, &error)) << error;
}

// The shop's frontend calls the api pods on `tcp/http`, an egress named port:
// its condition (`definesPort`) must survive the manifest, and a manifest that
// carries one without promising the loader reads it is refused.
TEST_F(ApplyTest, NamedPortConditionsRoundTripAndNeedTheirFeature) {
  fs::path manifest = artifacts / "manifest.json";
  std::ifstream in(manifest);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  std::string error;
  auto m = artifacts::Manifest::fromJson(text, &error);
  ASSERT_TRUE(m) << error;
  EXPECT_EQ(m->toJson(), text);
  const artifacts::SelectorEntry* cond = nullptr;
  for (const auto& sel : m->selectors)
    if (sel.definesPort) cond = &sel;
  ASSERT_TRUE(cond) << "the shop has an egress named port";
  EXPECT_EQ(*cond->definesPort, (labels::NamedPort{"http", 6, 8080}));
  // Learned endpoints get the condition's bit only with the port.
  labels::LabelSet api = {{"app", "api"}}, ns = {{"kubernetes.io/metadata.name", "shop"}};
  auto has = [&](const std::vector<uint32_t>& bits) {
    return std::find(bits.begin(), bits.end(), cond->bit) != bits.end();
  };
  EXPECT_TRUE(has(m->bitsFor("shop", api, ns, {{"http", 6, 8080}})));
  EXPECT_FALSE(has(m->bitsFor("shop", api, ns, {})));
  EXPECT_FALSE(has(m->bitsFor("shop", api, ns, {{"http", 6, 8081}})));
  EXPECT_FALSE(has(m->bitsFor("shop", api, ns, {{"http", 17, 8080}})));

  auto at = text.find(",\n    \"manifest:named-port-peers\"");
  ASSERT_NE(at, std::string::npos) << text.substr(0, 400);
  text.erase(at, std::string(",\n    \"manifest:named-port-peers\"").size());
  EXPECT_FALSE(artifacts::Manifest::fromJson(text, &error));
  EXPECT_NE(error.find(".definesPort: requiredFeatures must list \"manifest:named-port-peers\""), std::string::npos)
      << error;
  std::ofstream(manifest) << text;
  EXPECT_FALSE(loader::apply(artifacts.string(), cgroupNode("/nonexistent"), paths, nullptr, &error));
  EXPECT_TRUE(nothingApplied());
}

// A local endpoint learned after the compile runs the class compiled for its
// policies and for what it gives the port names their ingress rules use: the
// shop's api class resolved tcp/metrics = 9090 (its HTTP rule names port
// 8080 by number: `with http` takes numbers only).
TEST_F(ApplyTest, LearnedEndpointsPickTheirClassByNamedPorts) {
  MB_REQUIRE_BPF();
  TestCgroup cg;
  ASSERT_TRUE(fs::exists(cg.path)) << "cannot create a test cgroup";
  auto node = [&](const std::string& ports) {
    std::string error;
    auto n = loader::NodeConfig::parse(R"({"endpoints": [{"name": "api-9", "namespace": "shop", "labels": {"app": "api"},
        "addresses": ["198.18.1.99"], "cgroup": ")" + cg.path.string() + R"(", "ports": )" + ports + "}]}",
                                       &error);
    EXPECT_TRUE(n) << error;
    return *n;
  };
  std::string error;
  EXPECT_FALSE(loader::apply(artifacts.string(), node("[]"), paths, nullptr, &error));
  EXPECT_NE(error.find("endpoint shop/api-9 gives its named ports numbers no class compiled for its policies has "
                       "(class 1: tcp/metrics=9090)"),
            std::string::npos)
      << error;
  EXPECT_TRUE(nothingApplied());
  EXPECT_FALSE(loader::apply(artifacts.string(), node(R"([{"name": "http", "port": 8080}, {"name": "metrics", "port": 9091}])"),
                             paths, nullptr, &error));
  EXPECT_TRUE(nothingApplied());

  ASSERT_TRUE(loader::apply(artifacts.string(),
                            node(R"([{"name": "http", "port": 8080}, {"name": "metrics", "port": 9090},
                                     {"name": "other", "port": 1}])"),
                            paths, nullptr, &error))
      << error;
  auto s = loader::status(paths, &error);
  ASSERT_TRUE(s) << error;
  ASSERT_EQ(s->endpoints.size(), 1u);
  EXPECT_EQ(s->endpoints[0].classId, std::optional<uint32_t>(1));
}

// Anti-spoofing drops whatever an endpoint sends from an address it does not
// own: an enforced endpoint with no address at all could send nothing, so
// apply says so instead of attaching a program that silences it.
TEST_F(ApplyTest, RefusesALocalEndpointWithoutAddresses) {
  MB_REQUIRE_BPF();
  TestCgroup cg;
  std::string error;
  auto node = loader::NodeConfig::parse(R"({"endpoints": [{"name": "tool-9", "namespace": "ops", "labels": {"app": "tool"},
      "cgroup": ")" + cg.path.string() + R"("}]})",
                                        &error);
  ASSERT_TRUE(node) << error;
  EXPECT_FALSE(loader::apply(artifacts.string(), *node, paths, nullptr, &error));
  EXPECT_EQ(error, "endpoint ops/tool-9 has no addresses: every packet it sends would be dropped as spoofed; give its "
                   "labels and addresses in NODE.json");
  EXPECT_TRUE(nothingApplied());
}

// Endpoints no policy selects run the open class: policy leaves them alone,
// but anti-spoofing still needs a program at their hooks.
TEST_F(ApplyTest, UnselectedEndpointsRunTheOpenClass) {
  MB_REQUIRE_BPF();
  TestCgroup cg;
  std::string error;
  auto node = loader::NodeConfig::parse(R"({"endpoints": [{"name": "tool-0", "namespace": "ops", "labels": {"app": "tool"},
      "addresses": ["198.18.4.99"], "cgroup": ")" + cg.path.string() + R"("}]})",
                                        &error);
  ASSERT_TRUE(node) << error;
  ASSERT_TRUE(loader::apply(artifacts.string(), *node, paths, nullptr, &error)) << error;
  auto s = loader::status(paths, &error);
  ASSERT_TRUE(s) << error;
  ASSERT_EQ(s->endpoints.size(), 1u);
  auto m = loader::appliedManifest(paths, &error);
  ASSERT_TRUE(m) << error;
  ASSERT_TRUE(s->endpoints[0].classId);
  const artifacts::ClassEntry* cls = m->findClass(*s->endpoints[0].classId);
  ASSERT_TRUE(cls);
  EXPECT_TRUE(cls->policies.empty());
  EXPECT_FALSE(cls->ingress.enforced || cls->egress.enforced);
  EXPECT_EQ(s->endpoints[0].programs.size(), 2u);
  for (const auto& [hook, id] : s->endpoints[0].programs) EXPECT_NE(id, 0u) << hook;
  EXPECT_TRUE(s->endpoints[0].learned) << "ops/tool-0 is not in the compile's inventory: NODE.json named it";
}

// An address is one endpoint's: a peer or learned endpoint (NODE.json, or
// `endpoint add`) that claims a compiled endpoint's address would take its
// identity in the trie, and is refused.
TEST_F(ApplyTest, RefusesAnEndpointClaimingAnotherEndpointsAddress) {
  MB_REQUIRE_BPF();
  TestCgroup cg;
  ASSERT_TRUE(fs::exists(cg.path));
  std::string error;
  auto node = loader::NodeConfig::parse(R"({"endpoints": [{"name": "api-0", "namespace": "shop", "cgroup": ")" +
                                            cg.path.string() + R"("}], "peers": [{"name": "intruder", "namespace": "shop",
        "labels": {"app": "frontend"}, "addresses": ["198.18.9.1", "198.18.1.20"]}]})",
                                        &error);
  ASSERT_TRUE(node) << error;
  EXPECT_FALSE(loader::apply(artifacts.string(), *node, paths, nullptr, &error));
  EXPECT_EQ(error, "endpoint shop/intruder claims 198.18.1.20, which is shop/api-0's address");
  EXPECT_TRUE(nothingApplied());

  ASSERT_TRUE(loader::apply(artifacts.string(), cgroupNode(cg.path.string()), paths, nullptr, &error)) << error;
  e2e::ExecResult added = membrane({"endpoint", "add", "--name", "intruder", "--namespace", "shop", "--label",
                                    "app=frontend", "--address", "198.18.1.20"});
  EXPECT_EQ(added.exitCode, 1) << added.describe();
  EXPECT_EQ(added.err, "membrane: error: endpoint shop/intruder claims 198.18.1.20, which is shop/api-0's address\n");
  e2e::ExecResult badName = membrane({"endpoint", "add", "--name", "b%x", "--namespace", "shop", "--label", "app=api",
                                      "--address", "198.18.9.1"});
  EXPECT_EQ(badName.exitCode, 1) << badName.describe();
  EXPECT_TRUE(Contains(badName.err, "membrane: error: --name: \"b%x\" is not a DNS-1123 subdomain"));
  e2e::ExecResult badNs = membrane({"endpoint", "add", "--name", "b", "--namespace", "Shop", "--label", "app=api",
                                    "--address", "198.18.9.1"});
  EXPECT_TRUE(Contains(badNs.err, "membrane: error: --namespace: \"Shop\" is not a DNS-1123 label"));
  auto state = readText(fs::path(paths.stateDir) / "state.json");
  EXPECT_EQ(state.find("intruder"), std::string::npos) << "nothing was added";
}

}  // namespace
}  // namespace membrane::testing

namespace membrane::testing {
namespace {

// Nodes run `membrane` without a compiler: its link line must not pull LLVM,
// clang or ANTLR in (the design keeps runtime/ free of them).
TEST(MembraneBinary, LinksNoCompilerLibraries) {
  FILE* ldd = popen("ldd " MEMBRANE_BIN " 2>&1", "r");
  ASSERT_NE(ldd, nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, ldd)) out += buf;
  ASSERT_EQ(pclose(ldd), 0) << out;
  EXPECT_NE(out.find("libbpf"), std::string::npos) << out;
  for (const char* forbidden : {"LLVM", "clang", "antlr"})
    EXPECT_EQ(out.find(forbidden), std::string::npos) << "membrane links " << forbidden << ":\n" << out;
}

}  // namespace
}  // namespace membrane::testing
