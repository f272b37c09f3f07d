// See lower.h: the checked program and the inventory lowered to the policy IR.
#include "lower/lower.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <tuple>
#include <unordered_set>

#include "abi/datapath.h"
#include "features/l4/l4.h"
#include "features/process/process.h"
#include "features/registry/registry.h"

namespace membrane::lowering {

using namespace ir;  // lowering builds the IR: its types read better unqualified

namespace {

class Lowering {
 public:
  Lowering(const sema::CheckedProgram& checked, const inventory::Inventory& inv, const SourceManager& sources,
           DiagnosticEngine& diags)
      : checked_(checked), inv_(inv), sources_(sources), diags_(diags) {}

  Program run() {
    for (const auto& pol : checked_.policies)
      out_.policies.push_back({pol.key(), pol.ns, pol.clusterwide, pol.audit, pol.selects, pol.namespaces, pol.tier,
                               pol.priority});
    buildSelectorTable();
    resolveEgressNamedPorts();
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
  // Id of each policy's `processes` clause, by policy index.
  std::map<size_t, uint32_t> clauseIds_;
  std::set<std::pair<uint32_t, std::string>> warnedNamedPorts_;
  std::set<std::tuple<size_t, size_t, uint8_t, std::string>> warnedEgressNamedPorts_;
  // Egress named ports, resolved per destination: by (policy index, rule
  // index), one entry per (name, number) with the peers that define it.
  struct NamedPortPeers {
    labels::NamedPort port;
    PeerMatch peer;
  };
  std::map<std::pair<size_t, size_t>, std::vector<NamedPortPeers>> egressNamedPorts_;
  // (protocol, name) of every port some peer condition looks at: identities
  // are split by what endpoints define for these.
  std::set<std::pair<uint8_t, std::string>> conditionPortNames_;

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
      if (s == sel) return s.bit;
    return UINT32_MAX;  // unreachable: every pods spec was collected
  }

  // The bit of a condition, allocating one for a new condition.
  uint32_t bitFor(const labels::PeerCondition& cond) {
    for (const auto& s : out_.selectors)
      if (static_cast<const labels::PeerCondition&>(s) == cond) return s.bit;
    PeerSelector sel;
    static_cast<labels::PeerCondition&>(sel) = cond;
    sel.bit = static_cast<uint32_t>(out_.selectors.size());
    out_.selectors.push_back(std::move(sel));
    return out_.selectors.back().bit;
  }

  void buildSelectorTable() {
    for (const auto& pol : checked_.policies)
      for (const auto& rule : pol.rules)
        for (const auto& spec : rule.peers)
          if (spec.kind == sema::PeerSpec::Kind::Pods) bitFor(selectorOf(spec));
  }

  // Kubernetes resolves an egress rule's named port in each destination pod:
  // `port web` is 80 towards pods defining web=80 and 81 towards pods defining
  // web=81. So each number the name has among the endpoints the rule's peers
  // match becomes its own peer set, narrowed to the pods defining that
  // number: selectors (and `cluster`/`all`, as any pod) gain the port as a
  // condition with a bit of its own; CIDRs narrow to the addresses of the
  // known endpoints inside them that define it. Entities other than pods
  // define no ports.
  void resolveEgressNamedPorts() {
    for (size_t p = 0; p < checked_.policies.size(); ++p) {
      const auto& rule = checked_.policies[p].rules;
      for (size_t r = 0; r < rule.size(); ++r) {
        if (rule[r].direction != Direction::Egress) continue;
        PeerMatch peer = peerMatch(rule[r]);
        for (const auto& spec : features::l4::specsOf(rule[r]))
          for (const auto& ref : spec.namedPorts) resolveEgressNamedPort(p, r, ref, peer, rule[r]);
      }
    }
  }

  void resolveEgressNamedPort(size_t p, size_t r, const features::l4::NamedPortRef& ref, const PeerMatch& peer,
                              const sema::CheckedRule& rule) {
    std::set<uint16_t> numbers;
    bool otherProtocol = false;  // the name resolves under another protocol the rule gives it
    for (const auto& ep : inv_.endpoints)
      if (peerMatchesEndpoint(peer, ep)) {
        for (uint16_t n : labels::numbersNamed(ep.ports, ref.protocol, ref.name)) numbers.insert(n);
        otherProtocol = otherProtocol || definedUnderAnotherProtocol(rule, ref, ep);
      }
    if (numbers.empty()) {
      if (!otherProtocol) warnUnresolvedEgress(ref, p, r);
      return;
    }
    conditionPortNames_.insert({ref.protocol, ref.name});
    for (uint16_t number : numbers) {
      NamedPortPeers out;
      out.port = {ref.name, ref.protocol, number};
      auto narrowed = [&](const labels::ScopedSelector& pods) {
        labels::PeerCondition cond;
        static_cast<labels::ScopedSelector&>(cond) = pods;
        cond.definesPort = out.port;
        return bitFor(cond);
      };
      for (uint32_t bit : peer.selectorBits) out.peer.selectorBits.push_back(narrowed(out_.selectors[bit]));
      if (peer.all || peer.cluster) {
        labels::ScopedSelector anyPod;
        anyPod.scope = NamespaceScope::Any;
        out.peer.selectorBits.push_back(narrowed(anyPod));
      }
      for (const auto& cidr : peer.cidrs)
        for (const auto& ep : inv_.endpoints) {
          if (std::find(ep.ports.begin(), ep.ports.end(), out.port) == ep.ports.end()) continue;
          for (const auto& a : ep.addresses)
            if (cidr.matches(a)) out.peer.cidrs.push_back({net::Prefix{a, static_cast<uint8_t>(a.bits())}, {}});
        }
      std::sort(out.peer.selectorBits.begin(), out.peer.selectorBits.end());
      out.peer.selectorBits.erase(std::unique(out.peer.selectorBits.begin(), out.peer.selectorBits.end()),
                                  out.peer.selectorBits.end());
      std::sort(out.peer.cidrs.begin(), out.peer.cidrs.end());
      out.peer.cidrs.erase(std::unique(out.peer.cidrs.begin(), out.peer.cidrs.end()), out.peer.cidrs.end());
      egressNamedPorts_[{p, r}].push_back(std::move(out));
    }
  }

  void buildIdentities() {
    // Identities are numbered from 256: lower numbers are reserved for
    // entities (host, world) in the datapath.
    using Key = std::tuple<std::string, labels::LabelSet, std::vector<labels::NamedPort>>;
    auto keyOf = [&](const inventory::Endpoint& ep) {
      std::vector<labels::NamedPort> ports;
      for (const auto& np : ep.ports)
        if (conditionPortNames_.count({np.protocol, np.name})) ports.push_back(np);
      std::sort(ports.begin(), ports.end());
      return Key{ep.ns, ep.labels, std::move(ports)};
    };
    std::map<Key, uint32_t> byKey;
    for (const auto& ep : inv_.endpoints) byKey.emplace(keyOf(ep), 0);
    uint32_t next = 256;
    for (auto& [key, id] : byKey) {
      id = next++;
      Identity ident;
      ident.id = id;
      std::tie(ident.ns, ident.labels, ident.ports) = key;
      ident.namespaceLabels = inv_.namespaceLabels(ident.ns);
      for (const auto& sel : out_.selectors)
        if (sel.matches(ident.ns, ident.labels, ident.namespaceLabels, ident.ports))
          ident.selectorBits.push_back(sel.bit);
      out_.identities.push_back(std::move(ident));
    }
    for (const auto& ep : inv_.endpoints) {
      Endpoint e;
      e.name = ep.name;
      e.ns = ep.ns;
      e.workload = ep.workload;
      e.identity = byKey.at(keyOf(ep));
      e.addresses = ep.addresses;
      out_.endpoints.push_back(std::move(e));
    }
  }

  // A rule's id is a hash of what the rule is: its policy, its direction,
  // its text and which occurrence of that text it is in the policy (a
  // `processes` clause hashes as one more kind). So an id does not depend on
  // the rules in other policies, an edit changes the ids (and so the
  // compiled code) of the classes it touches only, and a rule's counters
  // and events mean the same rule from one compile to the next. Two rules
  // hashing alike (at 10,000 rules about three pairs do, at 50,000 about
  // 75, of 2^24 ids) are told apart by probing upwards, in the order of their hash input, so even then an id
  // depends only on the rules that collide with it. The order rules decide
  // in is the order they were written (buildEndpointsAndClasses), never
  // their ids.
  void assignRuleIds() {
    struct Pending {
      std::string key;  // the hash input, unique
      size_t policy;
      std::optional<size_t> rule;  // none: the policy's `processes` clause
    };
    std::vector<Pending> pending;
    for (size_t p = 0; p < checked_.policies.size(); ++p) {
      const auto& pol = checked_.policies[p];
      std::map<std::string, uint32_t> seen;  // occurrences of a (direction, text) in this policy
      auto keyOf = [&](const std::string& kind, const std::string& text) {
        std::string k = pol.key() + '\0' + kind + '\0' + text;
        return k + '\0' + std::to_string(seen[k]++);
      };
      for (size_t r = 0; r < pol.rules.size(); ++r)
        pending.push_back({keyOf(directionName(pol.rules[r].direction), pol.rules[r].text), p, r});
      if (pol.processes)
        pending.push_back({keyOf(features::process::kClauseKeyword, clauseText(*pol.processes)), p, std::nullopt});
    }
    std::sort(pending.begin(), pending.end(), [](const Pending& a, const Pending& b) { return a.key < b.key; });
    std::unordered_set<uint32_t> taken;
    taken.reserve(pending.size());
    for (const auto& item : pending) {
      uint32_t id = stableRuleId(item.key);
      while (id == 0 || !taken.insert(id).second) id = (id + 1) % MB_RULE_MAX;
      const auto& pol = checked_.policies[item.policy];
      RuleInfo info;
      info.id = id;
      info.policy = pol.key();
      info.audit = pol.audit;
      if (item.rule) {
        const auto& rule = pol.rules[*item.rule];
        ruleIds_[{item.policy, *item.rule}] = id;
        info.direction = rule.direction;
        info.action = rule.action;
        info.text = rule.text;
        info.loc = rule.range;
        info.location = sources_.describe(rule.range.begin);
      } else {
        clauseIds_[item.policy] = id;
        info.direction = Direction::Egress;
        info.action = Action::Allow;
        info.text = clauseText(*pol.processes);
        info.loc = pol.processes->range;
        info.location = sources_.describe(pol.processes->range.begin);
        info.clause = true;
      }
      out_.rules.emplace(id, std::move(info));
    }
  }

  // 64-bit FNV-1a, folded to the id space: fixed by the input alone, on
  // every host and in every version of the compiler that keeps it.
  static uint32_t stableRuleId(const std::string& key) {
    uint64_t h = 14695981039346656037ull;
    for (unsigned char c : key) h = (h ^ c) * 1099511628211ull;
    return static_cast<uint32_t>((h ^ (h >> 24) ^ (h >> 48)) % MB_RULE_MAX);
  }

  // `processes { exe "/a", exe "/b" }`, in source order.
  static std::string clauseText(const features::process::Checked& clause) {
    std::string out = std::string(features::process::kClauseKeyword) + " { ";
    for (size_t i = 0; i < clause.executables.size(); ++i)
      out += (i ? ", exe \"" : "exe \"") + clause.executables[i].path + "\"";
    return out + " }";
  }

  std::string ruleText(uint32_t id) const {
    auto it = out_.rules.find(id);
    return it == out_.rules.end() ? std::string("?") : it->second.text;
  }

  static std::string endpointsText(const EndpointClass& cls, const inventory::Endpoint& ep) {
    return cls.endpoints.empty() ? ep.ns + "/" + ep.name : cls.endpoints.front() + (cls.endpoints.size() > 1 ? ", ..." : "");
  }

  // The `processes` clauses of the policies selecting a class
  // (docs/process.md): they restrict the class, whichever policy's rules
  // allow its egress. Every egress allow rule gets the clauses' common
  // executables as its process condition (intersected with its own); a
  // class no enforcing policy isolated in egress gets an allow rule of the
  // clause's own, to anything, for those executables. Reports (once per
  // class, `report`) what cannot hold: clauses or a rule sharing no
  // executable, http or dns rules in the class's egress, an egress only
  // audit-mode policies restrict.
  void applyProcessClauses(EndpointClass& cls, const std::vector<size_t>& selecting, const inventory::Endpoint& ep,
                           bool report) {
    std::vector<size_t> withClause;
    for (size_t p : selecting)
      if (checked_.policies[p].processes) withClause.push_back(p);
    if (withClause.empty()) return;
    DirectionPolicy& egress = cls.egress;
    const auto& firstClause = *checked_.policies[withClause.front()].processes;
    ProcessCondition common = features::process::lower(firstClause);
    bool ok = true;
    for (size_t i = 0; i < withClause.size(); ++i) {
      size_t p = withClause[i];
      const auto& clause = *checked_.policies[p].processes;
      ProcessCondition own = features::process::lower(clause);
      egress.processClauses.push_back({clauseIds_.at(p), own.executables});
      if (i == 0 || !ok) continue;
      ProcessCondition both = features::process::intersect(common, own);
      if (both.executables.empty()) {
        ok = false;
        if (!report) continue;
        auto& d = diags_.error(clause.range,
                               "the `processes` clauses of policies " + checked_.policies[withClause.front()].key() +
                                   " and " + checked_.policies[p].key() +
                                   " share no executable: no egress connection of endpoints " + endpointsText(cls, ep) +
                                   " would be allowed",
                               "the clauses of every policy selecting an endpoint hold together (their "
                               "intersection); list the executables that may connect in each");
        for (size_t k = 0; k < i; ++k)
          d.notes.push_back({Severity::Note, checked_.policies[withClause[k]].processes->range,
                             "the clause of policy " + checked_.policies[withClause[k]].key() + " is here", "", {}});
        continue;
      }
      common = std::move(both);
    }
    // Where the socket calls cannot decide: the rules that read requests or
    // queries, and the audited verdict of an egress only audit policies
    // isolate.
    std::set<uint32_t> reported;
    for (const auto& r : egress.rules) {
      const char* other = r.condition<HttpCondition>() ? "http" : r.condition<DnsCondition>() ? "dns" : nullptr;
      if (!other || !reported.insert(r.id).second) continue;
      ok = false;
      if (!report) continue;
      auto& d = diags_.error(firstClause.range,
                             "the `processes` clause of policy " + checked_.policies[withClause.front()].key() +
                                 " and rule `" + ruleText(r.id) + "` of policy " + r.policy + ", with a " + other +
                                 " condition, apply to the same endpoints (" + endpointsText(cls, ep) + ")",
                             std::string("process conditions and ") + other +
                                 " rules cannot share a direction of one endpoint yet: the socket layer and the "
                                 "socket calls do not share a verdict (docs/process.md, \"Limits\")");
      d.notes.push_back({Severity::Note, r.loc, std::string("the ") + other + " rule is here", "", {}});
    }
    if (!egress.enforced && egress.audited) {
      ok = false;
      if (report)
        diags_.error(firstClause.range,
                     "the egress of endpoints " + endpointsText(cls, ep) +
                         " is restricted only by audit-mode policies: a `processes` clause cannot isolate it yet",
                     "give one enforcing policy selecting them an `egress` section, or enforce the audit policy");
    }
    if (!ok) return;
    reported.clear();
    for (auto& r : egress.rules) {
      if (r.action != Action::Allow) continue;
      ProcessCondition* own = nullptr;
      for (auto& c : r.conditions)
        if (auto* pc = std::get_if<ProcessCondition>(&c)) own = pc;
      if (!own) {
        r.conditions.push_back(common);
        continue;
      }
      *own = features::process::intersect(*own, common);
      if (!own->executables.empty() || !reported.insert(r.id).second || !report) continue;
      auto& d = diags_.error(r.loc,
                             "rule `" + ruleText(r.id) + "` of policy " + r.policy +
                                 " lets no executable connect from endpoints " + endpointsText(cls, ep) +
                                 ": none of its `with process` executables is in their `processes` clauses",
                             "the `processes` clauses of the policies selecting an endpoint restrict every rule "
                             "that allows its egress; name an executable they list, or add it to them");
      for (size_t p : withClause)
        d.notes.push_back({Severity::Note, checked_.policies[p].processes->range,
                           "the clause of policy " + checked_.policies[p].key() + " is here", "", {}});
    }
    if (!egress.enforced) {
      // Nothing else isolates the class's egress: the clause does, letting
      // its executables connect anywhere.
      egress.enforced = true;
      Rule rule;
      rule.id = clauseIds_.at(withClause.front());
      rule.action = Action::Allow;
      rule.peer.all = true;
      rule.conditions.push_back(common);
      rule.policy = checked_.policies[withClause.front()].key();
      rule.loc = firstClause.range;
      egress.rules.push_back(std::move(rule));
    }
  }

  bool selects(const sema::CheckedPolicy& pol, const inventory::Endpoint& ep) const {
    if (!pol.clusterwide && pol.ns != ep.ns) return false;
    if (pol.namespaces && !pol.namespaces->matches(inv_.namespaceLabels(ep.ns))) return false;
    return pol.selects.matches(ep.labels);
  }

  uint32_t priorityOf(const std::string& policyKey) const {
    auto it = std::lower_bound(checked_.policies.begin(), checked_.policies.end(), policyKey,
                               [](const sema::CheckedPolicy& p, const std::string& key) { return p.key() < key; });
    return it != checked_.policies.end() && it->key() == policyKey ? it->priority : 0;
  }

  // Does a rule's peer side match this inventory endpoint (by selector or address)?
  bool peerMatchesEndpoint(const PeerMatch& peer, const inventory::Endpoint& ep) const {
    if (peer.all || peer.cluster) return true;
    labels::LabelSet nsLabels = inv_.namespaceLabels(ep.ns);
    for (uint32_t bit : peer.selectorBits)
      if (out_.selectors[bit].matches(ep.ns, ep.labels, nsLabels, ep.ports)) return true;
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
        case sema::PeerSpec::Kind::Dns: m.dnsNames.insert(m.dnsNames.end(), spec.dnsNames.begin(), spec.dnsNames.end()); break;
        case sema::PeerSpec::Kind::Service:
          // Never a silently empty peer: the pipeline resolves services first.
          throw std::logic_error("service peer " + spec.ns + "/" + spec.service +
                                 " reached lowering unresolved (lowering::resolveServicePeers)");
        case sema::PeerSpec::Kind::Nodes:
          // Likewise: the pipeline puts the nodes' addresses in its place.
          throw std::logic_error("nodes peer " + spec.nodes.str() +
                                 " reached lowering unresolved (lowering::resolveNodePeers)");
      }
    }
    std::sort(m.dnsNames.begin(), m.dnsNames.end());
    m.dnsNames.erase(std::unique(m.dnsNames.begin(), m.dnsNames.end()), m.dnsNames.end());
    std::sort(m.selectorBits.begin(), m.selectorBits.end());
    m.selectorBits.erase(std::unique(m.selectorBits.begin(), m.selectorBits.end()), m.selectorBits.end());
    std::sort(m.cidrs.begin(), m.cidrs.end());
    m.cidrs.erase(std::unique(m.cidrs.begin(), m.cidrs.end()), m.cidrs.end());
    return m;
  }

  // The rule's conditions on one subject endpoint, each lowered by its kind;
  // nullopt when one matches nothing there.
  std::optional<std::vector<Condition>> conditionsFor(const sema::CheckedRule& rule, uint32_t ruleId,
                                                      const inventory::Endpoint& subject) {
    features::Subject s;
    s.direction = rule.direction;
    s.ports = &subject.ports;
    s.unresolvedPort = [&](const features::l4::NamedPortRef& np) {
      if (!definedUnderAnotherProtocol(rule, np, subject)) warnUnresolvedIngress(np, ruleId, subject);
    };
    std::vector<Condition> out;
    for (const auto& checked : rule.conditions) {
      auto lowered = features::lowerForSubject(checked, s);
      if (!lowered) return std::nullopt;
      out.push_back(std::move(*lowered));
    }
    return out;
  }

  // Whether `endpoint` defines the port name of `ref` under another protocol
  // the rule gives that name. A name given under several protocols (an
  // AdminNetworkPolicy's namedPort, which has none, becomes tcp/, udp/ and
  // sctp/NAME) is unresolved only where it resolves under none of them:
  // warning about each protocol the pod does not use it for would be noise.
  static bool definedUnderAnotherProtocol(const sema::CheckedRule& rule, const features::l4::NamedPortRef& ref,
                                          const inventory::Endpoint& endpoint) {
    for (const auto& spec : features::l4::specsOf(rule))
      for (const auto& other : spec.namedPorts)
        if (other.name == ref.name && other.protocol != ref.protocol &&
            !labels::numbersNamed(endpoint.ports, other.protocol, other.name).empty())
          return true;
    return false;
  }

  void warnUnresolvedIngress(const features::l4::NamedPortRef& np, uint32_t ruleId, const inventory::Endpoint& subject) {
    std::string key = subject.ns + "/" + subject.name;
    if (!warnedNamedPorts_.insert({ruleId, np.name + "\n" + key}).second) return;
    diags_.warning(np.range, "named port '" + np.name + "' (" + protocolName(np.protocol) + ") is not defined by endpoint " +
                                 key + "; this part of the rule matches nothing there",
                   "define the port in the inventory, or use its number");
  }

  void warnUnresolvedEgress(const features::l4::NamedPortRef& np, size_t policy, size_t rule) {
    if (!warnedEgressNamedPorts_.insert({policy, rule, np.protocol, np.name}).second) return;
    diags_.warning(np.range, "named port '" + np.name + "' (" + protocolName(np.protocol) +
                                 ") is defined by no endpoint this rule's peers match; it matches nothing",
                   "define the port in the inventory, or use its number");
  }

  void buildEndpointsAndClasses() {
    // Class key: the selecting policies plus what the endpoint gives the
    // names its ingress rules use (which decides how they resolve on it).
    std::map<std::string, uint32_t> classByKey;
    for (size_t e = 0; e < inv_.endpoints.size(); ++e) {
      const auto& ep = inv_.endpoints[e];
      std::vector<size_t> selecting;
      for (size_t p = 0; p < checked_.policies.size(); ++p)
        if (selects(checked_.policies[p], ep)) selecting.push_back(p);
      if (selecting.empty()) continue;

      EndpointClass cls;
      std::string key;
      std::set<std::pair<uint8_t, std::string>> ingressNames;
      for (size_t p : selecting) {
        const auto& pol = checked_.policies[p];
        cls.policies.push_back(pol.key());
        key += pol.key() + ";";
        // Sections of tier policies isolate nothing: their rules decide
        // around the ordinary policies' (docs/language.md, "Tiers").
        if (pol.tier == Tier::Network) {
          if (pol.hasIngress) (pol.audit ? cls.ingress.audited : cls.ingress.enforced) = true;
          if (pol.hasEgress) (pol.audit ? cls.egress.audited : cls.egress.enforced) = true;
        }
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
          DirectionPolicy& dp = rule.direction == Direction::Ingress ? cls.ingress : cls.egress;
          auto& rules = pol.tier == Tier::Admin ? dp.admin : pol.tier == Tier::Baseline ? dp.baseline : dp.rules;
          if (rule.direction == Direction::Ingress)
            for (const auto& spec : features::l4::specsOf(rule))
              for (const auto& np : spec.namedPorts) ingressNames.insert({np.protocol, np.name});
          auto conditions = conditionsFor(rule, id, ep);
          if (conditions) {
            lowered.conditions = std::move(*conditions);
            rules.push_back(lowered);
          }
          if (auto it = egressNamedPorts_.find({p, r}); it != egressNamedPorts_.end()) {
            for (const auto& named : it->second) {
              // The part for one number: the rule's other conditions, its
              // L4 condition narrowed to that port.
              Rule part = lowered;
              part.peer = named.peer;
              std::erase_if(part.conditions, [](const Condition& c) { return std::holds_alternative<L4Condition>(c); });
              part.conditions.push_back(features::l4::single(named.port.protocol, named.port.port));
              rules.push_back(std::move(part));
            }
          }
        }
      }
      cls.ingressNamedPorts = labels::bindingsOf({ingressNames.begin(), ingressNames.end()}, ep.ports);
      for (const auto& b : cls.ingressNamedPorts)
        key += labels::portProtocolName(b.protocol) + "/" + b.name + "=" + (b.port ? std::to_string(*b.port) : "-") + ";";
      applyProcessClauses(cls, selecting, ep, !classByKey.count(key));
      // Deny rules first, then allow rules, each group in the order written:
      // policies in key order (checked_.policies is sorted so), a policy's
      // rules as they were pushed above, its `processes` clause's rule
      // (pushed last by applyProcessClauses) after them.
      // Admin rules by priority, then key; baseline rules by key (pushed so).
      for (auto* dp : {&cls.ingress, &cls.egress}) {
        std::stable_sort(dp->rules.begin(), dp->rules.end(), [](const Rule& a, const Rule& b) {
          if (a.action != b.action) return a.action == Action::Deny;
          return a.policy < b.policy;
        });
        std::stable_sort(dp->admin.begin(), dp->admin.end(), [&](const Rule& a, const Rule& b) {
          return priorityOf(a.policy) < priorityOf(b.policy);
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
};

}  // namespace

Program lower(const sema::CheckedProgram& checked, const inventory::Inventory& inventory,
              const SourceManager& sources, DiagnosticEngine& diags) {
  return Lowering(checked, inventory, sources, diags).run();
}

}  // namespace membrane::lowering
