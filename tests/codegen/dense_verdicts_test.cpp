// Table-driven classes decide a peer whose set the compiler knew of (the
// manifest's peerSets), or an address outside the trie, with one load from a
// table of verdicts by port leaf and set, and scan the leaf's entries for any
// other peer. Both paths must
// agree with the evaluator, and the table must really be what decides.
#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "codegen/artifact_writer.h"
#include "evaluator/evaluator.h"
#include "identity/identity_table.h"
#include "loaded_object.h"
#include "pipeline/pipeline.h"

namespace membrane::testing {
namespace {

// 320 ingress rules (past the table threshold) over 61 ports: selectors,
// denies for canaries, namespace-scoped udp rules, CIDRs and entities (the
// table's flags entries), so leaves hold several rules of each kind.
std::string tablePolicy() {
  std::ostringstream p;
  p << "namespace big\npolicy table {\n  selects { app = target }\n  ingress {\n";
  std::mt19937 rng(5);
  for (size_t i = 0; i < 320; ++i) {
    unsigned svc = rng() % 20, port = 1000 + rng() % 61;
    switch (i % 10) {
      case 0: p << "    allow from cidr 198.19." << (i / 10) % 16 << ".0/24 on tcp/" << port << "\n"; break;
      case 1: p << "    deny from pods { app = svc-" << svc << ", tier = canary } on tcp/" << port << "\n"; break;
      case 2: p << "    allow from pods { app = svc-" << svc << " } on tcp/" << port << "-" << port + rng() % 9 << "\n"; break;
      case 3:
        p << "    allow from pods { app = svc-" << svc << " } in namespaces { team = t" << svc % 4 << " } on udp/"
          << port << "\n";
        break;
      case 4: p << "    allow from " << (i % 20 == 4 ? "world" : "cluster") << " on tcp/" << port << "\n"; break;
      default: p << "    allow from pods { app = svc-" << svc << " } on tcp/" << port << "\n"; break;
    }
  }
  p << "  }\n}\n";
  return p.str();
}

inventory::Inventory tableInventory() {
  inventory::Inventory inv;
  for (int n = 0; n < 4; ++n)
    inv.namespaces.push_back({"ns" + std::to_string(n), {{"team", "t" + std::to_string(n)}, {inventory::kNamespaceNameLabel, "ns" + std::to_string(n)}}});
  inv.namespaces.push_back({"big", {{inventory::kNamespaceNameLabel, "big"}}});
  inv.endpoints.push_back({"target-0", "big", {{"app", "target"}}, {*net::Address::parse("198.18.0.1")}, {}, "target", "", std::nullopt});
  // Two pods per workload: pods with the same labels share a peer set.
  for (int i = 0; i < 40; ++i) {
    std::string ns = i % 2 ? "big" : "ns" + std::to_string(i % 4);
    labels::LabelSet labels = {{"app", "svc-" + std::to_string(i % 20)}};
    if (i % 3 == 0) labels["tier"] = "canary";
    inv.endpoints.push_back({"client-" + std::to_string(i), ns, labels,
                             {*net::Address::parse("198.18.1." + std::to_string(i + 1))}, {}, "client", "", std::nullopt});
  }
  return inv;
}

struct Probe {
  net::Address from;
  ir::Peer peer;
  uint8_t proto;
  uint16_t port;
};

class DenseVerdicts : public ::testing::Test {
 protected:
  void SetUp() override {
    MB_REQUIRE_BPF();
    c_.inventory = tableInventory();
    pipeline::runText({{"table.policy", tablePolicy()}}, c_);
    ASSERT_FALSE(c_.diags.hasErrors());
    std::string error;
    auto compiler = codegen::ClassCompiler::create(&error);
    ASSERT_TRUE(compiler) << error;
    artifacts_ = codegen::buildArtifacts(*compiler, *c_.ir, {});
    ASSERT_TRUE(identity::buildEntries(artifacts_.manifest, {}, entries_, &error)) << error;
    object_ = LoadedObject::load(artifacts_.objects[0].elf, 1, &error);
    ASSERT_TRUE(object_) << error.substr(error.size() > 4000 ? error.size() - 4000 : 0);
    target_ = c_.ir->findEndpoint("big", "target-0");

    // Every client on every port the rules use (and one either side), and
    // outside addresses in and out of the CIDRs.
    for (const auto& ep : c_.ir->endpoints) {
      if (&ep == target_) continue;
      for (uint16_t port = 999; port <= 1070; ++port)
        for (uint8_t proto : {ir::kTCP, ir::kUDP})
          probes_.push_back({ep.addresses[0], ir::Peer::endpoint(c_.ir->identity(ep.identity), ep.addresses[0]), proto, port});
    }
    // 198.19.0-15.0/24 are CIDR regions in the trie; 198.19.16-19.7 are
    // outside it (world: MB_PEER_SET_WORLD's column).
    for (int n = 0; n < 20; ++n) {
      auto a = *net::Address::parse("198.19." + std::to_string(n) + ".7");
      for (uint16_t port = 999; port <= 1070; ++port) probes_.push_back({a, ir::Peer::world(a), ir::kTCP, port});
    }
  }

  bool passes(const Probe& p, uint16_t sport) {
    mbtest::Bytes l4 = p.proto == ir::kTCP ? mbtest::tcp(sport, p.port) : mbtest::udp(sport, p.port);
    auto frame = mbtest::frame(mbtest::ip(mbtest::Addr::parse(p.from.str()), mbtest::Addr::parse("198.18.0.1"), p.proto, l4));
    object_->clearConntrack();
    return object_->passes(Program::TcToEndpoint, frame);
  }

  ir::Verdict evaluate(const Probe& p) const {
    return ir::evaluate(*c_.ir, *target_, ir::Direction::Ingress, p.peer, {p.proto, p.port});
  }

  // Every probe against the evaluator; returns how many were allowed.
  size_t agreeWithTheEvaluator() {
    size_t allowed = 0;
    for (size_t i = 0; i < probes_.size(); ++i) {
      const Probe& p = probes_[i];
      bool passed = passes(p, static_cast<uint16_t>(20000 + i % 40000));
      ir::Verdict v = evaluate(p);
      EXPECT_EQ(passed, v.allowed) << "from " << p.from.str() << " " << ir::protocolName(p.proto) << "/" << p.port
                                   << ": evaluator says rule " << v.rule << " (" << ir::reasonName(v.reason) << ")";
      if (passed != v.allowed) break;
      allowed += passed;
    }
    return allowed;
  }

  pipeline::Compilation c_;
  codegen::Artifacts artifacts_;
  std::vector<identity::TrieEntry> entries_;
  std::unique_ptr<LoadedObject> object_;
  const ir::Endpoint* target_ = nullptr;
  std::vector<Probe> probes_;
};

TEST_F(DenseVerdicts, KnownPeerSetsAreDecidedByTheTableAndUnknownOnesByTheScanAlike) {
  const auto& stats = artifacts_.objects[0].stats;
  ASSERT_GT(stats.tableLeaves, 0u) << "320 rules in a direction are table-driven";
  EXPECT_GT(stats.denseColumns, 0u);
  EXPECT_EQ(artifacts_.manifest.classes[0].verdictColumns, stats.denseColumns) << "the manifest reports it";
  ASSERT_FALSE(artifacts_.manifest.peerSets.empty());
  // Pods of one workload share a set; no entry is unknown without host
  // addresses.
  EXPECT_LT(artifacts_.manifest.peerSets.size(), entries_.size());
  for (const auto& e : entries_) EXPECT_NE(e.value.set, 0u);

  object_->setIdentities(entries_);
  size_t allowed = agreeWithTheEvaluator();
  EXPECT_GT(allowed, 0u);
  EXPECT_LT(allowed, probes_.size());

  // The same peers with sets the compiler did not know: the scan decides.
  std::vector<identity::TrieEntry> unknown = entries_;
  for (auto& e : unknown) e.value.set = 0;
  object_->setIdentities(unknown);
  EXPECT_EQ(agreeWithTheEvaluator(), allowed);
}

TEST_F(DenseVerdicts, AKnownSetIsDecidedByItsTableColumnNotByTheBitsBesideIt) {
  // Two clients that some probe tells apart.
  const Probe* probe = nullptr;
  const identity::TrieEntry *a = nullptr, *b = nullptr;
  auto entryOf = [&](const net::Address& addr) -> const identity::TrieEntry* {
    mb_lpm_key key = identity::keyFor(addr);
    for (const auto& e : entries_)
      if (std::memcmp(&e.key, &key, sizeof key) == 0) return &e;
    return nullptr;
  };
  for (const auto& p : probes_) {
    if (p.peer.kind != ir::Peer::Kind::Endpoint || evaluate(p).allowed) continue;
    for (const auto& q : probes_)
      if (q.peer.kind == ir::Peer::Kind::Endpoint && q.proto == p.proto && q.port == p.port && evaluate(q).allowed) {
        probe = &p, a = entryOf(p.from), b = entryOf(q.from);
        break;
      }
    if (probe) break;
  }
  ASSERT_TRUE(probe && a && b) << "no probe that one client passes and another does not";
  ASSERT_NE(a->value.set, b->value.set);

  // a's bits under b's set: a known set is decided by its column alone.
  std::vector<identity::TrieEntry> swapped = entries_;
  for (auto& e : swapped)
    if (std::memcmp(&e.key, &a->key, sizeof e.key) == 0) e.value.set = b->value.set;
  object_->setIdentities(swapped);
  EXPECT_TRUE(passes(*probe, 31000)) << "the table lookup did not decide " << probe->from.str();

  // The same entry with no set is scanned by its own bits again.
  for (auto& e : swapped)
    if (std::memcmp(&e.key, &a->key, sizeof e.key) == 0) e.value.set = 0;
  object_->setIdentities(swapped);
  EXPECT_FALSE(passes(*probe, 31001));
}

}  // namespace
}  // namespace membrane::testing
