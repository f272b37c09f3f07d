// The finite model lint's shadowing checks reason in: which connections a
// checked rule matches, as (peer atom × traffic) sets, and selector
// implication. Internal to lint/.
//
// Peer atoms partition every peer a rule can meet:
//  - a known endpoint: one per identity (namespace + labels) and address
//    range, from the inventory;
//  - the host at each address range (its address is not known);
//  - a world peer at each address range that is not wholly endpoint addresses;
//  - a hypothetical endpoint that is not in the inventory: one per pod
//    selector of the rule being examined ("some endpoint matching exactly
//    this"), at each address range. A rule covers it only if one of its
//    selectors is implied by it (or it is `cluster`/`all`, or a CIDR that
//    contains the range), so findings hold for endpoints deployed later.
// Address ranges are those every CIDR prefix and except of the policies cut
// the IPv4 and IPv6 spaces into (analysis/address_space.h).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "analysis/address_space.h"
#include "inventory/inventory.h"
#include "sema/sema.h"

namespace membrane::lint {

// Whether every label set matching `s` also matches `q` (exact, per key).
bool selectorImplies(const labels::Selector& s, const labels::Selector& q);
// The same for pod selectors scoped to namespaces.
bool scopedImplies(const labels::ScopedSelector& s, const labels::ScopedSelector& q);
labels::ScopedSelector scopedOf(const sema::PeerSpec& spec);
// Whether every endpoint `inner` selects is also selected by `outer`.
bool policySubsumes(const sema::CheckedPolicy& outer, const sema::CheckedPolicy& inner);

// The protocols and ports (ICMP types) a rule matches. Named ports are kept
// symbolic: on ingress a name resolves the same way for every rule of one
// endpoint, on egress it depends on the rule's peers, so there a name is only
// covered by the whole protocol.
struct TrafficSet {
  bool anyProtocol = false;
  std::map<uint8_t, std::vector<ir::PortRange>> ports;  // sorted, merged; {0-65535} = whole protocol
  std::set<std::pair<uint8_t, std::string>> named;

  static TrafficSet of(const sema::CheckedRule& rule);
  void add(const TrafficSet& other);
  bool contains(const TrafficSet& other, bool ingress) const;
  bool overlaps(const TrafficSet& other) const;
  bool empty() const { return !anyProtocol && ports.empty() && named.empty(); }
};

struct PeerAtom {
  enum class Kind { Endpoint, Host, World, Hypothetical } kind = Kind::World;
  size_t identity = 0;                // Endpoint: index into PeerSpace::identities
  labels::ScopedSelector selector;    // Hypothetical: what the endpoint is known to match
  std::optional<net::Address> address;  // a representative of its range; absent: no address
};

struct PeerSpace {
  struct Identity {
    std::string ns;
    labels::LabelSet labels, namespaceLabels;
  };
  std::vector<Identity> identities;
  analysis::AddressRanges v4, v6;
  std::vector<PeerAtom> concrete;       // known endpoints, host, world
  std::vector<net::Address> representatives;  // the first address of every range, both families

  static PeerSpace build(const sema::CheckedProgram& program, const inventory::Inventory& inv);
  bool matches(const sema::PeerSpec& spec, const PeerAtom& atom) const;
  bool matches(const sema::CheckedRule& rule, const PeerAtom& atom) const;
  // Whether the rule matches every endpoint that `selector` matches, at any
  // address (by a pod selector it implies, `cluster` or `all`).
  bool matchesAnyAddress(const sema::CheckedRule& rule, const labels::ScopedSelector& selector) const;
  // The hypothetical-endpoint atoms standing for what `rule` matches beyond the inventory.
  std::vector<PeerAtom> hypothetical(const sema::CheckedRule& rule) const;
};

}  // namespace membrane::lint
