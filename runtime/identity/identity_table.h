// Contents of the identity trie (mb_identity): for every address the node
// knows, who it is (endpoint or host) and which peer selectors it matches.
// Computed from the manifest, so endpoints learned after compile only need a
// map update, not a recompile.
#pragma once

#include <vector>

#include "abi/datapath.h"
#include "artifacts/manifest.h"
#include "net/address.h"

namespace membrane::identity {

// Numeric identities below 256 are reserved (see docs/artifacts.md).
inline constexpr uint32_t kHostIdentity = 1;
inline constexpr uint32_t kWorldIdentity = 2;

struct TrieEntry {
  mb_lpm_key key{};
  mb_identity value{};
};

mb_lpm_key keyFor(const net::Prefix& prefix);
mb_lpm_key keyFor(const net::Address& address);
void setBits(mb_identity& value, const std::vector<uint32_t>& bits);

// The mb_endpoint_addrs key saying that local endpoint `endpoint` owns
// `address`: packets it sends may carry it as their source.
mb_endpoint_addr_key ownedAddressKey(uint32_t endpoint, const net::Address& address);

// One entry per endpoint address and per host address (with the bits of the
// selectors and lowered CIDRs they match), and one per lowered CIDR prefix
// and except (world, with the CIDR bits of that region). Fails (returns false,
// `error` set) when a selector bit does not fit the datapath ABI.
bool buildEntries(const artifacts::Manifest& manifest, const std::vector<net::Address>& hostAddresses,
                  std::vector<TrieEntry>& out, std::string* error);

}  // namespace membrane::identity
