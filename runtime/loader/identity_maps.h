// A version's identity trie (mb_identity) and the peer-bit words past its
// values (mb_more_peer_bits) made to hold exactly a list of entries, in the
// order the datapath needs: new words first, then trie entries added or
// changed, then (when pruning) trie entries no longer wanted, and last the
// words no entry names. A packet decided in between never finds an entry
// naming words that are not there, nor an address missing that changes
// identity. The node (apply, endpoint changes, the cluster agent), verify's
// loaded classes and the kernel benchmark all write these maps through it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "identity/identity_table.h"

namespace membrane::loader {

// Writes only what differs from the maps' current content. `moreFd` may be
// -1 when no entry has words past its value. Returns how many trie entries
// it wrote or deleted; nullopt (`error` set) when a map cannot be read or
// written (a full map: the kernel's error).
std::optional<size_t> syncIdentityMaps(int trieFd, int moreFd, const std::vector<identity::TrieEntry>& entries,
                                       bool prune, std::string* error);

}  // namespace membrane::loader
