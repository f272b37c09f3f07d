#include "identity/identity_table.h"

#include <cstring>
#include <map>

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

void setBits(mb_identity& value, const std::vector<uint32_t>& bits) {
  for (uint32_t b : bits) value.bits[b / 64] |= uint64_t(1) << (b % 64);
}

bool buildEntries(const artifacts::Manifest& manifest, const std::vector<net::Address>& hostAddresses,
                  std::vector<TrieEntry>& out, std::string* error) {
  if (manifest.selectors.size() + manifest.cidrs.size() > MB_PEER_BITS) {
    if (error) *error = std::to_string(manifest.selectors.size() + manifest.cidrs.size()) +
                        " peer bits exceed the datapath's " + std::to_string(MB_PEER_BITS);
    return false;
  }
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
      setBits(e.value, it->second->bits);
      setBits(e.value, cidrBits(a));
      byAddress[a] = e;
    }
  }
  for (const auto& a : hostAddresses) {
    if (byAddress.count(a)) continue;  // an endpoint's address is the endpoint's
    TrieEntry e;
    e.key = keyFor(a);
    e.value.flags = MB_PEER_HOST;
    e.value.identity = kHostIdentity;
    setBits(e.value, cidrBits(a));
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
        if (other.matchesRegion(p)) setBits(e.value, {other.bit});
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
      setBits(e.value, cidrBits(p.addr));
      byAddress[p.addr] = e;
    }
  }
  out.reserve(out.size() + byPrefix.size() + byAddress.size());
  for (auto& [p, e] : byPrefix) out.push_back(e);
  for (auto& [a, e] : byAddress) out.push_back(e);
  return true;
}

}  // namespace membrane::identity
