// policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy and
// BaselineAdminNetworkPolicy → one clusterwide membrane policy in the admin
// tier (`tier admin priority N`) or the baseline tier (`tier baseline`)
// (docs/kubernetes.md, "AdminNetworkPolicy and BaselineAdminNetworkPolicy").
//
// Both kinds are read as the API server validates them (the CRD's schema and
// its CEL rules): what it would refuse is refused here, at the field, and a
// field membrane cannot enforce exactly (domain names) is an error rather
// than a rule dropped, since a dropped admin rule changes what every
// namespace may do.
#include <algorithm>
#include <cctype>

#include "k8s/convert.h"
#include "names/names.h"

namespace membrane::k8s {
namespace {

// The API's limits (kubebuilder markers of the v1alpha1 types).
constexpr size_t kMaxRules = 100;     // spec.ingress, spec.egress
constexpr size_t kMaxPeers = 100;     // from, to
constexpr size_t kMaxPorts = 100;     // ports
constexpr size_t kMaxNetworks = 25;   // to[].networks
constexpr size_t kMaxRuleName = 100;  // a rule's name, in characters
constexpr int64_t kMaxPriority = 1000;

size_t codePoints(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// A rule's name as a comment's text: control characters escaped by shown(),
// and the Unicode line and paragraph separators too, which some editors
// break lines at (the lexer does not, but a reader should see one line).
std::string commentText(const std::string& name) {
  std::string out = shown(name, SIZE_MAX), result;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out.compare(i, 3, "\xE2\x80\xA8") == 0 || out.compare(i, 3, "\xE2\x80\xA9") == 0) {
      result += out[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      result += out[i];
    }
  }
  while (!result.empty() && result.back() == ' ') result.pop_back();
  return result;
}

// The key node of `key` in `map` (for errors about a field as a whole, as
// checkKeys reports unknown ones), else the map.
YAML::Node keyNode(const YAML::Node& map, const std::string& key) {
  for (auto it = map.begin(); it != map.end(); ++it)
    if (it->first.IsScalar() && it->first.Scalar() == key) return it->first;
  return map;
}

class AdminConverter {
 public:
  AdminConverter(Context& ctx, const ObjectRef& obj)
      : ctx_(ctx), obj_(obj), baseline_(obj.kind == "BaselineAdminNetworkPolicy") {}

  std::optional<Policy> convert() {
    size_t errorsBefore = ctx_.errors();
    Policy p;
    p.name = obj_.name;
    p.clusterwide = true;  // both kinds are cluster-scoped
    p.apiVersion = obj_.apiVersion;
    p.kind = obj_.kind;
    p.origin = ctx_.at(obj_.node);
    ctx_.checkKeys(obj_.node, obj_.kind, {"apiVersion", "kind", "metadata", "spec", "status"});
    if (baseline_ && obj_.name != "default") {
      YAML::Node nameNode = ctx_.get(ctx_.get(obj_.node, "metadata"), "name");
      ctx_.error(nameNode.IsDefined() ? nameNode : obj_.node,
                 "BaselineAdminNetworkPolicy '" + obj_.name +
                     "': its name must be `default`: the API server accepts only one BaselineAdminNetworkPolicy, "
                     "named default",
                 "name it default");
    }
    YAML::Node spec = ctx_.get(obj_.node, "spec");
    if (!spec.IsDefined()) {
      ctx_.error(obj_.node, obj_.kind + " " + obj_.name + " has no `spec`");
      return std::nullopt;
    }
    const std::string specWhat = obj_.kind + " spec";
    if (!ctx_.isMap(spec, specWhat)) return std::nullopt;
    std::vector<std::string> specKeys = {"subject", "ingress", "egress"};
    if (!baseline_) specKeys.push_back("priority");
    ctx_.checkKeys(spec, specWhat, specKeys);

    tier(spec, p);
    YAML::Node subjectNode = ctx_.get(spec, "subject");
    if (!subjectNode.IsDefined())
      ctx_.error(spec, "spec.subject is required: the pods the policy applies to, by `namespaces` or `pods`");
    else
      subject(subjectNode, p);
    section(spec, false, p.ingress);
    section(spec, true, p.egress);
    if (ctx_.errors() != errorsBefore) return std::nullopt;
    return p;
  }

 private:
  void tier(const YAML::Node& spec, Policy& p) {
    if (baseline_) {
      // Nothing in the manifest says `baseline` but the kind.
      p.tier = Policy::Tier::Baseline;
      p.tierLine = {"tier baseline", p.origin};
      return;
    }
    YAML::Node prio = ctx_.get(spec, "priority");
    if (!prio.IsDefined()) {
      ctx_.error(spec, "spec.priority is required: a number from 0 (decides first) to 1000");
      return;
    }
    auto v = ctx_.integer(prio, "spec.priority");
    if (!v) return;
    if (*v < 0 || *v > kMaxPriority) {
      ctx_.error(prio, "spec.priority: " + std::to_string(*v) + " is out of range (0-1000)");
      return;
    }
    p.tier = Policy::Tier::Admin;
    p.priority = *v;
    p.tierLine = {"tier admin priority " + std::to_string(*v), ctx_.at(prio)};
  }

  // A NamespacedPod (`{namespaceSelector, podSelector}`, both required).
  struct PodSet {
    std::vector<Requirement> pods, namespaces;
    YAML::Node podNode, nsNode;
  };
  std::optional<PodSet> namespacedPod(const YAML::Node& node, const std::string& what) {
    if (!ctx_.isMap(node, what)) return std::nullopt;
    ctx_.checkKeys(node, what, {"namespaceSelector", "podSelector"});
    PodSet s;
    s.podNode = ctx_.get(node, "podSelector");
    s.nsNode = ctx_.get(node, "namespaceSelector");
    // The API requires both (`{}` is every pod / every namespace): a missing
    // one is not read as `{}`, which would widen the rule.
    if (!s.nsNode.IsDefined() || !s.podNode.IsDefined()) {
      ctx_.error(node,
                 what + ": `" + (s.nsNode.IsDefined() ? "podSelector" : "namespaceSelector") +
                     "` is required (`{}` selects every " + (s.nsNode.IsDefined() ? "pod" : "namespace") + ")");
      return std::nullopt;
    }
    auto pods = readLabelSelector(ctx_, s.podNode, what + ".podSelector");
    auto nss = readLabelSelector(ctx_, s.nsNode, what + ".namespaceSelector");
    if (!pods || !nss) return std::nullopt;
    s.pods = std::move(*pods);
    s.namespaces = std::move(*nss);
    return s;
  }

  // spec.subject: `namespaces: N` (every pod of those namespaces) or
  // `pods: {namespaceSelector: N, podSelector: S}`, exactly one.
  void subject(const YAML::Node& node, Policy& p) {
    const std::string what = "spec.subject";
    if (!ctx_.isMap(node, what)) return;
    ctx_.checkKeys(node, what, {"namespaces", "pods"});
    YAML::Node nss = ctx_.get(node, "namespaces"), pods = ctx_.get(node, "pods");
    if (nss.IsDefined() == pods.IsDefined()) {
      ctx_.error(node, what + ": needs exactly one of `namespaces` and `pods`");
      return;
    }
    if (nss.IsDefined()) {
      auto reqs = readLabelSelector(ctx_, nss, what + ".namespaces");
      if (!reqs) return;
      p.selects = {"{} in " + namespaceRefText(*reqs), ctx_.at(nss)};
      p.selectsCount = 0;
      p.selectsIn = namespaceRefIsName(*reqs) ? "name" : std::to_string(reqs->size());
      return;
    }
    auto set = namespacedPod(pods, what + ".pods");
    if (!set) return;
    // The namespace part on a line of its own, so findings about it point at
    // the namespaceSelector.
    p.selects = {selectorText(set->pods), ctx_.at(set->podNode), {{"in " + namespaceRefText(set->namespaces),
                                                                    ctx_.at(set->nsNode)}}};
    p.selectsCount = set->pods.size();
    p.selectsIn = namespaceRefIsName(set->namespaces) ? "name" : std::to_string(set->namespaces.size());
  }

  // spec.ingress / spec.egress. Absent or empty: no section, so the policy
  // leaves that direction to the other tiers (a tier's section is never
  // default deny).
  void section(const YAML::Node& spec, bool egress, Section& out) {
    const std::string what = egress ? "spec.egress" : "spec.ingress";
    YAML::Node rules = ctx_.get(spec, egress ? "egress" : "ingress");
    if (!rules.IsDefined() || !ctx_.isSequence(rules, what)) return;
    if (rules.size() > kMaxRules) {
      ctx_.error(rules[kMaxRules], what + ": more than 100 rules; the API server refuses them",
                 "split the rules between policies");
      return;
    }
    if (rules.size() == 0) return;
    out.present = true;
    out.origin = ctx_.at(rules);
    for (const auto& r : rules)
      if (auto rule = convertRule(r, egress, what + "[]")) out.rules.push_back(std::move(*rule));
  }

  std::optional<Rule> convertRule(const YAML::Node& r, bool egress, const std::string& what) {
    if (!ctx_.isMap(r, what)) return std::nullopt;
    const std::string peersKey = egress ? "to" : "from";
    ctx_.checkKeys(r, what, {"name", "action", peersKey, "ports"});
    size_t errorsBefore = ctx_.errors();
    Rule rule;
    rule.origin = ctx_.at(r);

    if (YAML::Node n = ctx_.get(r, "name"); n.IsDefined()) {
      if (auto s = ctx_.string(n, what + ".name")) {
        if (codePoints(*s) > kMaxRuleName)
          ctx_.error(n, what + ".name: " + std::to_string(codePoints(*s)) +
                            " characters; the API server allows at most 100");
        else if (std::string text = commentText(*s); !text.empty())
          rule.comment = SourceLine{"# " + text, ctx_.at(n)};
      }
    }

    action(r, what, rule);

    YAML::Node peers = ctx_.get(r, peersKey);
    // The first peer by address (`networks` or `nodes`) the rule has, if any.
    std::string addressPeer;
    if (!peers.IsDefined()) {
      ctx_.error(r, what + ": `" + peersKey + "` is required: at least one peer");
    } else if (ctx_.isSequence(peers, what + "." + peersKey)) {
      if (peers.size() == 0)
        ctx_.error(peers, what + "." + peersKey + ": at least one peer is required; the API server refuses an empty list",
                   egress ? "`namespaces: {}` is every pod; `networks: [0.0.0.0/0, \"::/0\"]` every address"
                          : "`namespaces: {}` is every pod");
      else if (peers.size() > kMaxPeers)
        ctx_.error(peers[kMaxPeers], what + "." + peersKey + ": more than 100 peers; the API server refuses them");
      else
        for (const auto& peer : peers) convertPeer(peer, egress, what + "." + peersKey + "[]", rule, addressPeer);
    }

    YAML::Node ports = ctx_.get(r, "ports");
    std::vector<YAML::Node> named;
    if (ports.IsDefined() && ctx_.isSequence(ports, what + ".ports")) {
      if (ports.size() == 0)
        ctx_.error(ports, what + ".ports: at least one port is required; the API server refuses an empty list",
                   "leave `ports` out for every protocol and port");
      else if (ports.size() > kMaxPorts)
        ctx_.error(ports[kMaxPorts], what + ".ports: more than 100 ports; the API server refuses them");
      else
        for (const auto& port : ports) convertPort(port, what + ".ports[]", rule, named);
    }
    // The API's CEL rule: addresses outside the cluster, and nodes, have no
    // port names.
    if (!addressPeer.empty() && !named.empty())
      ctx_.error(named.front(),
                 what + ".ports[].namedPort: a named port cannot be used with a `" + addressPeer +
                     "` peer: " + (addressPeer == "nodes" ? "nodes" : "addresses") +
                     " have no port names, and the API server refuses the combination",
                 "give the port by number, or put the " + addressPeer + " in a rule of their own");
    if (ctx_.errors() != errorsBefore) return std::nullopt;
    return rule;
  }

  void action(const YAML::Node& r, const std::string& what, Rule& rule) {
    const std::string expected = baseline_ ? "Allow or Deny" : "Allow, Deny or Pass";
    YAML::Node node = ctx_.get(r, "action");
    if (!node.IsDefined()) {
      ctx_.error(r, what + ": `action` is required (" + expected + ")");
      return;
    }
    auto a = ctx_.string(node, what + ".action");
    if (!a) return;
    if (*a == "Allow") return;
    if (*a == "Deny") {
      rule.action = Rule::Action::Deny;
      return;
    }
    if (*a == "Pass" && !baseline_) {
      rule.action = Rule::Action::Pass;
      return;
    }
    if (*a == "Pass") {
      ctx_.error(node, what + ".action: a BaselineAdminNetworkPolicy has no `Pass` (expected Allow or Deny)",
                 "Pass hands a connection on to the tiers below; the baseline tier is the last");
      return;
    }
    // The API's enum is case-sensitive: `allow` is refused, not read as Allow.
    std::string lower = *a, hint;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    for (const char* known : {"Allow", "Deny", "Pass"}) {
      std::string k = known;
      std::transform(k.begin(), k.end(), k.begin(), [](unsigned char c) { return std::tolower(c); });
      if (lower == k && (!baseline_ || k != "pass")) hint = std::string("actions are case-sensitive: write `") + known + "`";
    }
    ctx_.error(node, what + ".action: unknown action '" + shown(*a) + "' (expected " + expected + ")", hint);
  }

  // The one key of `known` that `map` has (the API's one-of fields: a peer,
  // a port); nullopt after an error when it has none or several. Unknown
  // keys are reported, and a map with only those gets no second error.
  std::optional<std::string> exactlyOne(const YAML::Node& map, const std::vector<std::string>& known,
                                        const std::string& what) {
    size_t errorsBefore = ctx_.errors();
    ctx_.checkKeys(map, what, known);
    std::vector<std::string> given;
    for (const auto& k : known)
      if (ctx_.get(map, k).IsDefined()) given.push_back(k);
    if (given.size() == 1) return given.front();
    if (given.size() > 1 || ctx_.errors() == errorsBefore) {
      std::string list;
      for (size_t i = 0; i < known.size(); ++i)
        list += (i ? (i + 1 == known.size() ? " or `" : ", `") : "`") + known[i] + "`";
      ctx_.error(map, what + ": needs exactly one of " + list);
    }
    return std::nullopt;
  }

  void convertPeer(const YAML::Node& peer, bool egress, const std::string& what, Rule& rule,
                   std::string& addressPeer) {
    if (!ctx_.isMap(peer, what)) return;
    std::vector<std::string> known = {"namespaces", "pods"};
    if (egress) {
      known.insert(known.end(), {"networks", "nodes"});
      if (!baseline_) known.push_back("domainNames");  // the baseline API has none
    }
    auto one = exactlyOne(peer, known, what);
    if (!one) return;
    const std::string& key = *one;
    YAML::Node node = ctx_.get(peer, key);
    if (key == "namespaces") {
      if (auto reqs = readLabelSelector(ctx_, node, what + ".namespaces"))
        rule.peers.push_back({namespaceRefText(*reqs), ctx_.at(node)});
    } else if (key == "pods") {
      if (auto set = namespacedPod(node, what + ".pods"))
        rule.peers.push_back({"pods " + selectorText(set->pods), ctx_.at(set->podNode),
                              {{"in " + namespaceRefText(set->namespaces), ctx_.at(set->nsNode)}}});
    } else if (key == "networks") {
      if (addressPeer.empty()) addressPeer = key;
      convertNetworks(node, what + ".networks", rule);
    } else if (key == "nodes") {
      if (addressPeer.empty()) addressPeer = key;
      // The nodes whose labels match, by the addresses the inventory gives
      // them (Node objects among the inputs): the checker's `nodes` peer.
      if (auto reqs = readLabelSelector(ctx_, node, what + ".nodes"))
        rule.peers.push_back({"nodes " + selectorText(*reqs), ctx_.at(node)});
    } else {
      ctx_.error(keyNode(peer, key), what + ": `domainNames` peers are not supported yet",
                 "allow the names with a `dns` peer in a membrane policy (`allow to dns \"example.com\"`, "
                 "docs/dns.md)");
    }
  }

  // `networks: [CIDR, ...]`: one `cidr` peer each. A set in the API: 1-25
  // prefixes, none twice, each with its length.
  void convertNetworks(const YAML::Node& node, const std::string& what, Rule& rule) {
    if (!ctx_.isSequence(node, what)) return;
    if (node.size() == 0) {
      ctx_.error(node, what + ": at least one CIDR is required; the API server refuses an empty list");
      return;
    }
    if (node.size() > kMaxNetworks) {
      ctx_.error(node[kMaxNetworks], what + ": more than 25 CIDRs; the API server refuses them",
                 "split them between peers");
      return;
    }
    std::map<std::string, YAML::Node> seen;
    for (const auto& cidr : node) {
      auto line = cidrText(ctx_, cidr, {}, what + "[]", /*prefixRequired=*/true);
      if (!line) continue;
      if (auto [it, fresh] = seen.emplace(line->text, cidr); !fresh) {
        ctx_.error(cidr, what + ": '" + shown(cidr.Scalar()) + "' is listed twice; the API server refuses it",
                   "first listed at " + ctx_.where(it->second));
        continue;
      }
      rule.peers.push_back(*line);
    }
  }

  // The protocol of a portNumber or portRange; TCP when absent, the API's
  // default.
  std::optional<std::string> protocol(const YAML::Node& map, const std::string& what) {
    YAML::Node n = ctx_.get(map, "protocol");
    if (!n.IsDefined()) return "tcp";
    auto s = ctx_.string(n, what + ".protocol");
    if (!s) return std::nullopt;
    if (*s == "TCP") return "tcp";
    if (*s == "UDP") return "udp";
    if (*s == "SCTP") return "sctp";
    ctx_.error(n, what + ".protocol: unknown protocol '" + shown(*s) + "' (expected TCP, UDP or SCTP)");
    return std::nullopt;
  }

  // A port number field (`port`, `start`, `end`): required, 1-65535.
  std::optional<int64_t> portNumber(const YAML::Node& map, const std::string& key, const std::string& what) {
    YAML::Node n = ctx_.get(map, key);
    if (!n.IsDefined()) {
      ctx_.error(map, what + ": `" + key + "` is required");
      return std::nullopt;
    }
    auto v = ctx_.integer(n, what + "." + key);
    if (!v) return std::nullopt;
    if (*v < 1 || *v > 65535) {
      ctx_.error(n, what + "." + key + ": " + std::to_string(*v) + " is out of range (1-65535)");
      return std::nullopt;
    }
    return v;
  }

  // One AdminNetworkPolicyPort: exactly one of portNumber, portRange and
  // namedPort.
  void convertPort(const YAML::Node& port, const std::string& what, Rule& rule, std::vector<YAML::Node>& named) {
    if (!ctx_.isMap(port, what)) return;
    auto one = exactlyOne(port, {"portNumber", "portRange", "namedPort"}, what);
    if (!one) return;
    YAML::Node node = ctx_.get(port, *one);
    const std::string field = what + "." + *one;
    if (*one == "namedPort") {
      // ANP's named ports have no protocol: the name matches a container
      // port of that name whatever its protocol.
      auto name = ctx_.name(node, NameRule::PortName, field);
      if (!name) return;
      named.push_back(node);
      for (const char* proto : {"tcp", "udp", "sctp"}) rule.protos.push_back({portItem(proto, *name), ctx_.at(node)});
      return;
    }
    if (!ctx_.isMap(node, field)) return;
    if (*one == "portNumber") {
      ctx_.checkKeys(node, field, {"protocol", "port"});
      auto proto = protocol(node, field);
      auto number = portNumber(node, "port", field);
      if (proto && number) rule.protos.push_back({portItem(*proto, std::to_string(*number)), ctx_.at(node)});
      return;
    }
    ctx_.checkKeys(node, field, {"protocol", "start", "end"});
    auto proto = protocol(node, field);
    auto start = portNumber(node, "start", field), end = portNumber(node, "end", field);
    if (!proto || !start || !end) return;
    if (*start >= *end) {
      ctx_.error(ctx_.get(node, "end"),
                 field + ": end " + std::to_string(*end) + " must be greater than start " + std::to_string(*start) +
                     " (the API server refuses it)",
                 *start == *end ? "for one port write `portNumber: {port: " + std::to_string(*start) + "}`" : "");
      return;
    }
    rule.protos.push_back({portItem(*proto, std::to_string(*start), std::to_string(*end)), ctx_.at(node)});
  }

  Context& ctx_;
  const ObjectRef& obj_;
  bool baseline_;
};

}  // namespace

std::optional<Policy> convertAdminNetworkPolicy(Context& ctx, const ObjectRef& obj) {
  return AdminConverter(ctx, obj).convert();
}

}  // namespace membrane::k8s
