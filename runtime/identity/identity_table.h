// Contents of the identity trie (mb_identity): for every address the node
// knows, who it is (endpoint or host) and which peer selectors it matches.
// Computed from the manifest, so endpoints learned after compile only need a
// map update, not a recompile.
#pragma once

#include <map>
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
  // The entry's words past value.bits (index >= MB_PEER_WORDS, nonzero):
  // mb_more_peer_bits entries under value.more_bits (set by buildEntries).
  std::map<uint32_t, uint64_t> more;
};

mb_lpm_key keyFor(const net::Prefix& prefix);
mb_lpm_key keyFor(const net::Address& address);
// Bits below MB_PEER_BITS into entry.value.bits, the others into entry.more.
void setBits(TrieEntry& entry, const std::vector<uint32_t>& bits);

// What mb_more_peer_bits holds for `entries` (built by buildEntries): one
// entry per word of each distinct set, in key order.
struct MorePeerWord {
  mb_more_peer_bits_key key{};
  uint64_t bits = 0;
};
std::vector<MorePeerWord> morePeerWords(const std::vector<TrieEntry>& entries);

// The key of an entry's peer set: SHA-256 (hex) of its flags, bits[] and
// words past them. Entries with one key are decided alike by every class;
// the manifest's peerSets lists keys (artifacts/manifest.h).
std::string peerSetKey(const TrieEntry& entry);
// The distinct keys of `entries`, in order of first appearance, and (with
// `firsts`) the first entry of each.
std::vector<std::string> peerSets(const std::vector<TrieEntry>& entries,
                                  std::vector<const TrieEntry*>* firsts = nullptr);

// The mb_endpoint_addrs key saying that local endpoint `endpoint` owns
// `address`: packets it sends may carry it as their source.
mb_endpoint_addr_key ownedAddressKey(uint32_t endpoint, const net::Address& address);

// One entry per endpoint address and per host address (with the bits of the
// selectors and lowered CIDRs they match), and one per lowered CIDR prefix
// and except (world, with the CIDR bits of that region). An entry with bits
// past MB_PEER_BITS gets more_bits, a hash of those words, and an entry
// whose peer set the manifest lists gets set (1 + its index). Fails (returns
// false, `error` set) when an endpoint names an unknown identity, or in the
// (2^-64) event that two different sets of words hash alike.
bool buildEntries(const artifacts::Manifest& manifest, const std::vector<net::Address>& hostAddresses,
                  std::vector<TrieEntry>& out, std::string* error);

}  // namespace membrane::identity
