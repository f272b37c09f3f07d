// Whole-map reads and writes in batches (runtime/loader/kernel.h: mapEntries,
// mapWrite, mapDelete), on a real LPM trie shaped like the identity trie:
// every join and cluster update syncs thousands of entries through them, so
// an entry lost or repeated at a batch boundary would be a wrong identity.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "abi/datapath.h"
#include "environment.h"  // testkit: MB_REQUIRE_BPF
#include "identity/identity_table.h"
#include "loader/kernel.h"
#include "net/address.h"

namespace membrane {
namespace {

// 198.18.A.B/32 for i = A * 256 + B: distinct keys, in no special order.
mb_lpm_key keyOf(int i) {
  return identity::keyFor(*net::Address::parse("198.18." + std::to_string(i / 256) + "." + std::to_string(i % 256)));
}
mb_identity valueOf(int i, uint32_t salt = 0) {
  mb_identity v{};
  v.identity = static_cast<uint32_t>(i) + salt;
  v.flags = MB_PEER_ENDPOINT;
  return v;
}
std::string bytes(const mb_lpm_key& k) { return std::string(reinterpret_cast<const char*>(&k), sizeof k); }

class MapBatches : public ::testing::Test {
 protected:
  loader::Fd trie;
  void SetUp() override {
    MB_REQUIRE_BPF();
    LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
    trie = loader::Fd(bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "mb_test_trie", sizeof(mb_lpm_key), sizeof(mb_identity),
                                     10000, &opts));
    ASSERT_GE(trie.fd, 0) << std::strerror(errno);
  }
  std::map<std::string, uint32_t> contents() {
    std::string error;
    auto entries = loader::mapEntries<mb_lpm_key, mb_identity>(trie.fd, &error);
    EXPECT_TRUE(entries) << error;
    std::map<std::string, uint32_t> out;
    if (!entries) return out;
    for (const auto& [k, v] : *entries) {
      EXPECT_TRUE(out.emplace(bytes(k), v.identity).second) << "an entry read twice";
    }
    return out;
  }
};

TEST_F(MapBatches, AReadAcrossSeveralBatchesReturnsEveryEntryOnceWithItsValue) {
  constexpr int kEntries = 2500;  // past two batches of 1,024
  std::vector<mb_lpm_key> keys;
  std::vector<mb_identity> values;
  for (int i = 0; i < kEntries; ++i) {
    keys.push_back(keyOf(i));
    values.push_back(valueOf(i));
  }
  std::string error;
  ASSERT_TRUE(loader::mapWrite(trie.fd, keys, values, &error)) << error;
  auto got = contents();
  ASSERT_EQ(got.size(), static_cast<size_t>(kEntries));
  for (int i = 0; i < kEntries; ++i) EXPECT_EQ(got[bytes(keyOf(i))], static_cast<uint32_t>(i)) << i;

  // Rewritten: the values change, the keys stay.
  for (int i = 0; i < kEntries; ++i) values[i] = valueOf(i, 100000);
  ASSERT_TRUE(loader::mapWrite(trie.fd, keys, values, &error)) << error;
  got = contents();
  ASSERT_EQ(got.size(), static_cast<size_t>(kEntries));
  EXPECT_EQ(got[bytes(keyOf(7))], 100007u);
}

TEST_F(MapBatches, DeletingPassesOverKeysAlreadyGoneAndCountsOnlyWhatItDeleted) {
  std::vector<mb_lpm_key> keys;
  std::vector<mb_identity> values;
  for (int i = 0; i < 1500; ++i) {
    keys.push_back(keyOf(i));
    values.push_back(valueOf(i));
  }
  std::string error;
  ASSERT_TRUE(loader::mapWrite(trie.fd, keys, values, &error)) << error;
  // Every third key, with keys never written in between.
  std::vector<mb_lpm_key> gone;
  for (int i = 0; i < 1500; i += 3) {
    gone.push_back(keyOf(i));
    gone.push_back(keyOf(5000 + i));
  }
  EXPECT_EQ(loader::mapDelete(trie.fd, gone), 500u);
  auto got = contents();
  EXPECT_EQ(got.size(), 1000u);
  EXPECT_FALSE(got.count(bytes(keyOf(0))));
  EXPECT_TRUE(got.count(bytes(keyOf(1))));
  EXPECT_EQ(loader::mapDelete(trie.fd, std::vector<mb_lpm_key>{}), 0u);
  EXPECT_EQ(contents().size(), 1000u);
}

TEST_F(MapBatches, AnEmptyMapReadsAsNoEntries) {
  std::string error;
  auto entries = loader::mapEntries<mb_lpm_key, mb_identity>(trie.fd, &error);
  ASSERT_TRUE(entries) << error;
  EXPECT_TRUE(entries->empty());
}

}  // namespace
}  // namespace membrane
