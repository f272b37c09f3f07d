#include "ir/lower.h"

#include <algorithm>
#include <map>
#include <set>

namespace membrane::ir {

namespace {

// Sorted, merged (overlapping and adjacent ranges joined).
std::vector<PortRange> normalizeRanges(std::vector<PortRange> ranges) {
  std::sort(ranges.begin(), ranges.end());
  std::vector<PortRange> out;
  for (const auto& r : ranges) {
    if (!out.empty() && static_cast<uint32_t>(out.back().last) + 1 >= r.first) {
      out.back().last = std::max(out.back().last, r.last);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

class Lowering {
 public:
  Lowering(const sema::CheckedProgram& checked, const inventory::Inventory& inv, const SourceManager& sources,
           DiagnosticEngine& diags)
      : checked_(checked), inv_(inv), sources_(sources), diags_(diags) {}

  Program run() {
    buildSelectorTable();
    buildIdentities();
    assignRuleIds();
    buildEndpointsAndClasses();
    return std::move(out_);
  }

 private:
  const sema::CheckedProgram& checked_;
  const inventory::Inventory& inv_;
  const SourceManager& sources_;
  DiagnosticEngine& diags_;
  Program out_;
  // Rule id of each checked rule, by (policy index, rule index).
  std::map<std::pair<size_t, size_t>, uint32_t> ruleIds_;
  std::set<std::pair<uint32_t, std::string>> warnedNamedPorts_;

  static bool sameSelector(const labels::ScopedSelector& a, const labels::ScopedSelector& b) { return a == b; }

  static PeerSelector selectorOf(const sema::PeerSpec& spec) {
    PeerSelector sel;
    sel.pods = spec.pods;
    sel.scope = spec.scope;
    sel.ns = spec.scope == NamespaceScope::Exact ? spec.ns : "";
    sel.namespaces = spec.scope == NamespaceScope::Selector ? spec.namespaces : labels::Selector{};
    return sel;
  }

  uint32_t bitOf(const sema::PeerSpec& spec) const {
    PeerSelector sel = selectorOf(spec);
    for (const auto& s : out_.selectors)
      if (sameSelector(s, sel)) return s.bit;
    return UINT32_MAX;  // unreachable: every pods spec was collected
  }

  void buildSelectorTable() {
    for (const auto& pol : checked_.policies) {
      for (const auto& rule : pol.rules) {
        for (const auto& spec : rule.peers) {
          if (spec.kind != sema::PeerSpec::Kind::Pods) continue;
          PeerSelector sel = selectorOf(spec);
          if (std::any_of(out_.selectors.begin(), out_.selectors.end(),
                          [&](const PeerSelector& x) { return sameSelector(x, sel); }))
            continue;
          sel.bit = static_cast<uint32_t>(out_.selectors.size());
          out_.selectors.push_back(std::move(sel));
        }
      }
    }
  }

  void buildIdentities() {
    // Identities are numbered from 256: lower numbers are reserved for
    // entities (host, world) in the datapath.
    std::map<std::pair<std::string, labels::LabelSet>, uint32_t> byLabels;
    for (const auto& ep : inv_.endpoints) byLabels.emplace(std::make_pair(ep.ns, ep.labels), 0);
    uint32_t next = 256;
    for (auto& [key, id] : byLabels) {
      id = next++;
      Identity ident;
      ident.id = id;
      ident.ns = key.first;
      ident.labels = key.second;
      ident.namespaceLabels = inv_.namespaceLabels(key.first);
      for (const auto& sel : out_.selectors)
        if (sel.matches(ident.ns, ident.labels, ident.namespaceLabels)) ident.selectorBits.push_back(sel.bit);
      out_.identities.push_back(std::move(ident));
    }
    for (const auto& ep : inv_.endpoints) {
      Endpoint e;
      e.name = ep.name;
      e.ns = ep.ns;
      e.workload = ep.workload;
      e.identity = byLabels.at({ep.ns, ep.labels});
      e.addresses = ep.addresses;
      out_.endpoints.push_back(std::move(e));
    }
  }

  void assignRuleIds() {
    uint32_t next = 1;
    for (size_t p = 0; p < checked_.policies.size(); ++p) {
      const auto& pol = checked_.policies[p];
      for (size_t r = 0; r < pol.rules.size(); ++r) {
        const auto& rule = pol.rules[r];
        uint32_t id = next++;
        ruleIds_[{p, r}] = id;
        RuleInfo info;
        info.id = id;
        info.policy = pol.key();
        info.direction = rule.direction;
        info.action = rule.action;
        info.audit = pol.audit;
        info.text = rule.text;
        info.loc = rule.range;
        info.location = sources_.describe(rule.range.begin);
        out_.rules.emplace(id, std::move(info));
      }
    }
  }

  static bool selects(const sema::CheckedPolicy& pol, const inventory::Endpoint& ep) {
    if (!pol.clusterwide && pol.ns != ep.ns) return false;
    return pol.selects.matches(ep.labels);
  }

  // Does a rule's peer side match this inventory endpoint (by identity or address)?
  bool peerMatchesEndpoint(const PeerMatch& peer, const inventory::Endpoint& ep) const {
    if (peer.all || peer.cluster) return true;
    const Identity* ident = nullptr;
    for (const auto& e : out_.endpoints)
      if (e.ns == ep.ns && e.name == ep.name) ident = out_.identity(e.identity);
    for (uint32_t bit : peer.selectorBits)
      if (ident && ident->hasBit(bit)) return true;
    for (const auto& cidr : peer.cidrs)
      for (const auto& a : ep.addresses)
        if (cidr.matches(a)) return true;
    return false;
  }

  PeerMatch peerMatch(const sema::CheckedRule& rule) const {
    PeerMatch m;
    for (const auto& spec : rule.peers) {
      switch (spec.kind) {
        case sema::PeerSpec::Kind::Pods: m.selectorBits.push_back(bitOf(spec)); break;
        case sema::PeerSpec::Kind::Entity:
          switch (spec.entity) {
            case ast::Entity::World: m.world = true; break;
            case ast::Entity::Host: m.host = true; break;
            case ast::Entity::Cluster: m.cluster = true; break;
            case ast::Entity::All: m.all = true; break;
          }
          break;
        case sema::PeerSpec::Kind::Cidr: m.cidrs.push_back(spec.cidr); break;
      }
    }
    std::sort(m.selectorBits.begin(), m.selectorBits.end());
    m.selectorBits.erase(std::unique(m.selectorBits.begin(), m.selectorBits.end()), m.selectorBits.end());
    std::sort(m.cidrs.begin(), m.cidrs.end());
    m.cidrs.erase(std::unique(m.cidrs.begin(), m.cidrs.end()), m.cidrs.end());
    return m;
  }

  // Port numbers a named port stands for. Ingress: the selected endpoint's
  // own ports (one endpoint; classes are split by this). Egress: every
  // endpoint the rule's peers match that defines the name.
  std::vector<uint16_t> resolveNamedPort(const sema::NamedPortRef& ref, Direction dir,
                                         const inventory::Endpoint& subject, const PeerMatch& peer) const {
    std::set<uint16_t> ports;
    auto collect = [&](const inventory::Endpoint& ep) {
      for (const auto& np : ep.ports)
        if (np.name == ref.name && np.protocol == ref.protocol) ports.insert(np.port);
    };
    if (dir == Direction::Ingress) {
      collect(subject);
    } else {
      for (const auto& ep : inv_.endpoints)
        if (peerMatchesEndpoint(peer, ep)) collect(ep);
    }
    return {ports.begin(), ports.end()};
  }

  // The L4 side of a rule for one subject endpoint; nullopt = matches nothing.
  std::optional<std::vector<L4Match>> l4For(const sema::CheckedRule& rule, uint32_t ruleId,
                                            const inventory::Endpoint& subject, const PeerMatch& peer) {
    if (rule.l4.empty()) return std::vector<L4Match>{};
    std::map<uint8_t, std::vector<PortRange>> byProto;
    std::set<uint8_t> allPorts;
    for (const auto& spec : rule.l4) {
      if (spec.allPorts) {
        allPorts.insert(spec.protocol);
        continue;
      }
      auto& ranges = byProto[spec.protocol];
      ranges.insert(ranges.end(), spec.ports.begin(), spec.ports.end());
      for (const auto& np : spec.namedPorts) {
        auto ports = resolveNamedPort(np, rule.direction, subject, peer);
        if (ports.empty()) warnUnresolved(np, ruleId, rule.direction, subject);
        for (uint16_t port : ports) ranges.push_back({port, port});
      }
    }
    std::vector<L4Match> out;
    for (uint8_t proto : allPorts) out.push_back({proto, {}});
    for (auto& [proto, ranges] : byProto) {
      if (allPorts.count(proto) || ranges.empty()) continue;
      out.push_back({proto, normalizeRanges(std::move(ranges))});
    }
    if (out.empty()) return std::nullopt;
    std::sort(out.begin(), out.end());
    return out;
  }

  void warnUnresolved(const sema::NamedPortRef& np, uint32_t ruleId, Direction dir, const inventory::Endpoint& subject) {
    std::string key = dir == Direction::Ingress ? subject.ns + "/" + subject.name : "";
    if (!warnedNamedPorts_.insert({ruleId, np.name + "\n" + key}).second) return;
    if (dir == Direction::Ingress) {
      diags_.warning(np.range, "named port '" + np.name + "' (" + protocolName(np.protocol) + ") is not defined by endpoint " +
                                   key + "; this part of the rule matches nothing there",
                     "define the port in the inventory, or use its number");
    } else {
      diags_.warning(np.range, "named port '" + np.name + "' (" + protocolName(np.protocol) +
                                   ") is defined by no endpoint this rule's peers match; it matches nothing",
                     "define the port in the inventory, or use its number");
    }
  }

  void buildEndpointsAndClasses() {
    // Class key: the selecting policies plus, for ingress named ports, what
    // they resolve to on this endpoint.
    std::map<std::string, uint32_t> classByKey;
    for (size_t e = 0; e < inv_.endpoints.size(); ++e) {
      const auto& ep = inv_.endpoints[e];
      std::vector<size_t> selecting;
      for (size_t p = 0; p < checked_.policies.size(); ++p)
        if (selects(checked_.policies[p], ep)) selecting.push_back(p);
      if (selecting.empty()) continue;

      EndpointClass cls;
      std::string key;
      for (size_t p : selecting) {
        const auto& pol = checked_.policies[p];
        cls.policies.push_back(pol.key());
        key += pol.key() + ";";
        if (pol.hasIngress) (pol.audit ? cls.ingress.audited : cls.ingress.enforced) = true;
        if (pol.hasEgress) (pol.audit ? cls.egress.audited : cls.egress.enforced) = true;
        for (size_t r = 0; r < pol.rules.size(); ++r) {
          const auto& rule = pol.rules[r];
          uint32_t id = ruleIds_.at({p, r});
          Rule lowered;
          lowered.id = id;
          lowered.action = rule.action;
          lowered.audit = pol.audit;
          lowered.policy = pol.key();
          lowered.loc = rule.range;
          lowered.peer = peerMatch(rule);
          auto l4 = l4For(rule, id, ep, lowered.peer);
          if (!l4) {
            key += "r" + std::to_string(id) + "=none;";
            continue;  // a rule whose ports resolve to nothing can match nothing
          }
          lowered.l4 = std::move(*l4);
          if (rule.direction == Direction::Ingress) {
            for (const auto& spec : rule.l4)
              if (!spec.namedPorts.empty()) key += "r" + std::to_string(id) + "=" + l4Key(lowered.l4) + ";";
          }
          (rule.direction == Direction::Ingress ? cls.ingress : cls.egress).rules.push_back(std::move(lowered));
        }
      }
      for (auto* dp : {&cls.ingress, &cls.egress}) {
        std::stable_sort(dp->rules.begin(), dp->rules.end(), [](const Rule& a, const Rule& b) {
          if (a.action != b.action) return a.action == Action::Deny;
          return a.id < b.id;
        });
      }
      auto [it, fresh] = classByKey.emplace(key, static_cast<uint32_t>(out_.classes.size()));
      if (fresh) {
        cls.id = it->second;
        out_.classes.push_back(std::move(cls));
      }
      out_.classes[it->second].endpoints.push_back(ep.ns + "/" + ep.name);
      out_.endpoints[e].classIndex = it->second;
    }
  }

  static std::string l4Key(const std::vector<L4Match>& l4) {
    std::string k;
    for (const auto& m : l4) {
      k += std::to_string(m.protocol) + ":";
      for (const auto& r : m.ports) k += std::to_string(r.first) + "-" + std::to_string(r.last) + ",";
    }
    return k;
  }
};

}  // namespace

Program lower(const sema::CheckedProgram& checked, const inventory::Inventory& inventory,
              const SourceManager& sources, DiagnosticEngine& diags) {
  return Lowering(checked, inventory, sources, diags).run();
}

bool Identity::hasBit(uint32_t bit) const {
  return std::binary_search(selectorBits.begin(), selectorBits.end(), bit);
}

bool CidrMatch::matches(const net::Address& a) const {
  if (!prefix.contains(a)) return false;
  return std::none_of(except.begin(), except.end(), [&](const net::Prefix& e) { return e.contains(a); });
}

const Identity* Program::identity(uint32_t id) const {
  auto it = std::lower_bound(identities.begin(), identities.end(), id,
                             [](const Identity& i, uint32_t v) { return i.id < v; });
  return it != identities.end() && it->id == id ? &*it : nullptr;
}

const Endpoint* Program::findEndpoint(const std::string& ns, const std::string& name) const {
  for (const auto& e : endpoints)
    if (e.ns == ns && e.name == name) return &e;
  return nullptr;
}

const Endpoint* Program::endpointByAddress(const net::Address& a) const {
  for (const auto& e : endpoints)
    if (std::find(e.addresses.begin(), e.addresses.end(), a) != e.addresses.end()) return &e;
  return nullptr;
}

}  // namespace membrane::ir
