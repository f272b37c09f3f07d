#include "kernel/generic_policy.h"

#include <map>
#include <set>
#include <stdexcept>

#include "abi/datapath.h"
#include "evaluator/evaluator.h"
#include "features/l4/l4.h"

namespace membrane::bench {
namespace {

constexpr uint32_t kMaxExpandedRange = 4096;

// A peer of each identity the policy can tell apart, to ask the evaluator
// which rules match it.
struct Candidate {
  uint32_t identity;
  ir::Peer peer;
};

uint64_t packedResult(const ir::Rule& rule) {
  return uint64_t(rule.id) | MB_RESULT_ENFORCED | (rule.action == ir::Action::Deny ? MB_RESULT_DENY : 0);
}

void addDirection(const ir::DirectionPolicy& d, const std::vector<Candidate>& candidates,
                  std::vector<std::pair<GenericKey, uint64_t>>& out) {
  for (const Candidate& c : candidates) {
    // First writer wins: rules come in verdict order. An exact or any-port
    // key inherits a broader key an earlier rule already wrote, because the
    // program tries exact keys first.
    std::map<GenericKey, uint64_t> keys;
    auto inherited = [&](uint8_t proto) -> const uint64_t* {
      auto it = keys.find(GenericKey{c.identity, proto, 1, 0});
      if (it != keys.end()) return &it->second;
      it = keys.find(GenericKey{c.identity, 0, 1, 0});
      return it != keys.end() ? &it->second : nullptr;
    };
    auto put = [&](GenericKey k, uint64_t value) {
      if (keys.count(k)) return;
      const uint64_t* broader = k.proto == 0 ? nullptr : k.anyPort ? inherited(0) : inherited(k.proto);
      keys[k] = broader ? *broader : value;
    };
    for (const ir::Rule& rule : d.rules) {
      if (rule.audit || !ir::peerMatches(rule.peer, c.peer)) continue;
      uint64_t value = packedResult(rule);
      if (features::l4::matchesOf(rule).empty()) {
        put(GenericKey{c.identity, 0, 1, 0}, value);
        continue;
      }
      for (const ir::L4Match& l4 : features::l4::matchesOf(rule)) {
        if (l4.protocol == ir::kAnyProtocol) {
          put(GenericKey{c.identity, 0, 1, 0}, value);
        } else if (l4.ports.empty()) {
          put(GenericKey{c.identity, l4.protocol, 1, 0}, value);
        } else {
          for (const ir::PortRange& r : l4.ports) {
            if (uint32_t(r.last) - r.first >= kMaxExpandedRange)
              throw std::runtime_error("generic model: port range too wide to expand into exact keys");
            for (uint32_t p = r.first; p <= r.last; ++p)
              put(GenericKey{c.identity, l4.protocol, 0, uint16_t(p)}, value);
          }
        }
      }
    }
    out.insert(out.end(), keys.begin(), keys.end());
  }
}

}  // namespace

GenericPolicy buildGenericPolicy(const ir::Program& program, const ir::EndpointClass& cls) {
  GenericPolicy g;
  std::vector<Candidate> candidates;

  // Endpoints: one identity per label set, as the IR has them.
  std::set<uint32_t> seen;
  for (const ir::Endpoint& e : program.endpoints) {
    for (const net::Address& a : e.addresses)
      g.trie.push_back({net::Prefix{a, uint8_t(a.bits())}, e.identity, MB_PEER_ENDPOINT});
    if (seen.insert(e.identity).second && !e.addresses.empty())
      candidates.push_back({e.identity, ir::Peer::endpoint(program.identity(e.identity), e.addresses[0])});
  }

  // CIDR prefixes (and their excepts): one identity each; an address gets
  // the longest prefix containing it, whose rules are those of its network
  // address (every boundary inside it is a longer prefix of its own).
  std::set<net::Prefix> prefixes;
  for (const ir::DirectionPolicy* d : {&cls.ingress, &cls.egress})
    for (const ir::Rule& r : d->rules)
      for (const ir::CidrMatch& m : r.peer.cidrs) {
        prefixes.insert(m.prefix);
        prefixes.insert(m.except.begin(), m.except.end());
      }
  uint32_t next = kCidrIdentityBase;
  for (const net::Prefix& p : prefixes) {
    g.trie.push_back({p, next, MB_PEER_WORLD});
    candidates.push_back({next, ir::Peer::world(p.addr)});
    ++next;
  }
  // World: an address in no rule's CIDR (none of the generated ones covers it).
  candidates.push_back({0, ir::Peer::world(*net::Address::parse("198.19.255.254"))});

  g.enforced[0] = cls.ingress.enforced;
  g.enforced[1] = cls.egress.enforced;
  if (cls.ingress.enforced) addDirection(cls.ingress, candidates, g.entries[0]);
  if (cls.egress.enforced) addDirection(cls.egress, candidates, g.entries[1]);
  return g;
}

}  // namespace membrane::bench
