// The data of the generic, map-driven comparison program
// (bench/bpf/decide_generic.c), built from the IR the way a Cilium-style
// agent builds its policy map: identities for endpoints and for the CIDR
// prefixes rules name, then one entry per {identity, protocol, port} a rule
// allows or denies.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "ir/ir.h"
#include "net/address.h"

namespace membrane::bench {

// Layout of struct bench_policy_key in decide_generic.c.
struct GenericKey {
  uint32_t identity = 0;
  uint8_t proto = 0;    // 0: any protocol
  uint8_t anyPort = 0;  // 1: any port
  uint16_t port = 0;    // host order
  friend auto operator<=>(const GenericKey&, const GenericKey&) = default;
};
static_assert(sizeof(GenericKey) == 8);

struct GenericTrieEntry {
  net::Prefix prefix;
  uint32_t identity = 0;
  uint32_t flags = 0;  // MB_PEER_*
};

struct GenericPolicy {
  bool enforced[2] = {false, false};  // by ir::Direction
  std::vector<std::pair<GenericKey, uint64_t>> entries[2];  // value: packed decision result
  std::vector<GenericTrieEntry> trie;
};

// Identities for CIDR prefixes start here; endpoint identities are the IR's,
// and 0 is world (an address the trie does not know).
inline constexpr uint32_t kCidrIdentityBase = 1u << 24;

// Throws std::runtime_error for a port range too wide to expand into exact
// keys (the model has no range support, like a policy map keyed by port).
GenericPolicy buildGenericPolicy(const ir::Program& program, const ir::EndpointClass& cls);

}  // namespace membrane::bench
