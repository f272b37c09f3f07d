#include "lint/coverage.h"

#include <algorithm>

#include "features/l4/l4.h"

namespace membrane::lint {

namespace {

// What a selector says about one key: whether the key may be absent, and the
// values it may take when present (a finite set, or everything but `excluded`).
struct KeyConstraint {
  bool mayBeAbsent = true;
  bool mustBeAbsent = false;
  bool finite = false;
  std::set<std::string> values;    // finite
  std::set<std::string> excluded;  // not finite
};

KeyConstraint constraintOf(const labels::Selector& s, const std::string& key) {
  KeyConstraint k;
  for (const auto& r : s.requirements) {
    if (r.key != key) continue;
    switch (r.op) {
      case labels::Op::Equals:
      case labels::Op::In: {
        k.mayBeAbsent = false;
        std::set<std::string> vals(r.values.begin(), r.values.end());
        if (!k.finite) {
          k.finite = true;
          k.values = std::move(vals);
        } else {
          std::set<std::string> both;
          for (const auto& v : k.values)
            if (vals.count(v)) both.insert(v);
          k.values = std::move(both);
        }
        break;
      }
      case labels::Op::Exists: k.mayBeAbsent = false; break;
      case labels::Op::DoesNotExist: k.mustBeAbsent = true; break;
      case labels::Op::NotEquals:
      case labels::Op::NotIn: k.excluded.insert(r.values.begin(), r.values.end()); break;
    }
  }
  if (k.finite)
    for (const auto& v : k.excluded) k.values.erase(v);
  return k;
}

bool holds(const KeyConstraint& k, const labels::Requirement& q) {
  switch (q.op) {
    case labels::Op::Exists: return !k.mayBeAbsent;
    case labels::Op::DoesNotExist: return k.mustBeAbsent;
    case labels::Op::Equals:
    case labels::Op::In:
      return !k.mayBeAbsent && k.finite &&
             std::all_of(k.values.begin(), k.values.end(),
                         [&](const std::string& v) { return std::binary_search(q.values.begin(), q.values.end(), v); });
    case labels::Op::NotEquals:
    case labels::Op::NotIn:
      if (k.mustBeAbsent) return true;
      if (k.finite)
        return std::none_of(k.values.begin(), k.values.end(),
                            [&](const std::string& v) { return std::binary_search(q.values.begin(), q.values.end(), v); });
      return std::all_of(q.values.begin(), q.values.end(), [&](const std::string& v) { return k.excluded.count(v) > 0; });
  }
  return false;
}

labels::Selector nameSelector(const std::string& ns) {
  labels::Selector s;
  s.requirements.push_back({inventory::kNamespaceNameLabel, labels::Op::Equals, {ns}});
  return s;
}

constexpr uint16_t kAllPorts = 65535;

std::vector<ir::PortRange> merged(std::vector<ir::PortRange> r) {
  std::sort(r.begin(), r.end());
  std::vector<ir::PortRange> out;
  for (const auto& x : r) {
    if (!out.empty() && static_cast<uint32_t>(out.back().last) + 1 >= x.first)
      out.back().last = std::max(out.back().last, x.last);
    else
      out.push_back(x);
  }
  return out;
}

// Whether the merged ranges `outer` contain every range of `inner`.
bool rangesContain(const std::vector<ir::PortRange>& outer, const std::vector<ir::PortRange>& inner) {
  for (const auto& r : inner) {
    bool inside = std::any_of(outer.begin(), outer.end(),
                              [&](const ir::PortRange& o) { return o.first <= r.first && r.last <= o.last; });
    if (!inside) return false;
  }
  return true;
}

bool rangesOverlap(const std::vector<ir::PortRange>& a, const std::vector<ir::PortRange>& b) {
  for (const auto& x : a)
    for (const auto& y : b)
      if (x.first <= y.last && y.first <= x.last) return true;
  return false;
}

bool isWhole(const std::vector<ir::PortRange>& r) { return r.size() == 1 && r[0].first == 0 && r[0].last == kAllPorts; }

}  // namespace

bool selectorImplies(const labels::Selector& s, const labels::Selector& q) {
  return std::all_of(q.requirements.begin(), q.requirements.end(),
                     [&](const labels::Requirement& r) { return holds(constraintOf(s, r.key), r); });
}

bool scopedImplies(const labels::ScopedSelector& s, const labels::ScopedSelector& q) {
  using Scope = labels::NamespaceScope;
  bool nsOk = false;
  switch (q.scope) {
    case Scope::Any: nsOk = true; break;
    case Scope::Exact:
      nsOk = (s.scope == Scope::Exact && s.ns == q.ns) ||
             (s.scope == Scope::Selector && selectorImplies(s.namespaces, nameSelector(q.ns)));
      break;
    case Scope::Selector:
      nsOk = s.scope == Scope::Exact      ? selectorImplies(nameSelector(s.ns), q.namespaces)
             : s.scope == Scope::Selector ? selectorImplies(s.namespaces, q.namespaces)
                                          : selectorImplies({}, q.namespaces);
      break;
  }
  return nsOk && selectorImplies(s.pods, q.pods);
}

labels::ScopedSelector scopedOf(const sema::PeerSpec& spec) {
  labels::ScopedSelector s;
  s.pods = spec.pods;
  s.scope = spec.scope;
  if (spec.scope == labels::NamespaceScope::Exact) s.ns = spec.ns;
  if (spec.scope == labels::NamespaceScope::Selector) s.namespaces = spec.namespaces;
  return s;
}

bool policySubsumes(const sema::CheckedPolicy& outer, const sema::CheckedPolicy& inner) {
  if (&outer == &inner) return true;
  if (!outer.clusterwide && (inner.clusterwide || inner.ns != outer.ns)) return false;
  // Subject namespaces (`selects ... in`): the inner policy's must be among
  // the outer's, which only its own namespace selector can show.
  if (outer.namespaces && (!inner.namespaces || !selectorImplies(*inner.namespaces, *outer.namespaces))) return false;
  return selectorImplies(inner.selects, outer.selects);
}

// ---- traffic ----------------------------------------------------------------------

TrafficSet TrafficSet::of(const sema::CheckedRule& rule) {
  TrafficSet t;
  if (features::l4::specsOf(rule).empty()) {
    t.anyProtocol = true;
    return t;
  }
  for (const auto& spec : features::l4::specsOf(rule)) {
    if (spec.protocol == ir::kAnyProtocol) {
      t.anyProtocol = true;
      continue;
    }
    auto& ranges = t.ports[spec.protocol];
    if (spec.allPorts) ranges.push_back({0, kAllPorts});
    ranges.insert(ranges.end(), spec.ports.begin(), spec.ports.end());
    for (const auto& np : spec.namedPorts) t.named.insert({np.protocol, np.name});
    if (ranges.empty()) t.ports.erase(spec.protocol);
  }
  for (auto& [p, r] : t.ports) r = merged(std::move(r));
  return t;
}

void TrafficSet::add(const TrafficSet& other) {
  anyProtocol = anyProtocol || other.anyProtocol;
  for (const auto& [p, r] : other.ports) {
    auto& mine = ports[p];
    mine.insert(mine.end(), r.begin(), r.end());
    mine = merged(std::move(mine));
  }
  named.insert(other.named.begin(), other.named.end());
}

bool TrafficSet::contains(const TrafficSet& other, bool ingress) const {
  if (anyProtocol) return true;
  if (other.anyProtocol) return false;
  for (const auto& [p, r] : other.ports) {
    auto it = ports.find(p);
    if (it == ports.end() || !rangesContain(it->second, r)) return false;
  }
  for (const auto& n : other.named) {
    auto it = ports.find(n.first);
    if (it != ports.end() && isWhole(it->second)) continue;
    if (ingress && named.count(n)) continue;
    return false;
  }
  return true;
}

bool TrafficSet::overlaps(const TrafficSet& other) const {
  if (empty() || other.empty()) return false;
  if (anyProtocol || other.anyProtocol) return true;
  for (const auto& [p, r] : other.ports) {
    auto it = ports.find(p);
    if (it != ports.end() && rangesOverlap(it->second, r)) return true;
  }
  for (const auto& n : other.named) {
    if (named.count(n) || ports.count(n.first)) return true;
  }
  for (const auto& n : named)
    if (other.ports.count(n.first)) return true;
  return false;
}

// ---- peers ------------------------------------------------------------------------

PeerSpace PeerSpace::build(const sema::CheckedProgram& program, const inventory::Inventory& inv) {
  PeerSpace space;
  std::vector<net::Prefix> cuts;
  for (const auto& pol : program.policies)
    for (const auto& rule : pol.rules)
      for (const auto& spec : rule.peers)
        if (spec.kind == sema::PeerSpec::Kind::Cidr) {
          cuts.push_back(spec.cidr.prefix);
          cuts.insert(cuts.end(), spec.cidr.except.begin(), spec.cidr.except.end());
        }
  space.v4 = analysis::partitionAddresses(net::Family::V4, cuts);
  space.v6 = analysis::partitionAddresses(net::Family::V6, cuts);
  for (const auto* ranges : {&space.v4, &space.v6})
    for (size_t i = 0; i < ranges->ranges.size(); ++i) space.representatives.push_back(ranges->first(i));

  auto rangeKey = [&](const net::Address& a) {
    return std::make_pair(static_cast<int>(a.family),
                          a.family == net::Family::V4 ? space.v4.indexOf(a) : space.v6.indexOf(a));
  };
  // Known endpoints: one atom per identity and address range.
  std::map<std::pair<std::string, labels::LabelSet>, size_t> byLabels;
  std::set<std::tuple<size_t, int, size_t>> seen;
  std::map<std::pair<int, size_t>, size_t> endpointAddressesIn;  // range -> distinct endpoint addresses
  std::set<net::Address> endpointAddresses;
  for (const auto& ep : inv.endpoints) {
    auto [it, fresh] = byLabels.emplace(std::make_pair(ep.ns, ep.labels), space.identities.size());
    if (fresh) space.identities.push_back({ep.ns, ep.labels, inv.namespaceLabels(ep.ns)});
    size_t id = it->second;
    if (ep.addresses.empty() && seen.insert({id, 0, 0}).second)
      space.concrete.push_back({PeerAtom::Kind::Endpoint, id, {}, std::nullopt});
    for (const auto& a : ep.addresses) {
      auto rk = rangeKey(a);
      if (endpointAddresses.insert(a).second) ++endpointAddressesIn[rk];
      if (!seen.insert({id, rk.first, rk.second}).second) continue;
      space.concrete.push_back({PeerAtom::Kind::Endpoint, id, {}, a});
    }
  }
  // The host, wherever its address is; a world peer in every range that
  // has an address no endpoint owns.
  space.concrete.push_back({PeerAtom::Kind::Host, 0, {}, std::nullopt});
  for (const auto* ranges : {&space.v4, &space.v6}) {
    for (size_t i = 0; i < ranges->ranges.size(); ++i) {
      net::Address rep = ranges->first(i);
      space.concrete.push_back({PeerAtom::Kind::Host, 0, {}, rep});
      auto [lo, hi] = ranges->ranges[i];
      auto it = endpointAddressesIn.find({static_cast<int>(ranges->family), i});
      size_t owned = it == endpointAddressesIn.end() ? 0 : it->second;
      // A range no bigger than the endpoint addresses in it may be all theirs.
      bool small = hi.hi == lo.hi && hi.lo - lo.lo < owned;
      if (small) {
        std::optional<net::Address> free;
        for (analysis::U128 u = lo;; u = analysis::inc(u)) {
          net::Address a = analysis::fromU(ranges->family, u);
          if (!endpointAddresses.count(a)) {
            free = a;
            break;
          }
          if (u == hi) break;
        }
        if (!free) continue;
        rep = *free;
      } else if (endpointAddresses.count(rep)) {
        // Any address of the range that is no endpoint's will do; the
        // range is matched whole by every CIDR, so the first free one.
        for (analysis::U128 u = lo;; u = analysis::inc(u)) {
          net::Address a = analysis::fromU(ranges->family, u);
          if (!endpointAddresses.count(a)) {
            rep = a;
            break;
          }
          if (u == hi) break;
        }
      }
      space.concrete.push_back({PeerAtom::Kind::World, 0, {}, rep});
    }
  }
  return space;
}

bool PeerSpace::matches(const sema::PeerSpec& spec, const PeerAtom& atom) const {
  using K = PeerAtom::Kind;
  switch (spec.kind) {
    case sema::PeerSpec::Kind::Pods:
      if (atom.kind == K::Endpoint) {
        const auto& id = identities[atom.identity];
        return scopedOf(spec).matches(id.ns, id.labels, id.namespaceLabels);
      }
      if (atom.kind == K::Hypothetical) return scopedImplies(atom.selector, scopedOf(spec));
      return false;
    case sema::PeerSpec::Kind::Entity:
      switch (spec.entity) {
        case ast::Entity::All: return true;
        case ast::Entity::Cluster: return atom.kind != K::World;
        case ast::Entity::Host: return atom.kind == K::Host;
        case ast::Entity::World: return atom.kind == K::World;
      }
      return false;
    case sema::PeerSpec::Kind::Cidr: return atom.address && spec.cidr.matches(*atom.address);
    // Which addresses a name peer matches is learned at run time: no atom
    // of the static model (rules with name peers are left out of coverage).
    case sema::PeerSpec::Kind::Dns: return false;
    // Resolved to pods or CIDRs before lint runs (lowering::resolveServicePeers,
    // lowering::resolveNodePeers).
    case sema::PeerSpec::Kind::Service:
    case sema::PeerSpec::Kind::Nodes: return false;
  }
  return false;
}

bool PeerSpace::matches(const sema::CheckedRule& rule, const PeerAtom& atom) const {
  return std::any_of(rule.peers.begin(), rule.peers.end(), [&](const sema::PeerSpec& s) { return matches(s, atom); });
}

bool PeerSpace::matchesAnyAddress(const sema::CheckedRule& rule, const labels::ScopedSelector& selector) const {
  return std::any_of(rule.peers.begin(), rule.peers.end(), [&](const sema::PeerSpec& s) {
    switch (s.kind) {
      case sema::PeerSpec::Kind::Pods: return scopedImplies(selector, scopedOf(s));
      case sema::PeerSpec::Kind::Entity: return s.entity == ast::Entity::All || s.entity == ast::Entity::Cluster;
      case sema::PeerSpec::Kind::Cidr:
      case sema::PeerSpec::Kind::Dns:
      case sema::PeerSpec::Kind::Service:
      case sema::PeerSpec::Kind::Nodes: return false;
    }
    return false;
  });
}

std::vector<PeerAtom> PeerSpace::hypothetical(const sema::CheckedRule& rule) const {
  std::vector<labels::ScopedSelector> selectors;
  std::vector<net::Address> cidrReps;
  auto addSelector = [&](labels::ScopedSelector s) {
    if (std::find(selectors.begin(), selectors.end(), s) == selectors.end()) selectors.push_back(std::move(s));
  };
  labels::ScopedSelector anyEndpoint;
  anyEndpoint.scope = labels::NamespaceScope::Any;
  for (const auto& spec : rule.peers) {
    switch (spec.kind) {
      case sema::PeerSpec::Kind::Pods: addSelector(scopedOf(spec)); break;
      case sema::PeerSpec::Kind::Entity:
        if (spec.entity == ast::Entity::All || spec.entity == ast::Entity::Cluster) addSelector(anyEndpoint);
        break;
      case sema::PeerSpec::Kind::Cidr:
        for (const auto& rep : representatives)
          if (spec.cidr.matches(rep)) cidrReps.push_back(rep);
        break;
      case sema::PeerSpec::Kind::Dns:
      case sema::PeerSpec::Kind::Service:
      case sema::PeerSpec::Kind::Nodes: break;
    }
  }
  std::vector<PeerAtom> out;
  for (const auto& s : selectors)
    for (const auto& rep : representatives) out.push_back({PeerAtom::Kind::Hypothetical, 0, s, rep});
  // A CIDR also matches endpoints not in the inventory whose address is inside.
  if (std::find(selectors.begin(), selectors.end(), anyEndpoint) == selectors.end())
    for (const auto& rep : cidrReps) out.push_back({PeerAtom::Kind::Hypothetical, 0, anyEndpoint, rep});
  return out;
}

}  // namespace membrane::lint
