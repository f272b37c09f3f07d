// Peer bits past the 4,096 an identity trie value holds, on a node: apply
// writes them to the version's mb_more_peer_bits under each trie entry's
// more_bits, and trie updates (here, the cluster agent's) add the words of
// new sets before the entries naming them and prune the words no entry
// names any more; and every entry carries the number of its peer set among
// the manifest's. Read back from the kernel.
#include <bpf/bpf.h>

#include <map>
#include <set>

#include "identity/identity_table.h"
#include "runtime_test_support.h"

namespace membrane::testing {
namespace {

// 4,150 selectors every shop endpoint matches, then 50 only api endpoints
// match and one only `app = loner` matches: numbered after the shop's own,
// so all of them past bit 4,096 or close to it.
std::string manyPeers() {
  std::string p = "namespace shop\npolicy zz-many-peers {\n  selects { app = postgres }\n  ingress {\n";
  for (int i = 0; i < 4150; ++i) p += "    allow from pods { app != none-" + std::to_string(i) + " } on tcp/" + std::to_string(20000 + i) + "\n";
  for (int i = 0; i < 50; ++i) p += "    allow from pods { app in (api, z-" + std::to_string(i) + ") } on tcp/20001\n";
  p += "    allow from pods { app = loner } on tcp/20002\n  }\n}\n";
  return p;
}

class MorePeerBitsTest : public ApplyTest {
 protected:
  TestCgroup cg;
  std::string version;
  void SetUp() override {
    MB_REQUIRE_BPF();
    paths.bpffsRoot = (dir.path() / "bpf").string();
    paths.stateDir = (dir.path() / "state").string();
    artifacts = dir.path() / "out";
    compileShopTo(artifacts, manyPeers());
    std::string error;
    ASSERT_TRUE(loader::apply(artifacts.string(), cgroupNode(cg.path.string()), paths, nullptr, &error)) << error;
    auto s = loader::status(paths, &error);
    ASSERT_TRUE(s) << error;
    version = s->version;
  }

  loader::Fd pinned(const std::string& map) const {
    return loader::Fd(bpf_obj_get((paths.bpffsRoot + "/versions/" + version + "/" + map).c_str()));
  }
  std::optional<mb_identity> entry(const std::string& address) const {
    loader::Fd trie = pinned("mb_identity");
    mb_lpm_key key = identity::keyFor(*net::Address::parse(address));
    mb_identity v{};
    if (trie.fd < 0 || bpf_map_lookup_elem(trie.fd, &key, &v) != 0) return std::nullopt;
    return v;
  }
  // mb_more_peer_bits as the kernel has it: set → word → bits.
  std::map<uint64_t, std::map<uint32_t, uint64_t>> moreWords() const {
    loader::Fd more = pinned("mb_more_peer_bits");
    EXPECT_GE(more.fd, 0);
    std::map<uint64_t, std::map<uint32_t, uint64_t>> out;
    for (const auto& k : loader::mapKeys<mb_more_peer_bits_key>(more.fd)) {
      uint64_t bits = 0;
      if (bpf_map_lookup_elem(more.fd, &k, &bits) == 0) out[k.set][k.word] = bits;
    }
    return out;
  }
  // The words past bits[] the manifest gives endpoint `name`'s identity.
  std::map<uint32_t, uint64_t> expectedWords(const std::string& name) const {
    auto m = nlohmann::json::parse(readText(artifacts / "manifest.json"));
    uint32_t id = 0;
    for (const auto& e : m["endpoints"])
      if (e["name"] == name) id = e["identity"];
    std::map<uint32_t, uint64_t> words;
    for (const auto& i : m["identities"])
      if (i["id"] == id)
        for (uint32_t b : i["bits"])
          if (b >= MB_PEER_BITS) words[b / 64] |= uint64_t(1) << (b % 64);
    return words;
  }
  loader::ClusterUpdate set(const std::vector<loader::ClusterEndpoint>& endpoints) {
    loader::ClusterUpdate u;
    std::string error;
    EXPECT_TRUE(loader::clusterEndpointsSet(endpoints, paths, &u, &error)) << error;
    return u;
  }
  static loader::ClusterEndpoint remote(const std::string& name, labels::LabelSet l, const std::string& address) {
    loader::ClusterEndpoint c;
    c.node = "node-b";
    c.endpoint.name = name;
    c.endpoint.ns = "shop";
    c.endpoint.labels = std::move(l);
    c.endpoint.addresses = {*net::Address::parse(address)};
    c.revision = 1;
    return c;
  }
};

TEST_F(MorePeerBitsTest, ApplyWritesEachEndpointsWordsPastTheTrieValueUnderItsKey) {
  auto api = entry("198.18.1.20");
  auto frontend = entry("198.18.1.10");
  ASSERT_TRUE(api && frontend);
  ASSERT_NE(api->more_bits, 0u);
  ASSERT_NE(frontend->more_bits, 0u);
  EXPECT_NE(api->more_bits, frontend->more_bits) << "api matches 50 selectors frontend does not";
  EXPECT_EQ(entry("198.18.1.21")->more_bits, api->more_bits) << "api-1 has api-0's identity";
  auto words = moreWords();
  EXPECT_EQ(words[api->more_bits], expectedWords("api-0"));
  EXPECT_EQ(words[frontend->more_bits], expectedWords("frontend-0"));
  EXPECT_FALSE(expectedWords("api-0").empty());
}

TEST_F(MorePeerBitsTest, TrieUpdatesAddNewSetsFirstAndPruneTheWordsNoEntryNames) {
  auto before = moreWords();
  // An endpoint with api-0's labels and named ports shares its words:
  // nothing new.
  auto api7Record = remote("api-7", {{"app", "api"}, {"tier", "backend"}}, "198.18.7.1");
  api7Record.endpoint.ports = {{"http", 6, 8080}, {"metrics", 6, 9090}};
  set({api7Record});
  auto api7 = entry("198.18.7.1");
  ASSERT_TRUE(api7);
  EXPECT_EQ(api7->more_bits, entry("198.18.1.20")->more_bits);
  EXPECT_EQ(moreWords(), before);

  // One only the loner selector matches brings a set of its own.
  set({remote("loner-1", {{"app", "loner"}}, "198.18.7.2")});
  auto loner = entry("198.18.7.2");
  ASSERT_TRUE(loner);
  auto during = moreWords();
  EXPECT_EQ(during.size(), before.size() + 1);
  ASSERT_TRUE(during.count(loner->more_bits));
  EXPECT_FALSE(before.count(loner->more_bits));
  EXPECT_FALSE(entry("198.18.7.1")) << "api-7 left with its record";

  // When it leaves, its words go too; the others stay.
  set({});
  EXPECT_FALSE(entry("198.18.7.2"));
  EXPECT_EQ(moreWords(), before);
}

// 4,201 rules in postgres's ingress make it table-driven, so the manifest
// lists the peer sets the compiler built its verdicts for, and the node
// numbers every trie entry by that list: 1 + the index, 0 when unlisted.
TEST_F(MorePeerBitsTest, TrieEntriesCarryTheirPeerSetsNumberFromTheManifestOrNoneWhenItIsNotListed) {
  auto m = nlohmann::json::parse(readText(artifacts / "manifest.json"));
  ASSERT_TRUE(m.contains("peerSets"));
  size_t listed = m["peerSets"].size();
  auto api = entry("198.18.1.20");
  auto frontend = entry("198.18.1.10");
  ASSERT_TRUE(api && frontend);
  EXPECT_GE(api->set, 1u);
  EXPECT_LE(api->set, listed);
  EXPECT_EQ(entry("198.18.1.21")->set, api->set) << "api-1 has api-0's identity";
  EXPECT_NE(frontend->set, 0u);
  EXPECT_NE(frontend->set, api->set);

  // Learned later: with api's labels and ports, api's set; with labels no
  // address the compiler knew of has, none (its class scans).
  auto api7Record = remote("api-7", {{"app", "api"}, {"tier", "backend"}}, "198.18.7.1");
  api7Record.endpoint.ports = {{"http", 6, 8080}, {"metrics", 6, 9090}};
  set({api7Record, remote("loner-1", {{"app", "loner"}}, "198.18.7.2")});
  auto api7 = entry("198.18.7.1");
  auto loner = entry("198.18.7.2");
  ASSERT_TRUE(api7 && loner);
  EXPECT_EQ(api7->set, api->set);
  EXPECT_EQ(loner->set, 0u);
}

}  // namespace
}  // namespace membrane::testing
