// 20,000 peer selectors: more than the 4,096 bits an identity trie value
// holds, so most selector bits (and every lowered CIDR's) live in
// mb_more_peer_bits and decisions look them up there. Both a table-driven
// class and a folded one must compile, pass the real verifier and agree
// with the evaluator on every probe.
#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "abi/datapath.h"
#include "codegen/artifact_writer.h"
#include "evaluator/evaluator.h"
#include "loaded_object.h"
#include "pipeline/pipeline.h"

namespace membrane::testing {
namespace {

constexpr unsigned kSelectors = 20000;

// "big/wide" admits every one of kSelectors apps on a port of its own, with
// some of them denied and 40 CIDRs allowed (table-driven: 20,040 rules).
// "big/narrow" admits a few of the same apps and two of the CIDRs: a small,
// folded class whose selectors were all numbered past 4,096 by "wide".
std::string policies() {
  std::ostringstream p;
  p << "namespace big\npolicy a-wide {\n  selects { app = wide }\n  ingress {\n";
  for (unsigned i = 0; i < kSelectors; ++i) {
    if (i % 50 == 7) p << "    deny from pods { app = svc-" << i << " } on tcp/" << 1000 + i % 500 << "\n";
    p << "    allow from pods { app = svc-" << i << " } on tcp/" << 1000 + i % 500 << "\n";
  }
  for (unsigned c = 0; c < 40; ++c) p << "    allow from cidr 198.19." << c << ".0/24 on tcp/443\n";
  p << "  }\n}\n";
  p << "policy b-narrow {\n  selects { app = narrow }\n  ingress {\n";
  p << "    deny from pods { app = svc-19157 } on tcp/1157\n";
  for (unsigned i : {19157u, 17000u, 12345u, 5000u, 4321u})
    p << "    allow from pods { app = svc-" << i << " } on tcp/" << 1000 + i % 500 << "\n";
  p << "    allow from cidr 198.19.3.0/24, cidr 198.19.39.0/24 on tcp/443\n";
  p << "  }\n}\n";
  return p.str();
}

// Clients with one app each: every 67th selector (so a few hundred, spread
// over all the words), in namespace big, plus the targets.
inventory::Inventory clients() {
  inventory::Inventory inv;
  inv.namespaces.push_back({"big", {{inventory::kNamespaceNameLabel, "big"}}});
  inv.endpoints.push_back({"wide-0", "big", {{"app", "wide"}}, {*net::Address::parse("198.18.0.1")}, {}, "t", "", std::nullopt});
  inv.endpoints.push_back(
      {"narrow-0", "big", {{"app", "narrow"}}, {*net::Address::parse("198.18.0.2")}, {}, "t", "", std::nullopt});
  std::vector<unsigned> apps;
  for (unsigned i = 0; i < kSelectors; i += 67) apps.push_back(i);
  for (unsigned i : {19157u, 17000u, 12345u, 5000u, 4321u, 19999u}) apps.push_back(i);
  for (size_t k = 0; k < apps.size(); ++k) {
    std::string addr = "198.18." + std::to_string(1 + k / 250) + "." + std::to_string(1 + k % 250);
    inv.endpoints.push_back({"client-" + std::to_string(k), "big", {{"app", "svc-" + std::to_string(apps[k])}},
                             {*net::Address::parse(addr)}, {}, "client", "", std::nullopt});
  }
  return inv;
}

TEST(ManySelectors, TwentyThousandSelectorsMatchThroughTheMapAndAgreeWithTheEvaluator) {
  MB_REQUIRE_BPF();
  pipeline::Compilation c;
  c.inventory = clients();
  pipeline::runText({{"many.policy", policies()}}, c);
  ASSERT_FALSE(c.diags.hasErrors());
  const ir::Program& program = *c.ir;
  ASSERT_GE(program.selectors.size(), kSelectors);

  std::string error;
  auto compiler = codegen::ClassCompiler::create(&error);
  ASSERT_TRUE(compiler) << error;
  codegen::Artifacts artifacts = codegen::buildArtifacts(*compiler, program, {});
  ASSERT_EQ(artifacts.manifest.cidrs.size(), 40u) << "a table-driven class lowers every CIDR";
  EXPECT_GE(artifacts.manifest.cidrs.front().bit, uint32_t(MB_PEER_BITS));

  size_t probes = 0, allowed = 0;
  std::mt19937 rng(20000);
  for (const char* targetName : {"wide-0", "narrow-0"}) {
    const ir::Endpoint& target = *program.findEndpoint("big", targetName);
    ASSERT_TRUE(target.classIndex);
    uint32_t classId = program.classes[*target.classIndex].id;
    size_t index = 0;
    while (index < artifacts.objects.size() && artifacts.objects[index].classId != classId) ++index;
    ASSERT_LT(index, artifacts.objects.size());
    const auto& stats = artifacts.objects[index].stats;
    if (std::string(targetName) == "narrow-0") {
      EXPECT_EQ(stats.tableLeaves, 0u) << "the narrow class is folded";
      EXPECT_GT(stats.morePeerWords, 0u) << "its selector bits are past the trie value's";
    } else {
      EXPECT_GT(stats.tableLeaves, 0u) << "the wide class is table-driven";
    }

    auto obj = LoadedObject::load(artifacts.objects[index].elf, 1, &error);
    ASSERT_TRUE(obj) << error.substr(error.size() > 4000 ? error.size() - 4000 : 0);
    obj->fillIdentities(artifacts.manifest, {});
    mbtest::Addr to = mbtest::Addr::parse(target.addresses[0].str());
    for (int i = 0; i < 2500; ++i) {
      net::Address from;
      ir::Peer peer;
      if (rng() % 4) {
        const auto& client = program.endpoints[2 + rng() % (program.endpoints.size() - 2)];
        from = client.addresses[0];
        peer = ir::Peer::endpoint(program.identity(client.identity), from);
      } else {
        from = *net::Address::parse("198.19." + std::to_string(rng() % 45) + "." + std::to_string(1 + rng() % 250));
        peer = ir::Peer::world(from);
      }
      // The ports the rules name, and the client's own app's port more often.
      uint16_t port = rng() % 5 == 0 ? 443 : static_cast<uint16_t>(1000 + rng() % 500);
      if (peer.identity && rng() % 2) {
        unsigned app = static_cast<unsigned>(std::stoul(peer.identity->labels.at("app").substr(4)));
        port = static_cast<uint16_t>(1000 + app % 500);
      }
      auto frame = mbtest::frame(
          mbtest::ip(mbtest::Addr::parse(from.str()), to, ir::kTCP, mbtest::tcp(static_cast<uint16_t>(20000 + i), port)));
      bool passed = obj->passes(Program::TcToEndpoint, frame);
      ir::Verdict v = ir::evaluate(program, target, ir::Direction::Ingress, peer, {ir::kTCP, port});
      ASSERT_EQ(passed, v.allowed) << targetName << " from " << from.str() << " tcp/" << port << ": evaluator says rule "
                                   << v.rule << " (" << ir::reasonName(v.reason) << ")";
      allowed += passed;
      ++probes;
    }
  }
  std::cout << "20,000 selectors: " << probes << " probes, " << allowed << " allowed, 0 mismatches\n";
  EXPECT_GT(allowed, probes / 20);
  EXPECT_LT(allowed, probes);
}

}  // namespace
}  // namespace membrane::testing
