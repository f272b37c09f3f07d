// identity/identity_table: the identity trie's entries computed from a
// manifest (runtime/identity/identity_table.h): who each address is and
// which peer bits it carries. Checked as data, without the kernel; the
// tests in tests/codegen/ run packets against a filled trie.
#include "identity/identity_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "small_manifest.h"

namespace membrane::identity {
namespace {

using artifacts::testing::smallManifest;

net::Address addr(const char* text) { return *net::Address::parse(text); }
net::Prefix prefix(const char* text) { return *net::Prefix::parse(text); }

bool hasBit(const mb_identity& v, uint32_t bit) { return (v.bits[bit / 64] >> (bit % 64)) & 1; }
size_t bitCount(const mb_identity& v) {
  size_t n = 0;
  for (uint64_t w : v.bits) n += static_cast<size_t>(__builtin_popcountll(w));
  return n;
}

std::optional<TrieEntry> entryFor(const std::vector<TrieEntry>& entries, const net::Prefix& p) {
  mb_lpm_key key = keyFor(p);
  for (const auto& e : entries)
    if (std::memcmp(&e.key, &key, sizeof key) == 0) return e;
  return std::nullopt;
}

// The small manifest with 198.18.9.0/24 except 198.18.9.128/25 lowered as bit 1.
artifacts::Manifest withCidr() {
  artifacts::Manifest m = smallManifest();
  m.cidrs.push_back({1, prefix("198.18.9.0/24"), {prefix("198.18.9.128/25")}});
  return m;
}

TEST(TrieKeys, CountTheFamilyFieldInThePrefixLength) {
  mb_lpm_key v4 = keyFor(prefix("198.18.9.0/24"));
  EXPECT_EQ(v4.prefixlen, 32u + 24u);
  EXPECT_EQ(v4.family, static_cast<uint32_t>(MB_FAMILY_V4));
  EXPECT_EQ(v4.addr[0], 198);
  EXPECT_EQ(v4.addr[2], 9);
  mb_lpm_key v6 = keyFor(addr("2001:2::1"));
  EXPECT_EQ(v6.prefixlen, 32u + 128u);
  EXPECT_EQ(v6.family, static_cast<uint32_t>(MB_FAMILY_V6));
  EXPECT_EQ(v6.addr[15], 1);
}

TEST(TrieKeys, SetBitsSpreadsBitsOverTheWords) {
  TrieEntry e;
  setBits(e, {0, 63, 64, MB_PEER_BITS - 1});
  EXPECT_EQ(e.value.bits[0], (uint64_t{1} << 63) | 1u);
  EXPECT_EQ(e.value.bits[1], 1u);
  EXPECT_EQ(e.value.bits[MB_PEER_WORDS - 1], uint64_t{1} << 63);
  EXPECT_TRUE(e.more.empty());
}

TEST(TrieKeys, SetBitsPutsBitsPastTheTrieValueInMoreWords) {
  TrieEntry e;
  setBits(e, {MB_PEER_BITS, MB_PEER_BITS + 65, 20000});
  EXPECT_EQ(e.more.size(), 3u);
  EXPECT_EQ(e.more.at(MB_PEER_WORDS), 1u);
  EXPECT_EQ(e.more.at(MB_PEER_WORDS + 1), 2u);
  EXPECT_EQ(e.more.at(20000 / 64), uint64_t{1} << (20000 % 64));
  for (uint64_t w : e.value.bits) EXPECT_EQ(w, 0u);
}

TEST(IdentityTable, GivesEveryEndpointAddressItsIdentityAndSelectorBits) {
  std::vector<TrieEntry> entries;
  std::string error;
  ASSERT_TRUE(buildEntries(smallManifest(), {}, entries, &error)) << error;
  EXPECT_EQ(entries.size(), 3u);  // x/a's address and x/b's two
  auto a = entryFor(entries, prefix("198.18.1.1/32"));
  auto b4 = entryFor(entries, prefix("198.18.1.2/32"));
  auto b6 = entryFor(entries, prefix("2001:2::1:2/128"));
  ASSERT_TRUE(a && b4 && b6);
  EXPECT_EQ(a->value.flags, MB_PEER_ENDPOINT);
  EXPECT_EQ(a->value.identity, 256u);
  EXPECT_EQ(bitCount(a->value), 0u);
  EXPECT_EQ(b4->value.identity, 257u);
  EXPECT_TRUE(hasBit(b4->value, 0));
  EXPECT_EQ(bitCount(b6->value), 1u);
}

TEST(IdentityTable, TheHostIsItsAddressesUnlessAnEndpointHasThem) {
  std::vector<TrieEntry> entries;
  std::string error;
  ASSERT_TRUE(buildEntries(smallManifest(), {addr("198.18.0.1"), addr("198.18.1.2")}, entries, &error)) << error;
  auto host = entryFor(entries, prefix("198.18.0.1/32"));
  ASSERT_TRUE(host);
  EXPECT_EQ(host->value.flags, MB_PEER_HOST);
  EXPECT_EQ(host->value.identity, kHostIdentity);
  auto b = entryFor(entries, prefix("198.18.1.2/32"));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->value.flags, MB_PEER_ENDPOINT);  // the endpoint's, not the host's
}

TEST(IdentityTable, ALoweredCidrGetsARegionPerPrefixAndExcept) {
  std::vector<TrieEntry> entries;
  std::string error;
  ASSERT_TRUE(buildEntries(withCidr(), {addr("198.18.9.7")}, entries, &error)) << error;
  auto inside = entryFor(entries, prefix("198.18.9.0/24"));
  auto except = entryFor(entries, prefix("198.18.9.128/25"));
  ASSERT_TRUE(inside && except);
  EXPECT_EQ(inside->value.flags, MB_PEER_WORLD);
  EXPECT_EQ(inside->value.identity, kWorldIdentity);
  EXPECT_TRUE(hasBit(inside->value, 1));
  EXPECT_EQ(bitCount(except->value), 0u);  // the except is outside the CIDR
  // A host address inside the CIDR carries its bit too.
  auto host = entryFor(entries, prefix("198.18.9.7/32"));
  ASSERT_TRUE(host);
  EXPECT_EQ(host->value.flags, MB_PEER_HOST);
  EXPECT_TRUE(hasBit(host->value, 1));
  // An endpoint outside it does not.
  auto a = entryFor(entries, prefix("198.18.1.1/32"));
  ASSERT_TRUE(a);
  EXPECT_FALSE(hasBit(a->value, 1));
}

TEST(IdentityTable, RefusesAnEndpointOfAnUnknownIdentity) {
  artifacts::Manifest m = smallManifest();
  m.endpoints[0].identity = 999;
  std::vector<TrieEntry> entries;
  std::string error;
  EXPECT_FALSE(buildEntries(m, {}, entries, &error));
  EXPECT_EQ(error, "endpoint x/a has unknown identity 999");
}

// Past MB_PEER_BITS there is no ceiling: a CIDR numbered after 4,096 others
// marks its region through mb_more_peer_bits, under a key that is one per
// distinct set of words.
TEST(IdentityTable, BitsPastTheTrieValueGoToMorePeerWordsKeyedByTheirContent) {
  artifacts::Manifest m = smallManifest();
  for (uint32_t i = 0; i < MB_PEER_BITS; ++i) m.cidrs.push_back({1 + i, prefix("198.18.9.0/24"), {}});
  m.cidrs.push_back({1 + MB_PEER_BITS, prefix("198.18.10.0/24"), {}});
  std::vector<TrieEntry> entries;
  std::string error;
  ASSERT_TRUE(buildEntries(m, {addr("198.18.9.7"), addr("198.18.10.7")}, entries, &error)) << error;
  auto region9 = entryFor(entries, prefix("198.18.9.0/24"));
  auto region10 = entryFor(entries, prefix("198.18.10.0/24"));
  auto host9 = entryFor(entries, prefix("198.18.9.7/32"));
  auto host10 = entryFor(entries, prefix("198.18.10.7/32"));
  auto endpoint = entryFor(entries, prefix("198.18.1.1/32"));
  ASSERT_TRUE(region9 && region10 && host9 && host10 && endpoint);
  // Bits 1..4096: 4095 in the value, bit 4096 (word 64) past it.
  EXPECT_EQ(bitCount(region9->value), size_t(MB_PEER_BITS - 1));
  EXPECT_EQ(region9->more, (std::map<uint32_t, uint64_t>{{MB_PEER_WORDS, 1u}}));
  EXPECT_EQ(bitCount(region10->value), 0u);
  EXPECT_EQ(region10->more, (std::map<uint32_t, uint64_t>{{MB_PEER_WORDS, 2u}}));
  // One key per distinct set of words: the host inside a region shares it.
  EXPECT_NE(region9->value.more_bits, 0u);
  EXPECT_EQ(host9->value.more_bits, region9->value.more_bits);
  EXPECT_EQ(host10->value.more_bits, region10->value.more_bits);
  EXPECT_NE(region9->value.more_bits, region10->value.more_bits);
  EXPECT_EQ(endpoint->value.more_bits, 0u);  // nothing past bits[]
  std::vector<MorePeerWord> words = morePeerWords(entries);
  ASSERT_EQ(words.size(), 2u);
  for (const auto& w : words) {
    EXPECT_EQ(w.key.word, uint32_t(MB_PEER_WORDS));
    EXPECT_EQ(w.bits, w.key.set == region9->value.more_bits ? 1u : 2u);
  }
}

TEST(IdentityTable, EntriesGetTheIndexOfTheirPeerSetAmongTheManifestsAndZeroWhenItIsNotListed) {
  artifacts::Manifest m = withCidr();
  std::vector<TrieEntry> entries;
  std::string error;
  ASSERT_TRUE(buildEntries(m, {}, entries, &error)) << error;
  for (const auto& e : entries) EXPECT_EQ(e.value.set, 0u) << "the manifest lists no sets";
  // The sets as the compiler lists them: distinct keys, first entry of each.
  std::vector<const TrieEntry*> firsts;
  m.peerSets = peerSets(entries, &firsts);
  ASSERT_EQ(firsts.size(), m.peerSets.size());
  ASSERT_GE(m.peerSets.size(), 2u);
  // Keep all but the first set: its entries are unknown on the node.
  std::string dropped = m.peerSets.front();
  m.peerSets.erase(m.peerSets.begin());
  entries.clear();
  ASSERT_TRUE(buildEntries(m, {addr("198.18.9.7")}, entries, &error)) << error;
  for (const auto& e : entries) {
    std::string key = peerSetKey(e);
    if (key == dropped) {
      EXPECT_EQ(e.value.set, 0u);
      continue;
    }
    auto it = std::find(m.peerSets.begin(), m.peerSets.end(), key);
    if (it == m.peerSets.end()) {
      EXPECT_EQ(e.value.set, 0u) << "a host address the compiler did not know of";
    } else {
      EXPECT_EQ(e.value.set, 1u + static_cast<uint32_t>(it - m.peerSets.begin()));
    }
  }
}

TEST(IdentityTable, APeerSetKeyCoversTheFlagsTheBitsAndTheWordsPastThem) {
  TrieEntry a;
  setBits(a, {3});
  TrieEntry flags = a, bits = a, more = a;
  flags.value.flags = MB_PEER_HOST;
  setBits(bits, {70});
  setBits(more, {MB_PEER_BITS + 1});
  TrieEntry other = a;
  other.key = keyFor(addr("198.18.1.9"));  // the address is not part of the set
  other.value.identity = 99;
  EXPECT_EQ(peerSetKey(a), peerSetKey(other));
  EXPECT_NE(peerSetKey(a), peerSetKey(flags));
  EXPECT_NE(peerSetKey(a), peerSetKey(bits));
  EXPECT_NE(peerSetKey(a), peerSetKey(more));
  EXPECT_EQ(peerSetKey(a).size(), 64u);
}

TEST(IdentityTable, OwnedAddressKeysNameTheEndpointAndTheAddress) {
  mb_endpoint_addr_key k = ownedAddressKey(7, addr("2001:2::5"));
  EXPECT_EQ(k.endpoint, 7u);
  EXPECT_EQ(k.family, static_cast<uint32_t>(MB_FAMILY_V6));
  EXPECT_EQ(k.addr[15], 5);
}

}  // namespace
}  // namespace membrane::identity
