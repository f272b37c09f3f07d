// A 10,000-rule direction must compile, pass the real verifier and still
// agree with the evaluator. Prints the processed-instruction counts so CI
// logs record them.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <sstream>

#include "codegen/artifact_writer.h"
#include "pipeline/pipeline.h"
#include "evaluator/evaluator.h"
#include "loaded_object.h"

namespace membrane::testing {
namespace {

// 10,000 ingress rules for one endpoint class, a realistic mix: allows from
// 300 workloads on 500 ports and port ranges, 100 external CIDRs (more than
// the fold limit, so they are lowered into the identity trie), denies.
std::string largePolicy(size_t rules) {
  std::ostringstream p;
  p << "namespace big\npolicy large {\n  selects { app = target }\n  ingress {\n";
  std::mt19937 rng(7);
  for (size_t i = 0; i < rules; ++i) {
    unsigned svc = rng() % 300, port = 1000 + rng() % 500;
    switch (i % 10) {
      case 0:
        p << "    allow from cidr 198.19." << (i / 10) % 100 << ".0/24 on tcp/" << port << "\n";
        break;
      case 1:
        p << "    deny from pods { app = svc-" << svc << ", tier = canary } on tcp/" << port << "\n";
        break;
      case 2:
        p << "    allow from pods { app = svc-" << svc << " } on tcp/" << port << "-" << port + rng() % 40 << "\n";
        break;
      case 3:
        p << "    allow from pods { app = svc-" << svc << " } in namespaces { team = t" << svc % 7
          << " } on udp/" << port << "\n";
        break;
      default:
        p << "    allow from pods { app = svc-" << svc << " } on tcp/" << port << "\n";
        break;
    }
  }
  p << "  }\n}\n";
  return p.str();
}

inventory::Inventory largeInventory() {
  inventory::Inventory inv;
  for (int n = 0; n < 7; ++n)
    inv.namespaces.push_back({"ns" + std::to_string(n), {{"team", "t" + std::to_string(n)}, {inventory::kNamespaceNameLabel, "ns" + std::to_string(n)}}});
  inv.namespaces.push_back({"big", {{inventory::kNamespaceNameLabel, "big"}}});
  inv.endpoints.push_back({"target-0", "big", {{"app", "target"}}, {*net::Address::parse("198.18.0.1")}, {}, "target", "", std::nullopt});
  for (int i = 0; i < 60; ++i) {
    std::string ns = i % 2 ? "big" : "ns" + std::to_string(i % 7);
    labels::LabelSet labels = {{"app", "svc-" + std::to_string(i * 5)}};
    if (i % 4 == 0) labels["tier"] = "canary";
    inv.endpoints.push_back({"client-" + std::to_string(i), ns, labels,
                             {*net::Address::parse("198.18.1." + std::to_string(i + 1))}, {}, "client", "", std::nullopt});
  }
  return inv;
}

TEST(LargePolicy, TenThousandRulesCompileLoadAndAgree) {
  MB_REQUIRE_BPF();
  const size_t kRules = 10000;
  pipeline::Compilation c;
  c.inventory = largeInventory();
  pipeline::runText({{"large.policy", largePolicy(kRules)}}, c);
  ASSERT_FALSE(c.diags.hasErrors());
  ASSERT_EQ(c.ir->classes.size(), 1u);
  ASSERT_EQ(c.ir->classes[0].ingress.rules.size(), kRules);

  std::string error;
  auto compiler = codegen::ClassCompiler::create(&error);
  ASSERT_TRUE(compiler) << error;
  auto start = std::chrono::steady_clock::now();
  codegen::Artifacts artifacts = codegen::buildArtifacts(*compiler, *c.ir, {});
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_FALSE(artifacts.manifest.cidrs.empty()) << "100 CIDRs exceed the fold limit and belong in the trie";

  auto obj = LoadedObject::load(artifacts.objects[0].elf, 1, &error);
  ASSERT_TRUE(obj) << error.substr(error.size() > 4000 ? error.size() - 4000 : 0);
  obj->fillIdentities(artifacts.manifest, {});
  const auto& stats = artifacts.objects[0].stats;
  std::cout << "10,000 rules: compiled in " << seconds << " s; " << stats.intervals << " port intervals, "
            << stats.maxLeafRules << " rules in the longest leaf, " << stats.searchNodes << " search nodes; "
            << "verifier processed " << obj->verifiedInstructions(Program::TcToEndpoint) << " instructions for "
            << programName(Program::TcToEndpoint) << ", " << obj->verifiedInstructions(Program::TcFromEndpoint)
            << " for " << programName(Program::TcFromEndpoint) << "\n";
  EXPECT_LT(obj->verifiedInstructions(Program::TcToEndpoint), 1000000u);

  // Spot-check against the evaluator: clients, outside addresses, ports.
  const ir::Program& program = *c.ir;
  const ir::Endpoint& target = *program.findEndpoint("big", "target-0");
  std::mt19937 rng(11);
  size_t allowed = 0, checked = 0;
  for (int i = 0; i < 3000; ++i) {
    net::Address peerAddr;
    ir::Peer peer;
    if (rng() % 3) {
      const auto& client = program.endpoints[1 + rng() % (program.endpoints.size() - 1)];
      peerAddr = client.addresses[0];
      peer = ir::Peer::endpoint(program.identity(client.identity), peerAddr);
    } else {
      peerAddr = *net::Address::parse("198.19." + std::to_string(rng() % 110) + "." + std::to_string(1 + rng() % 250));
      peer = ir::Peer::world(peerAddr);
    }
    uint8_t proto = rng() % 4 ? ir::kTCP : ir::kUDP;
    uint16_t port = static_cast<uint16_t>(990 + rng() % 560);
    uint16_t sport = static_cast<uint16_t>(20000 + i);
    mbtest::Bytes l4 = proto == ir::kTCP ? mbtest::tcp(sport, port) : mbtest::udp(sport, port);
    auto frame = mbtest::frame(mbtest::ip(mbtest::Addr::parse(peerAddr.str()), mbtest::Addr::parse("198.18.0.1"), proto, l4));
    bool passed = obj->passes(Program::TcToEndpoint, frame);
    ir::Verdict v = ir::evaluate(program, target, ir::Direction::Ingress, peer, {proto, port});
    ASSERT_EQ(passed, v.allowed) << "from " << peerAddr.str() << " " << ir::protocolName(proto) << "/" << port
                                 << ": evaluator says rule " << v.rule << " (" << ir::reasonName(v.reason) << ")";
    allowed += passed;
    ++checked;
  }
  EXPECT_GT(allowed, 0u);
  EXPECT_LT(allowed, checked);
}

}  // namespace
}  // namespace membrane::testing
