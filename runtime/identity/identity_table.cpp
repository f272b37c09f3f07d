#include "identity/identity_table.h"

#include <cstring>
#include <map>
#include <set>
#include <string>

namespace membrane::identity {

mb_lpm_key keyFor(const net::Prefix& prefix) {
  mb_lpm_key key{};
  key.prefixlen = 32 + prefix.length;
  key.family = prefix.family() == net::Family::V4 ? MB_FAMILY_V4 : MB_FAMILY_V6;
  std::memcpy(key.addr, prefix.addr.bytes.data(), sizeof key.addr);
  return key;
}

mb_lpm_key keyFor(const net::Address& address) {
  return keyFor(net::Prefix{address, static_cast<uint8_t>(address.bits())});
}

mb_endpoint_addr_key ownedAddressKey(uint32_t endpoint, const net::Address& address) {
  mb_endpoint_addr_key key{};
  key.endpoint = endpoint;
  key.family = address.family == net::Family::V4 ? MB_FAMILY_V4 : MB_FAMILY_V6;
  std::memcpy(key.addr, address.bytes.data(), sizeof key.addr);
  return key;
}

void setBits(TrieEntry& entry, const std::vector<uint32_t>& bits) {
  for (uint32_t b : bits) {
    uint64_t bit = uint64_t(1) << (b % 64);
    if (b < MB_PEER_BITS)
      entry.value.bits[b / 64] |= bit;
    else
      entry.more[b / 64] |= bit;
  }
}

namespace {

// Words past the trie value's as bytes, in word order: what both keys hash.
void appendWords(std::string& bytes, const std::map<uint32_t, uint64_t>& words) {
  for (const auto& [w, bits] : words) {
    bytes.append(reinterpret_cast<const char*>(&w), sizeof w);
    bytes.append(reinterpret_cast<const char*>(&bits), sizeof bits);
  }
}

// The key of a set of words past the trie value's: the first 8 bytes of the
// SHA-256 of the words, never 0 (0 is "none"). A hash rather than a number
// handed out per apply, so that a key always names the same words: the trie
// and mb_more_peer_bits are written one after the other, never together,
// and an entry read in between must not find another set's words.
uint64_t moreBitsKey(const std::map<uint32_t, uint64_t>& words) {
  std::string bytes;
  appendWords(bytes, words);
  uint64_t key = std::stoull(artifacts::sha256Hex(bytes).substr(0, 16), nullptr, 16);
  return key ? key : 1;
}

// Sets more_bits of every entry with words past bits[].
bool keyMoreBits(std::vector<TrieEntry>& entries, std::string* error) {
  std::map<uint64_t, const std::map<uint32_t, uint64_t>*> seen;
  for (auto& e : entries) {
    if (e.more.empty()) continue;
    e.value.more_bits = moreBitsKey(e.more);
    auto [it, fresh] = seen.emplace(e.value.more_bits, &e.more);
    if (!fresh && *it->second != e.more) {
      if (error) *error = "two different sets of peer bits have one key in mb_more_peer_bits";
      return false;
    }
  }
  return true;
}

// mb_identity.set of entries[from..]: 1 + the index of their set in the
// manifest's peerSets, or 0.
void numberPeerSets(const artifacts::Manifest& manifest, std::vector<TrieEntry>& entries, size_t from) {
  if (manifest.peerSets.empty()) return;
  std::map<std::string, uint32_t> index;
  for (size_t i = 0; i < manifest.peerSets.size(); ++i) index.emplace(manifest.peerSets[i], static_cast<uint32_t>(i));
  for (size_t i = from; i < entries.size(); ++i) {
    TrieEntry& e = entries[i];
    auto it = index.find(peerSetKey(e));
    e.value.set = it == index.end() ? 0 : it->second + 1;
  }
}

}  // namespace

std::string peerSetKey(const TrieEntry& entry) {
  std::string bytes;
  bytes.reserve(sizeof entry.value.flags + sizeof entry.value.bits + entry.more.size() * 12);
  bytes.append(reinterpret_cast<const char*>(&entry.value.flags), sizeof entry.value.flags);
  bytes.append(reinterpret_cast<const char*>(entry.value.bits), sizeof entry.value.bits);
  appendWords(bytes, entry.more);
  return artifacts::sha256Hex(bytes);
}

std::vector<std::string> peerSets(const std::vector<TrieEntry>& entries, std::vector<const TrieEntry*>* firsts) {
  std::vector<std::string> keys;
  std::set<std::string> seen;
  for (const auto& e : entries) {
    std::string key = peerSetKey(e);
    if (!seen.insert(key).second) continue;
    keys.push_back(std::move(key));
    if (firsts) firsts->push_back(&e);
  }
  return keys;
}

std::vector<MorePeerWord> morePeerWords(const std::vector<TrieEntry>& entries) {
  std::map<std::pair<uint64_t, uint32_t>, uint64_t> words;
  for (const auto& e : entries)
    for (const auto& [w, bits] : e.more) words[{e.value.more_bits, w}] = bits;
  std::vector<MorePeerWord> out;
  out.reserve(words.size());
  for (const auto& [key, bits] : words) {
    MorePeerWord m;
    m.key.set = key.first;
    m.key.word = key.second;
    m.bits = bits;
    out.push_back(m);
  }
  return out;
}

bool buildEntries(const artifacts::Manifest& manifest, const std::vector<net::Address>& hostAddresses,
                  std::vector<TrieEntry>& out, std::string* error) {
  auto cidrBits = [&](const net::Address& a) {
    std::vector<uint32_t> bits;
    for (const auto& c : manifest.cidrs)
      if (c.matches(a)) bits.push_back(c.bit);
    return bits;
  };
  std::map<uint32_t, const artifacts::IdentityEntry*> identities;
  for (const auto& i : manifest.identities) identities[i.id] = &i;
  std::map<net::Address, TrieEntry> byAddress;
  for (const auto& ep : manifest.endpoints) {
    auto it = identities.find(ep.identity);
    if (it == identities.end()) {
      if (error) *error = "endpoint " + ep.ns + "/" + ep.name + " has unknown identity " + std::to_string(ep.identity);
      return false;
    }
    for (const auto& a : ep.addresses) {
      TrieEntry e;
      e.key = keyFor(a);
      e.value.flags = MB_PEER_ENDPOINT;
      e.value.identity = ep.identity;
      setBits(e, it->second->bits);
      setBits(e, cidrBits(a));
      byAddress[a] = e;
    }
  }
  for (const auto& a : hostAddresses) {
    if (byAddress.count(a)) continue;  // an endpoint's address is the endpoint's
    TrieEntry e;
    e.key = keyFor(a);
    e.value.flags = MB_PEER_HOST;
    e.value.identity = kHostIdentity;
    setBits(e, cidrBits(a));
    byAddress[a] = e;
  }
  // Regions: every prefix boundary a lowered CIDR draws.
  std::map<net::Prefix, TrieEntry> byPrefix;
  for (const auto& c : manifest.cidrs) {
    std::vector<net::Prefix> bounds = c.except;
    bounds.push_back(c.prefix);
    for (const auto& p : bounds) {
      if (byPrefix.count(p) || p.length == p.addr.bits()) continue;  // full-length: an address entry below
      TrieEntry e;
      e.key = keyFor(p);
      e.value.flags = MB_PEER_WORLD;
      e.value.identity = kWorldIdentity;
      for (const auto& other : manifest.cidrs)
        if (other.matchesRegion(p)) setBits(e, {other.bit});
      byPrefix[p] = e;
    }
  }
  // Single addresses named by CIDRs that are not endpoints or the host.
  for (const auto& c : manifest.cidrs) {
    std::vector<net::Prefix> bounds = c.except;
    bounds.push_back(c.prefix);
    for (const auto& p : bounds) {
      if (p.length != p.addr.bits() || byAddress.count(p.addr)) continue;
      TrieEntry e;
      e.key = keyFor(p);
      e.value.flags = MB_PEER_WORLD;
      e.value.identity = kWorldIdentity;
      setBits(e, cidrBits(p.addr));
      byAddress[p.addr] = e;
    }
  }
  size_t first = out.size();
  out.reserve(out.size() + byPrefix.size() + byAddress.size());
  for (auto& [p, e] : byPrefix) out.push_back(std::move(e));
  for (auto& [a, e] : byAddress) out.push_back(std::move(e));
  if (!keyMoreBits(out, error)) return false;
  numberPeerSets(manifest, out, first);
  return true;
}

}  // namespace membrane::identity
