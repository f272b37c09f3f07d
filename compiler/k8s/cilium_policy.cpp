// cilium.io/v2 CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy, the
// L3/L4 part, DNS (`toFQDNs`, `rules.dns`) and HTTP (`rules.http`, the
// regular expressions that map exactly) → one membrane policy per rule
// in `spec` and `specs` (docs/kubernetes.md, "Cilium"). Everything membrane
// cannot express is an error naming the field.
#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "inventory/inventory.h"
#include "ir/protocols.h"
#include "k8s/convert.h"
#include "names/dns.h"
#include "names/http.h"
#include "names/names.h"

namespace membrane::k8s {

namespace {

const std::string kPodNamespaceKey = "io.kubernetes.pod.namespace";
const std::string kNamespaceLabelsPrefix = "io.cilium.k8s.namespace.labels.";

const std::map<std::string, std::string> kUnsupportedRuleFields = {
    {"fromRequires", "membrane has no equivalent of Cilium's requirements (deprecated in Cilium)"},
    {"toRequires", "membrane has no equivalent of Cilium's requirements (deprecated in Cilium)"},
    {"fromGroups", "cloud-provider groups are not modelled; use CIDRs"},
    {"toGroups", "cloud-provider groups are not modelled; use CIDRs"},
    {"fromNodes", "Cilium's node selectors are not converted yet; write a `nodes { ... }` peer in a membrane policy"},
    {"toNodes", "Cilium's node selectors are not converted yet; write a `nodes { ... }` peer in a membrane policy"},
    {"authentication", "mutual authentication is not modelled"},
};

const std::map<std::string, std::string> kUnsupportedPortRuleFields = {
    {"serverNames", "TLS SNI matching is L7 and not supported"},
    {"listener", "Envoy listeners are L7 and not supported"},
    {"originatingTLS", "TLS interception is L7 and not supported"},
    {"terminatingTLS", "TLS interception is L7 and not supported"},
};

// Cilium's ICMP type names (pkg/policy/api/icmp.go), case-sensitive.
const std::map<std::string, uint8_t> kCiliumIcmpV4 = {
    {"EchoReply", 0},          {"DestinationUnreachable", 3}, {"Redirect", 5},       {"Echo", 8},
    {"EchoRequest", 8},        {"RouterAdvertisement", 9},    {"RouterSelection", 10}, {"TimeExceeded", 11},
    {"ParameterProblem", 12},  {"Timestamp", 13},             {"TimestampReply", 14}, {"Photuris", 40},
    {"ExtendedEchoRequest", 42}, {"ExtendedEchoReply", 43},
};
const std::map<std::string, uint8_t> kCiliumIcmpV6 = {
    {"DestinationUnreachable", 1},
    {"PacketTooBig", 2},
    {"TimeExceeded", 3},
    {"ParameterProblem", 4},
    {"EchoRequest", 128},
    {"EchoReply", 129},
    {"MulticastListenerQuery", 130},
    {"MulticastListenerReport", 131},
    {"MulticastListenerDone", 132},
    {"RouterSolicitation", 133},
    {"RouterAdvertisement", 134},
    {"NeighborSolicitation", 135},
    {"NeighborAdvertisement", 136},
    {"RedirectMessage", 137},
    {"RouterRenumbering", 138},
    {"ICMPNodeInformationQuery", 139},
    {"ICMPNodeInformationResponse", 140},
    {"InverseNeighborDiscoverySolicitation", 141},
    {"InverseNeighborDiscoveryAdvertisement", 142},
    {"HomeAgentAddressDiscoveryRequest", 144},
    {"HomeAgentAddressDiscoveryReply", 145},
    {"MobilePrefixSolicitation", 146},
    {"MobilePrefixAdvertisement", 147},
    {"DuplicateAddressRequestCodeSuffix", 157},
    {"DuplicateAddressConfirmationCodeSuffix", 158},
    {"ExtendedEchoRequest", 160},
    {"ExtendedEchoReply", 161},
};

// The L7 rules of a port rule (`toPorts[].rules`) other than `dns` and `http`.
const std::map<std::string, std::string> kUnsupportedL7Rules = {
    {"kafka", "Kafka rules are L7 and not supported yet; membrane enforces L3/L4, DNS and HTTP"},
    {"l7proto", "L7 protocol parsers are not supported yet; membrane enforces L3/L4, DNS and HTTP"},
    {"l7", "L7 protocol parsers are not supported yet; membrane enforces L3/L4, DNS and HTTP"},
};

// Which L7 rules a `toPorts` entry carries: its ports are where they are read.
enum class L7 { None, Dns, Http };

const char* l7Field(L7 kind) { return kind == L7::Http ? "`rules.http`" : "`rules.dns`"; }
const char* l7Read(L7 kind) {
  return kind == L7::Http ? "the ports whose traffic is read as HTTP" : "the ports whose traffic is read as DNS";
}
const char* l7Example(L7 kind) { return kind == L7::Http ? "port \"80\"" : "port \"53\""; }

// `text` as a policy STRING token (docs/language.md): quoted, '"' and '\'
// escaped. The parts it is used for are checked visible ASCII first.
std::string policyString(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// One of Cilium's regular expressions (Go RE2, matched against the whole
// value) that is a literal: every character plain or backslash-escaped
// punctuation, an optional `^` and `$` at the ends. `dots`: an unescaped '.'
// stands for itself (the rule then allows less than Cilium's, which lets '.'
// match any character: safe for allow rules, and host names are written
// that way). `extra(i)` may consume constructs at offset i (returns how many
// characters, 0 if none). nullopt with the offending offset otherwise.
struct Literal {
  std::string text;
  size_t bad = std::string::npos;  // offset of the first construct with no exact equivalent
};
template <class Extra>
Literal literalOf(const std::string& regex, bool dots, Extra extra) {
  Literal out;
  size_t i = 0, end = regex.size();
  if (i < end && regex[i] == '^') ++i;
  if (end > i && regex[end - 1] == '$' && (end < 2 || regex[end - 2] != '\\')) --end;
  while (i < end) {
    if (size_t n = extra(i, out.text)) {
      i += n;
      continue;
    }
    char c = regex[i];
    if (c == '\\' && i + 1 < end && std::ispunct(static_cast<unsigned char>(regex[i + 1]))) {
      out.text += regex[i + 1];
      i += 2;
      continue;
    }
    bool meta = std::string_view("\\[](){}*+?|^$").find(c) != std::string_view::npos;
    if (meta || (c == '.' && (!dots || (i + 1 < end && std::string_view("*+?{").find(regex[i + 1]) != std::string_view::npos)))) {
      out.bad = i;
      return out;
    }
    out.text += c;
    ++i;
  }
  return out;
}


class CiliumConverter {
 public:
  CiliumConverter(Context& ctx, const ObjectRef& obj, bool clusterwide)
      : ctx_(ctx), obj_(obj), clusterwide_(clusterwide) {}

  std::optional<Policy> rule(const YAML::Node& spec, const std::string& what) {
    size_t errorsBefore = ctx_.errors();
    Policy p;
    p.ns = clusterwide_ ? "" : obj_.ns;
    p.clusterwide = clusterwide_;
    p.apiVersion = obj_.apiVersion;
    p.kind = obj_.kind;
    p.origin = ctx_.at(spec);
    if (!ctx_.isMap(spec, what)) return std::nullopt;
    ctx_.checkKeys(spec, what,
                   {"endpointSelector", "ingress", "egress", "ingressDeny", "egressDeny", "labels", "description",
                    "enableDefaultDeny"},
                   {{"nodeSelector", "host policies (nodeSelector) are not modelled; membrane policies select pods"}});
    YAML::Node selector = ctx_.get(spec, "endpointSelector");
    if (!selector.IsDefined()) {
      if (!ctx_.get(spec, "nodeSelector").IsDefined()) ctx_.error(spec, what + ": `endpointSelector` is required");
      return std::nullopt;
    }
    peersEverywhere_ = false;
    if (auto sel = subjectSelector(selector, what + ".endpointSelector", p)) p.selects = {*sel, ctx_.at(selector)};
    if (YAML::Node dd = ctx_.get(spec, "enableDefaultDeny"); dd.IsDefined() && ctx_.isMap(dd, what + ".enableDefaultDeny")) {
      ctx_.checkKeys(dd, what + ".enableDefaultDeny", {"ingress", "egress"});
      for (const char* dir : {"ingress", "egress"}) {
        YAML::Node v = ctx_.get(dd, dir);
        if (v.IsDefined() && ctx_.boolean(v, what + ".enableDefaultDeny." + dir) == false)
          ctx_.error(v, what + ".enableDefaultDeny." + dir +
                            ": false is not supported: in membrane a policy with rules for a direction always "
                            "makes it default-deny");
      }
    }
    section(spec, "ingress", "ingressDeny", false, what, p.ingress);
    section(spec, "egress", "egressDeny", true, what, p.egress);
    if (ctx_.errors() != errorsBefore) return std::nullopt;
    return p;
  }

 private:
  // Cilium enforces a direction when the rule has ingress (or ingressDeny)
  // rules, even `[{}]`; an empty list does nothing.
  void section(const YAML::Node& spec, const char* allowKey, const char* denyKey, bool egress,
               const std::string& what, Section& out) {
    for (const char* key : {allowKey, denyKey}) {
      YAML::Node rules = ctx_.get(spec, key);
      if (!rules.IsDefined() || !ctx_.isSequence(rules, what + "." + key)) continue;
      if (rules.size() == 0) continue;
      if (!out.present) out.origin = ctx_.at(rules);
      out.present = true;
      bool deny = key == denyKey;
      for (const auto& r : rules)
        for (auto& rule : convertRule(r, egress, deny, what + "." + key + "[]"))
          if (!rule.peers.empty()) out.rules.push_back(std::move(rule));
    }
  }

  // One Cilium rule becomes one membrane rule, plus one per `toPorts` entry
  // with `rules.dns` (its ports get the dns condition, the rule's other
  // ports do not). Empty after an error.
  std::vector<Rule> convertRule(const YAML::Node& r, bool egress, bool deny, const std::string& what) {
    if (!ctx_.isMap(r, what)) return {};
    const std::string dir = egress ? "to" : "from";
    std::vector<std::string> known = {dir + "Endpoints", dir + "CIDR", dir + "CIDRSet", dir + "Entities", "toPorts",
                                      "icmps"};
    if (egress) known.push_back("toServices");
    std::map<std::string, std::string> unsupported;
    for (const auto& [k, why] : kUnsupportedRuleFields)
      if (k.rfind(dir, 0) == 0 || k == "authentication") unsupported[k] = why;
    // Cilium's egress deny rules have no toFQDNs.
    if (egress && !deny) known.push_back("toFQDNs");
    else if (egress) unsupported["toFQDNs"] = "Cilium's egressDeny rules have no toFQDNs (names can only allow)";
    ctx_.checkKeys(r, what, known, unsupported);

    size_t errorsBefore = ctx_.errors();
    Rule rule;
    rule.action = deny ? Rule::Action::Deny : Rule::Action::Allow;
    rule.origin = ctx_.at(r);
    if (YAML::Node eps = ctx_.get(r, dir + "Endpoints"); eps.IsDefined() && ctx_.isSequence(eps, what + "." + dir + "Endpoints"))
      for (const auto& sel : eps)
        if (auto text = peerSelector(sel, what + "." + dir + "Endpoints[]")) rule.peers.push_back({*text, ctx_.at(sel)});
    if (YAML::Node cidrs = ctx_.get(r, dir + "CIDR"); cidrs.IsDefined() && ctx_.isSequence(cidrs, what + "." + dir + "CIDR"))
      for (const auto& c : cidrs)
        if (auto line = cidrText(ctx_, c, {}, what + "." + dir + "CIDR[]")) rule.peers.push_back(*line);
    if (YAML::Node sets = ctx_.get(r, dir + "CIDRSet"); sets.IsDefined() && ctx_.isSequence(sets, what + "." + dir + "CIDRSet"))
      for (const auto& s : sets) cidrSet(s, what + "." + dir + "CIDRSet[]", rule);
    if (YAML::Node ents = ctx_.get(r, dir + "Entities"); ents.IsDefined() && ctx_.isSequence(ents, what + "." + dir + "Entities"))
      for (const auto& e : ents) entity(e, what + "." + dir + "Entities[]", rule);
    if (YAML::Node svcs = ctx_.get(r, "toServices"); egress && svcs.IsDefined() && ctx_.isSequence(svcs, what + ".toServices"))
      for (const auto& s : svcs) toService(s, what + ".toServices[]", rule);
    if (egress && !deny) toFqdns(r, what, rule);

    std::vector<Rule> withDns;
    if (YAML::Node ports = ctx_.get(r, "toPorts"); ports.IsDefined() && ctx_.isSequence(ports, what + ".toPorts"))
      for (const auto& pr : ports) portRule(pr, what + ".toPorts[]", egress, deny, rule, withDns);
    if (YAML::Node icmps = ctx_.get(r, "icmps"); icmps.IsDefined() && ctx_.isSequence(icmps, what + ".icmps"))
      for (const auto& ir : icmps) icmpRule(ir, what + ".icmps[]", rule);
    if (ctx_.errors() != errorsBefore) return {};
    // No L3 part: a rule with ports applies to every peer; an empty rule
    // (`[{}]`) only makes the direction default-deny.
    if (rule.peers.empty() && (!rule.protos.empty() || !withDns.empty())) rule.peers.push_back({"all", rule.origin});
    std::vector<Rule> out;
    for (auto& d : withDns) {
      d.peers = rule.peers;
      out.push_back(std::move(d));
    }
    // The ports without a dns condition, if any: when every `toPorts` entry
    // had one, an empty protocol list here would mean every port.
    if (withDns.empty() || !rule.protos.empty()) {
      if (rule.peers.empty()) rule.protos.clear();
      out.insert(out.begin(), std::move(rule));
    }
    return out;
  }

  // `toFQDNs: [{matchName}, {matchPattern}]` → one name peer,
  // `dns "a.example.com", "*.b.example.com"`. Cilium accepts no other peer
  // kind beside toFQDNs in one rule ("combining ToFQDNs and ToEndpoints is
  // not supported"), so neither does the import: the name peer is the rule's
  // only peer.
  void toFqdns(const YAML::Node& r, const std::string& what, Rule& rule) {
    YAML::Node fqdns = ctx_.get(r, "toFQDNs");
    if (!fqdns.IsDefined() || !ctx_.isSequence(fqdns, what + ".toFQDNs") || fqdns.size() == 0) return;
    if (!rule.peers.empty()) {
      ctx_.error(fqdns, what + ".toFQDNs: Cilium does not combine toFQDNs with other peers (toEndpoints, toCIDR, "
                               "toCIDRSet, toEntities, toServices) in one rule",
                 "write the names and the other peers as separate egress rules");
      return;
    }
    SourceLine peer;
    for (const auto& sel : fqdns) {
      auto name = fqdnSelector(sel, what + ".toFQDNs[]");
      if (!name) continue;
      if (peer.text.empty()) peer = {"dns " + name->text, name->origin};
      else peer.continued.push_back({", " + name->text, name->origin});
    }
    if (!peer.text.empty()) rule.peers.push_back(std::move(peer));
  }

  // One of Cilium's FQDNSelectors ({matchName} or {matchPattern}), in
  // toFQDNs and in rules.dns: the normalized name or pattern, quoted.
  std::optional<SourceLine> fqdnSelector(const YAML::Node& sel, const std::string& what) {
    if (!ctx_.isMap(sel, what)) return std::nullopt;
    ctx_.checkKeys(sel, what, {"matchName", "matchPattern"});
    YAML::Node name = ctx_.get(sel, "matchName"), pattern = ctx_.get(sel, "matchPattern");
    if (name.IsDefined() == pattern.IsDefined()) {
      ctx_.error(sel, what + (name.IsDefined() ? ": give `matchName` or `matchPattern`, not both"
                                               : ": needs `matchName` or `matchPattern`"));
      return std::nullopt;
    }
    const bool isPattern = pattern.IsDefined();
    const YAML::Node& node = isPattern ? pattern : name;
    const std::string field = what + (isPattern ? ".matchPattern" : ".matchName");
    auto text = ctx_.string(node, field);
    if (!text) return std::nullopt;
    size_t column = std::string::npos;
    auto parsed = names::parseDnsPattern(*text, &column);
    if (auto* why = std::get_if<std::string>(&parsed)) {
      std::string hint;
      if (text->find("**") != std::string::npos)
        hint = "Cilium's `**.` (any number of labels) has no membrane equivalent; write a pattern per depth "
               "(`*.example.com`, `*.*.example.com`)";
      ctx_.error(column == std::string::npos ? ctx_.at(node) : ctx_.atChar(node, column),
                 field + ": '" + shown(*text) + "': " + *why, hint);
      return std::nullopt;
    }
    const auto& p = std::get<names::DnsPattern>(parsed);
    if (!isPattern && p.wildcard) {
      ctx_.error(ctx_.atChar(node, text->find('*')), field + ": '" + shown(*text) + "' holds a '*'",
                 "use `matchPattern` for patterns");
      return std::nullopt;
    }
    // Only [a-z0-9-_.*] after parseDnsPattern: nothing to escape.
    return SourceLine{"\"" + p.text + "\"", ctx_.at(node)};
  }

  void cidrSet(const YAML::Node& s, const std::string& what, Rule& rule) {
    if (!ctx_.isMap(s, what)) return;
    ctx_.checkKeys(s, what, {"cidr", "except"},
                   {{"cidrGroupRef", "CiliumCIDRGroups are not modelled; list the CIDRs"},
                    {"cidrGroupSelector", "CiliumCIDRGroups are not modelled; list the CIDRs"}});
    YAML::Node cidr = ctx_.get(s, "cidr");
    if (!cidr.IsDefined()) {
      if (!ctx_.get(s, "cidrGroupRef").IsDefined() && !ctx_.get(s, "cidrGroupSelector").IsDefined())
        ctx_.error(s, what + ": `cidr` is required");
      return;
    }
    std::vector<YAML::Node> excepts;
    if (YAML::Node ex = ctx_.get(s, "except"); ex.IsDefined() && ctx_.isSequence(ex, what + ".except"))
      for (const auto& e : ex) excepts.push_back(e);
    if (auto line = cidrText(ctx_, cidr, excepts, what)) rule.peers.push_back(*line);
  }

  // `toServices`: `k8sService: {serviceName, namespace}` → `service NS/NAME`,
  // `k8sServiceSelector: {selector, namespace}` → `service { ... } in
  // namespace NS`. Without a namespace Cilium matches the services of every
  // namespace (its RuleTranslator compares the namespace only when one is
  // given), so `in namespaces {}`. Which pods or addresses that is, the
  // compiler looks up in the inventory (docs/kubernetes.md, "Services as
  // peers").
  void toService(const YAML::Node& s, const std::string& what, Rule& rule) {
    if (!ctx_.isMap(s, what)) return;
    ctx_.checkKeys(s, what, {"k8sService", "k8sServiceSelector"});
    YAML::Node byName = ctx_.get(s, "k8sService"), byLabels = ctx_.get(s, "k8sServiceSelector");
    if (byName.IsDefined() == byLabels.IsDefined()) {
      ctx_.error(s, what + (byName.IsDefined() ? ": give `k8sService` or `k8sServiceSelector`, not both"
                                               : ": needs `k8sService` or `k8sServiceSelector`"));
      return;
    }
    const std::string field = what + (byName.IsDefined() ? ".k8sService" : ".k8sServiceSelector");
    const YAML::Node& svc = byName.IsDefined() ? byName : byLabels;
    if (!ctx_.isMap(svc, field)) return;
    std::optional<std::string> ns;
    if (YAML::Node nsNode = ctx_.get(svc, "namespace"); nsNode.IsDefined()) {
      ns = ctx_.name(nsNode, NameRule::Namespace, field + ".namespace");
      if (!ns) return;
    }
    if (byLabels.IsDefined()) {
      ctx_.checkKeys(svc, field, {"selector", "namespace"});
      YAML::Node selNode = ctx_.get(svc, "selector");
      if (!selNode.IsDefined()) {
        ctx_.error(svc, field + ": `selector` is required");
        return;
      }
      auto reqs = readLabelSelector(ctx_, selNode, field + ".selector");
      if (!reqs) return;
      rule.peers.push_back({"service " + selectorText(*reqs) + (ns ? " in namespace " + word(*ns) : " in namespaces {}"),
                            ctx_.at(s)});
      return;
    }
    ctx_.checkKeys(svc, field, {"serviceName", "namespace"});
    YAML::Node nameNode = ctx_.get(svc, "serviceName");
    if (!nameNode.IsDefined()) {
      ctx_.error(svc, field + ": `serviceName` is required");
      return;
    }
    auto name = ctx_.name(nameNode, NameRule::ObjectName, field + ".serviceName");
    if (!name) return;
    if (!names::isServiceName(*name)) {
      ctx_.error(nameNode, field + ".serviceName: '" + *name + "' is not a Service name",
                 "Service names are lowercase letters, digits and '-', start with a letter and are at most 63 "
                 "characters");
      return;
    }
    rule.peers.push_back({ns ? "service " + word(*ns) + "/" + word(*name) : "service " + word(*name) + " in namespaces {}",
                          ctx_.at(s)});
  }

  // Cilium's entities membrane refuses, each with why and what to write
  // instead (docs/kubernetes.md, "Every field"): a peer membrane cannot name is
  // an error, never a rule dropped.
  inline static const std::map<std::string, std::pair<std::string, std::string>> kEntitiesWithoutEquivalent = {
      {"remote-node",
       {"other nodes are not in membrane's inventory (their addresses are `world`)",
        "allow the nodes' addresses with toCIDR/fromCIDR, or write a membrane policy with a `nodes {}` peer: the "
        "addresses of the Node objects among the inputs, this node's included (docs/language.md, \"Node peers\")"}},
      {"kube-apiserver",
       {"the API server is not in membrane's inventory",
        "allow its addresses with toCIDR, or its pods with toEndpoints when it runs as pods"}},
      {"health",
       {"Cilium's health-check endpoints have no counterpart: membrane runs no agent endpoint on a node",
        "remove it; nothing of membrane's own needs allowing"}},
      {"init",
       {"Cilium's identity for endpoints whose labels are not known yet has no counterpart: membrane "
        "enforces an endpoint only once its labels are known",
        "remove it"}},
      {"ingress",
       {"Cilium's embedded ingress proxy has no counterpart",
        "select the ingress controller's pods with fromEndpoints/toEndpoints"}},
      {"unmanaged",
       {"membrane has no identity for pods it does not manage: a pod of the inventory is an endpoint "
        "wherever it runs, and any other address is `world`",
        "select such pods by their labels, or their addresses with toCIDR"}},
      {"world-ipv4",
       {"membrane's `world` has no address family",
        "write `world` (both families), or toCIDR 0.0.0.0/0, which also covers endpoints"}},
      {"world-ipv6",
       {"membrane's `world` has no address family",
        "write `world` (both families), or toCIDR ::/0, which also covers endpoints"}},
  };

  void entity(const YAML::Node& e, const std::string& what, Rule& rule) {
    auto name = ctx_.string(e, what);
    if (!name) return;
    if (*name == "host" || *name == "all") {
      rule.peers.push_back({*name, ctx_.at(e)});
    } else if (*name == "world" || *name == "cluster") {
      ctx_.warning(e,
                   "entity '" + *name + "': other nodes of the cluster are `world` in membrane, while Cilium counts "
                       "them (remote-node) as part of `cluster` and not of `world`",
                   "see docs/kubernetes.md, \"Differences to keep in mind\"");
      rule.peers.push_back({*name, ctx_.at(e)});
    } else if (auto it = kEntitiesWithoutEquivalent.find(*name); it != kEntitiesWithoutEquivalent.end()) {
      ctx_.error(e, what + ": entity '" + *name + "' has no membrane equivalent: " + it->second.first,
                 it->second.second);
    } else {
      ctx_.error(e, what + ": entity '" + *name + "' is not a Cilium entity",
                 "Cilium's entities: world, cluster, host, all, remote-node, kube-apiserver, health, init, "
                 "ingress, unmanaged, world-ipv4, world-ipv6");
    }
  }

  // A `toPorts` entry: its ports go to `rule`, or, with `rules.dns`, to a
  // rule of their own in `withDns` carrying the dns condition.
  void portRule(const YAML::Node& pr, const std::string& what, bool egress, bool deny, Rule& rule,
                std::vector<Rule>& withDns) {
    if (!ctx_.isMap(pr, what)) return;
    std::map<std::string, std::string> unsupported = kUnsupportedPortRuleFields;
    if (deny) unsupported["rules"] = "Cilium's deny rules have no L7 rules";
    ctx_.checkKeys(pr, what, {"ports", "rules"}, unsupported);
    Rule l7;  // the entry's own rule, carrying its dns or http condition
    l7.origin = ctx_.at(pr);
    L7 kind = L7::None;
    if (YAML::Node rules = ctx_.get(pr, "rules"); rules.IsDefined() && !deny)
      kind = l7Rules(rules, what + ".rules", egress, l7);
    YAML::Node ports = ctx_.get(pr, "ports");
    if (!ports.IsDefined()) {
      // Only L7 fields: those are reported, but L7 rules must know their
      // ports.
      if (kind != L7::None)
        ctx_.error(pr, what + ": " + l7Field(kind) + " needs `ports` (e.g. " + l7Example(kind) + "): " + l7Read(kind));
      return;
    }
    if (!ctx_.isSequence(ports, what + ".ports")) return;
    if (kind != L7::None && ports.size() == 0)
      ctx_.error(ports, what + ".ports: " + l7Field(kind) + " needs ports (e.g. " + l7Example(kind) + "): " +
                            l7Read(kind));
    for (const auto& p : ports) port(p, what + ".ports[]", kind, kind != L7::None ? l7 : rule);
    if (kind != L7::None) withDns.push_back(std::move(l7));
  }

  // `rules` of a port rule: `dns` becomes the dns condition in `out`, `http`
  // the http condition; the other L7 rules are errors. Which one `out` got.
  L7 l7Rules(const YAML::Node& l7, const std::string& what, bool egress, Rule& out) {
    if (!ctx_.isMap(l7, what)) return L7::None;
    ctx_.checkKeys(l7, what, {"dns", "http"}, kUnsupportedL7Rules);
    YAML::Node http = ctx_.get(l7, "http");
    if (http.IsDefined() && ctx_.get(l7, "dns").IsDefined()) {
      ctx_.error(http, what + ": give `dns` or `http`, not both (Cilium reads one L7 protocol per port rule)");
      return L7::None;
    }
    if (http.IsDefined()) return httpRules(http, what + ".http", out) ? L7::Http : L7::None;
    return dnsRules(l7, what, egress, out) ? L7::Dns : L7::None;
  }

  // `rules.http: [{method, path, host, headers, headerMatches}, ...]` → the
  // items of `with http { ... }`. Cilium's method, path and host are regular
  // expressions; only those that map exactly (docs/kubernetes.md) are
  // accepted. True when there are items.
  bool httpRules(const YAML::Node& http, const std::string& what, Rule& out) {
    if (!ctx_.isSequence(http, what)) return false;
    if (http.size() == 0) {
      ctx_.error(http, what + ": an empty list allows no request", "list the requests, or `[{}]` for all");
      return false;
    }
    size_t errorsBefore = ctx_.errors();
    for (const auto& entry : http) {
      std::string w = what + "[]";
      if (!ctx_.isMap(entry, w)) continue;
      ctx_.checkKeys(entry, w, {"method", "path", "host", "headers", "headerMatches"});
      std::vector<std::string> parts;
      if (YAML::Node n = ctx_.get(entry, "method"); n.IsDefined()) {
        auto text = ctx_.string(n, w + ".method");
        if (!text) continue;
        Literal lit = literalOf(*text, false, [](size_t, const std::string&) { return size_t{0}; });
        size_t column = std::string::npos;
        std::string why = lit.bad == std::string::npos ? names::checkHttpMethod(lit.text, &column) : "";
        if (lit.bad != std::string::npos) {
          ctx_.error(ctx_.atChar(n, lit.bad), w + ".method: '" + shown(*text) + "': the regular expression '" +
                                                  shown(text->substr(lit.bad)) + "' has no exact membrane equivalent",
                     "give one method per entry, e.g. method: GET");
          continue;
        }
        if (!why.empty()) {
          ctx_.error(n, w + ".method: '" + shown(*text) + "': " + why);
          continue;
        }
        if (!lit.text.empty()) parts.push_back(lit.text);
      }
      if (YAML::Node n = ctx_.get(entry, "path"); n.IsDefined()) {
        auto text = ctx_.string(n, w + ".path");
        if (!text) continue;
        auto path = pathPattern(n, *text, w + ".path");
        if (!path) continue;
        if (!path->empty()) parts.push_back(policyString(*path));
      }
      if (YAML::Node n = ctx_.get(entry, "host"); n.IsDefined()) {
        auto text = ctx_.string(n, w + ".host");
        if (!text) continue;
        Literal lit = literalOf(*text, true, [](size_t, const std::string&) { return size_t{0}; });
        if (lit.bad != std::string::npos) {
          ctx_.error(ctx_.atChar(n, lit.bad), w + ".host: '" + shown(*text) + "': the regular expression '" +
                                                  shown(text->substr(lit.bad)) + "' has no exact membrane equivalent",
                     "give the host name itself, e.g. host: api.example.com");
          continue;
        }
        size_t column = std::string::npos;
        auto parsed = names::parseDnsPattern(lit.text, &column);
        if (auto* why = std::get_if<std::string>(&parsed)) {
          ctx_.error(n, w + ".host: '" + shown(*text) + "': " + *why);
          continue;
        }
        parts.push_back("host " + policyString(std::get<names::DnsPattern>(parsed).text));
      }
      std::set<std::string> headerNames;
      auto header = [&](const YAML::Node& at, const std::string& field, const std::string& name,
                        const std::optional<std::string>& value) {
        size_t column = std::string::npos;
        std::string why = names::checkHttpHeaderName(name, &column);
        if (why.empty() && value) why = names::checkHttpHeaderValue(*value, &column);
        if (!why.empty()) {
          ctx_.error(at, field + ": '" + shown(name) + "': " + why);
          return;
        }
        if (!headerNames.insert(names::asciiLower(name)).second) {
          ctx_.error(at, field + ": header '" + shown(name) + "' is named twice in one entry");
          return;
        }
        parts.push_back("header " + policyString(name) + (value ? " = " + policyString(*value) : ""));
      };
      if (YAML::Node hs = ctx_.get(entry, "headers"); hs.IsDefined() && ctx_.isSequence(hs, w + ".headers")) {
        for (const auto& h : hs) {
          auto text = ctx_.string(h, w + ".headers[]");
          if (!text) continue;
          // "Name: value" requires the value, "Name" only the header.
          size_t colon = text->find(':');
          auto trim = [](std::string v) {
            while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.erase(v.begin());
            while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
            return v;
          };
          if (colon == std::string::npos) header(h, w + ".headers[]", trim(*text), std::nullopt);
          else header(h, w + ".headers[]", trim(text->substr(0, colon)), trim(text->substr(colon + 1)));
        }
      }
      if (YAML::Node hm = ctx_.get(entry, "headerMatches"); hm.IsDefined() && ctx_.isSequence(hm, w + ".headerMatches")) {
        for (const auto& m : hm) {
          std::string mw = w + ".headerMatches[]";
          if (!ctx_.isMap(m, mw)) continue;
          ctx_.checkKeys(m, mw, {"name", "value"},
                         {{"mismatch", "header rewriting on a mismatch needs a proxy; membrane only allows or denies"},
                          {"secret", "header values from Kubernetes secrets are not read at compile time"}});
          YAML::Node nameNode = ctx_.get(m, "name");
          if (!nameNode.IsDefined()) {
            ctx_.error(m, mw + ": `name` is required");
            continue;
          }
          auto name = ctx_.string(nameNode, mw + ".name");
          if (!name) continue;
          std::optional<std::string> value;
          if (YAML::Node v = ctx_.get(m, "value"); v.IsDefined()) {
            value = ctx_.string(v, mw + ".value");
            if (!value) continue;
          }
          header(nameNode, mw, *name, value);
        }
      }
      // `{}` allows every request: every canonical path (docs/http.md).
      if (parts.empty()) parts.push_back(policyString("/**"));
      std::string item;
      for (const auto& p : parts) item += (item.empty() ? "" : " ") + p;
      out.httpItems.push_back({item, ctx_.at(entry)});
    }
    return ctx_.errors() == errorsBefore && !out.httpItems.empty();
  }

  // Cilium's `path` (a regular expression matched against the whole path)
  // as a path pattern: a literal; `[^/]*` → `*` (any run within a segment);
  // a final `/.*` → `/**`, which also matches the path without its final
  // `/` (warned). "" for `.*` alone (every path); nullopt after an error.
  std::optional<std::string> pathPattern(const YAML::Node& n, const std::string& regex, const std::string& what) {
    std::string body = regex;
    if (body == ".*" || body == "^.*$" || body == "^.*") return std::string();
    bool rest = false;
    Literal lit = literalOf(regex, true, [&](size_t i, const std::string& sofar) -> size_t {
      if (regex.compare(i, 5, "[^/]*") == 0) return 5;
      // A final ".*" after '/' (then only "$" may follow).
      if (regex.compare(i, 2, ".*") == 0 && !sofar.empty() && sofar.back() == '/' &&
          (i + 2 == regex.size() || (i + 3 == regex.size() && regex[i + 2] == '$'))) {
        rest = true;
        return regex.size() - i;
      }
      return 0;
    });
    if (lit.bad != std::string::npos) {
      ctx_.error(ctx_.atChar(n, lit.bad), what + ": '" + shown(regex) + "': the regular expression '" +
                                              shown(regex.substr(lit.bad)) + "' has no exact membrane equivalent",
                 "membrane takes a literal path, '[^/]*' within a segment, or a final '/.*' (docs/kubernetes.md)");
      return std::nullopt;
    }
    // Rebuild with '*' where "[^/]*" stood: literalOf skipped it, so walk again.
    std::string pattern;
    {
      size_t i = 0, end = regex.size();
      if (i < end && regex[i] == '^') ++i;
      if (end > i && regex[end - 1] == '$') --end;
      while (i < end) {
        if (regex.compare(i, 5, "[^/]*") == 0) {
          pattern += '*';
          i += 5;
        } else if (rest && regex.compare(i, 2, ".*") == 0 && !pattern.empty() && pattern.back() == '/' &&
                   i + 2 >= end) {
          pattern += "**";
          i = end;
        } else if (regex[i] == '\\' && i + 1 < end) {
          pattern += regex[i + 1];
          i += 2;
        } else {
          pattern += regex[i++];
        }
      }
    }
    size_t column = std::string::npos;
    auto parsed = names::parseHttpPathPattern(pattern, &column);
    if (auto* why = std::get_if<std::string>(&parsed)) {
      ctx_.error(n, what + ": '" + shown(regex) + "' as the path pattern \"" + shown(pattern) + "\": " + *why);
      return std::nullopt;
    }
    if (rest && pattern != "/**")
      ctx_.warning(n, what + ": '" + shown(regex) + "' becomes \"" + pattern + "\", which also matches " +
                          pattern.substr(0, pattern.size() - 3) + " itself (Cilium's does not)",
                   "see docs/kubernetes.md, \"HTTP rules\"");
    return pattern;
  }

  // `rules.dns` of a port rule: the dns condition in `out`. True when there
  // are DNS names.
  bool dnsRules(const YAML::Node& l7, const std::string& what, bool egress, Rule& out) {
    YAML::Node dns = ctx_.get(l7, "dns");
    if (!dns.IsDefined() || !ctx_.isSequence(dns, what + ".dns")) return false;
    if (!egress) {
      ctx_.error(dns, what + ".dns: DNS rules apply to egress only (they restrict the names a pod may look up)");
      return false;
    }
    if (dns.size() == 0) {
      ctx_.error(dns, what + ".dns: an empty list allows no name", "list the names, or `matchPattern: \"*\"` for all");
      return false;
    }
    for (const auto& sel : dns)
      if (auto name = fqdnSelector(sel, what + ".dns[]")) out.dnsNames.push_back(std::move(*name));
    return !out.dnsNames.empty();
  }

  // One `ports[]` item. `l7`: the ports of a rule with a dns condition,
  // which must be numbers or names, on UDP or TCP (where DNS is read), or
  // with an http condition, which must be TCP numbers.
  void port(const YAML::Node& p, const std::string& what, L7 l7, Rule& rule) {
    const bool forDns = l7 == L7::Dns, forHttp = l7 == L7::Http;
    if (!ctx_.isMap(p, what)) return;
    ctx_.checkKeys(p, what, {"port", "endPort", "protocol"});
    // Cilium's default protocol is ANY; for DNS that is UDP and TCP, the
    // transports membrane reads DNS on (docs/kubernetes.md).
    std::vector<std::string> protos = forDns    ? std::vector<std::string>{"udp", "tcp"}
                                      : forHttp ? std::vector<std::string>{"tcp"}
                                                : std::vector<std::string>{"tcp", "udp", "sctp"};
    YAML::Node protoNode = ctx_.get(p, "protocol");
    if (protoNode.IsDefined()) {
      auto s = ctx_.string(protoNode, what + ".protocol");
      if (!s) return;
      if (forHttp && (*s == "UDP" || *s == "SCTP")) {
        ctx_.error(protoNode, what + ".protocol: HTTP rules need TCP or ANY: HTTP is read on TCP");
        return;
      }
      if (*s == "TCP") protos = {"tcp"};
      else if (*s == "UDP") protos = {"udp"};
      else if (*s == "SCTP" && forDns) {
        ctx_.error(protoNode, what + ".protocol: DNS rules need UDP, TCP or ANY: membrane reads DNS over UDP and "
                                     "TCP only");
        return;
      }
      else if (*s == "SCTP") protos = {"sctp"};
      else if (*s == "ANY") {
      }
      else {
        ctx_.error(protoNode, what + ".protocol: unknown protocol '" + *s + "' (expected TCP, UDP, SCTP or ANY)",
                   *s == "ICMP" || *s == "ICMPv6" ? "use `icmps` for ICMP" : "");
        return;
      }
    }
    YAML::Node portNode = ctx_.get(p, "port"), endNode = ctx_.get(p, "endPort");
    std::string port, endPort;
    if (portNode.IsDefined()) {
      // A string in Cilium's schema: the API server refuses `port: 80`.
      if (portNode.IsScalar() && kubectlReads(portNode.Scalar(), portNode.Tag()).type == KubectlScalar::Type::Int) {
        ctx_.error(portNode, what + ".port: Cilium's `port` is a string; kubectl sends `" + portNode.Scalar() +
                                 "` as a number, which the API server refuses",
                   "quote it: \"" + portNode.Scalar() + "\"");
        return;
      }
      auto s = ctx_.string(portNode, what + ".port");
      if (!s) return;
      bool digits = !s->empty() && s->find_first_not_of("0123456789") == std::string::npos;
      if (digits) {
        long v = s->size() > 6 ? 100000 : std::stol(*s);
        if (v > 65535) {
          ctx_.error(portNode, what + ".port: " + *s + " is out of range (0-65535)");
          return;
        }
        if (v != 0) port = std::to_string(v);  // "0" means every port
      } else if (names::isPortName(*s) && forHttp) {
        ctx_.error(portNode, what + ".port: '" + *s + "': membrane's http rules take port numbers; named ports are "
                                 "not supported with HTTP yet",
                   "give the port's number");
        return;
      } else if (names::isPortName(*s)) {
        port = *s;
      } else {
        ctx_.error(portNode, what + ".port: '" + shown(*s) + "' is neither a port number nor a valid port name");
        return;
      }
    }
    if (endNode.IsDefined()) {
      auto v = ctx_.integer(endNode, what + ".endPort");
      if (!v) return;
      if (*v != 0) {
        if (port.empty() || !std::isdigit(static_cast<unsigned char>(port[0]))) {
          ctx_.error(endNode, what + ".endPort: needs a numeric, non-zero `port`");
          return;
        }
        if (*v < std::stol(port) || *v > 65535) {
          ctx_.error(endNode, what + ".endPort: " + std::to_string(*v) + " must be between port " + port + " and 65535");
          return;
        }
        endPort = std::to_string(*v);
      }
    }
    SourceRange at = ctx_.at(portNode.IsDefined() ? portNode : p);
    if (l7 != L7::None && port.empty()) {
      ctx_.error(at, what + ": " + l7Field(l7) + " needs a port (e.g. " + l7Example(l7) + "), not every port: " +
                            l7Read(l7));
      return;
    }
    // "0/ANY" is Cilium's L4 wildcard: every protocol, ICMP included.
    if (protos.size() == 3 && port.empty()) {
      rule.protos.push_back({"any", at});
      return;
    }
    for (const auto& proto : protos) rule.protos.push_back({portItem(proto, port, endPort), at});
  }

  void icmpRule(const YAML::Node& ir, const std::string& what, Rule& rule) {
    if (!ctx_.isMap(ir, what)) return;
    ctx_.checkKeys(ir, what, {"fields"});
    YAML::Node fields = ctx_.get(ir, "fields");
    if (!fields.IsDefined() || !ctx_.isSequence(fields, what + ".fields")) return;
    for (const auto& f : fields) {
      std::string fw = what + ".fields[]";
      if (!ctx_.isMap(f, fw)) continue;
      ctx_.checkKeys(f, fw, {"type", "family"});
      bool v6 = false;
      if (YAML::Node fam = ctx_.get(f, "family"); fam.IsDefined()) {
        auto s = ctx_.string(fam, fw + ".family");
        if (!s) continue;
        if (*s == "IPv6") v6 = true;
        else if (*s != "IPv4") {
          ctx_.error(fam, fw + ".family: unknown family '" + *s + "' (expected IPv4 or IPv6)");
          continue;
        }
      }
      YAML::Node type = ctx_.get(f, "type");
      if (!type.IsDefined()) {
        ctx_.error(f, fw + ": `type` is required");
        continue;
      }
      // IntOrString: a number, or one of Cilium's type names.
      auto t = ctx_.intOrString(type, fw + ".type");
      if (!t) continue;
      uint8_t number = 0;
      if (t->number) {
        if (*t->number < 0 || *t->number > 255) {
          ctx_.error(type, fw + ".type: " + std::to_string(*t->number) + " is out of range (0-255)");
          continue;
        }
        number = static_cast<uint8_t>(*t->number);
      } else {
        const std::string& s = t->text;
        const auto& names = v6 ? kCiliumIcmpV6 : kCiliumIcmpV4;
        auto it = names.find(s);
        if (it == names.end()) {
          std::vector<std::string> known;
          for (const auto& [name, n] : names) known.push_back(name);
          std::string close = closestMatch(s, known);
          bool digits = !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
          ctx_.error(type, fw + ".type: unknown " + std::string(v6 ? "ICMPv6" : "ICMP") + " type '" + shown(s) + "'",
                     digits ? "write the number without quotes" : close.empty() ? "" : "did you mean `" + close + "`?");
          continue;
        }
        number = it->second;
      }
      // membrane's name for the type where it has one, else the number.
      rule.protos.push_back({std::string(v6 ? "icmpv6/" : "icmp/") + ir::icmpTypeName(v6, number), ctx_.at(type)});
    }
  }

  // Splits a Cilium endpoint selector into requirements on the pod's labels
  // and on its namespace (the pseudo-labels io.kubernetes.pod.namespace and
  // io.cilium.k8s.namespace.labels.*). Returns false after an error.
  bool split(const YAML::Node& node, const std::string& what, std::vector<Requirement>& pod,
             std::vector<Requirement>& ns) {
    auto reqs = readLabelSelector(ctx_, node, what, /*checkKeys=*/false);
    if (!reqs) return false;
    bool ok = true;
    for (auto r : *reqs) {
      std::string key = r.key;
      // Label sources: `k8s:` and `any:` match Kubernetes labels; others
      // (reserved:, cidr:, container:, ...) have no inventory counterpart.
      if (auto colon = key.find(':'); colon != std::string::npos) {
        std::string source = key.substr(0, colon);
        if (source != "k8s" && source != "any") {
          ctx_.error(r.keyNode, what + ": label '" + shown(r.key) + "' with source '" + shown(source) +
                                    ":' is not supported",
                     source == "reserved" ? "use fromEntities/toEntities for reserved identities" : "");
          ok = false;
          continue;
        }
        key = key.substr(colon + 1);
      }
      // What remains is a Kubernetes label key (of the pod, or of its
      // namespace after the pseudo-label prefix).
      if (key == kPodNamespaceKey) {
        r.key = "kubernetes.io/metadata.name";
        ns.push_back(r);
      } else if (key.rfind(kNamespaceLabelsPrefix, 0) == 0) {
        r.key = key.substr(kNamespaceLabelsPrefix.size());
        if (!ctx_.checkName(r.keyNode, r.key, NameRule::LabelKey, what + " namespace label key")) {
          ok = false;
          continue;
        }
        ns.push_back(r);
      } else if (key == inventory::kServiceAccountLabel) {
        // Derived from the pod's service account by the inventory's
        // Kubernetes readers too: a pod label like any other.
        r.key = key;
        pod.push_back(r);
      } else if (key.rfind("io.cilium.", 0) == 0 || key.rfind("io.kubernetes.", 0) == 0) {
        ctx_.error(r.keyNode, what + ": label '" + shown(r.key) + "' is derived by Cilium and not in membrane's inventory");
        ok = false;
      } else if (!ctx_.checkName(r.keyNode, key, NameRule::LabelKey, what + " key")) {
        ok = false;
      } else {
        r.key = key;
        pod.push_back(r);
      }
    }
    return ok;
  }

  std::optional<std::string> subjectSelector(const YAML::Node& node, const std::string& what, Policy& p) {
    std::vector<Requirement> pod, ns;
    if (!split(node, what, pod, ns)) return std::nullopt;
    // A clusterwide rule for the endpoints of one namespace is that
    // namespace's policy, whose endpoint peers still range over every
    // namespace.
    if (clusterwide_ && ns.size() == 1 && ns[0].key == "kubernetes.io/metadata.name" &&
        (ns[0].op == Requirement::Op::Equals || (ns[0].op == Requirement::Op::In && ns[0].values.size() == 1))) {
      if (!ctx_.checkName(ns[0].valueNodes.at(0), ns[0].values[0], NameRule::Namespace, what + " namespace"))
        return std::nullopt;
      p.clusterwide = false;
      p.ns = ns[0].values[0];
      peersEverywhere_ = true;
      p.selectsCount = pod.size();
      return selectorText(pod);
    }
    if (!ns.empty()) {
      // A namespaced policy only ever selects its own namespace's endpoints;
      // naming that namespace again changes nothing.
      bool own = !clusterwide_ && ns.size() == 1 && ns[0].key == "kubernetes.io/metadata.name" &&
                 (ns[0].op == Requirement::Op::Equals || ns[0].op == Requirement::Op::In) &&
                 std::find(ns[0].values.begin(), ns[0].values.end(), obj_.ns) != ns[0].values.end();
      if (!own) {
        ctx_.error(node, what + ": selecting endpoints by namespace is not supported",
                   clusterwide_ ? "select one namespace by name, or write a policy per namespace"
                                : "a CiliumNetworkPolicy selects only endpoints of its own namespace");
        return std::nullopt;
      }
    }
    p.selectsCount = pod.size();
    return selectorText(pod);
  }

  std::optional<std::string> peerSelector(const YAML::Node& node, const std::string& what) {
    std::vector<Requirement> pod, ns;
    if (!split(node, what, pod, ns)) return std::nullopt;
    if (ns.empty() && pod.empty() && (clusterwide_ || peersEverywhere_))
      ctx_.warning(node,
                   "an empty endpoint selector in a clusterwide policy becomes `pods {}` (every pod of every "
                   "namespace); Cilium's wildcard selector may also match non-pod identities such as the host",
                   "add fromEntities/toEntities for those if they are meant; see docs/kubernetes.md");
    if (ns.empty()) return "pods " + selectorText(pod) + (peersEverywhere_ ? " in namespaces {}" : "");
    return "pods " + selectorText(pod) + " in " + namespaceRefText(ns);
  }

  Context& ctx_;
  const ObjectRef& obj_;
  bool clusterwide_;
  bool peersEverywhere_ = false;  // endpoint peers without a namespace match in all of them
};

// The rules of one object (each a node and how messages name it), one policy
// each: one rule keeps the object's name, several are numbered in order.
std::vector<Policy> convertRules(Context& ctx, const ObjectRef& obj,
                                 const std::vector<std::pair<YAML::Node, std::string>>& rules) {
  CiliumConverter conv(ctx, obj, obj.kind == "CiliumClusterwideNetworkPolicy");
  std::vector<Policy> out;
  for (size_t i = 0; i < rules.size(); ++i) {
    if (auto p = conv.rule(rules[i].first, rules[i].second)) {
      // One rule keeps the object's name; several are numbered in order.
      p->name = rules.size() == 1 ? obj.name : obj.name + "-" + std::to_string(i + 1);
      out.push_back(std::move(*p));
    }
  }
  return out;
}

}  // namespace

std::vector<Policy> convertCiliumPolicy(Context& ctx, const ObjectRef& obj) {
  ctx.checkKeys(obj.node, obj.kind, {"apiVersion", "kind", "metadata", "spec", "specs", "status"});
  YAML::Node spec = ctx.get(obj.node, "spec"), specs = ctx.get(obj.node, "specs");
  if (!spec.IsDefined() && !specs.IsDefined()) {
    ctx.error(obj.node, obj.kind + " " + obj.name + " has neither `spec` nor `specs`");
    return {};
  }
  std::vector<std::pair<YAML::Node, std::string>> rules;
  if (spec.IsDefined()) rules.push_back({spec, "spec"});
  if (specs.IsDefined() && ctx.isSequence(specs, "specs"))
    for (size_t i = 0; i < specs.size(); ++i) rules.push_back({specs[i], "specs[" + std::to_string(i) + "]"});
  return convertRules(ctx, obj, rules);
}

std::vector<Policy> convertCiliumRuleArray(Context& ctx, const ObjectRef& obj) {
  std::vector<std::pair<YAML::Node, std::string>> rules;
  for (size_t i = 0; i < obj.node.size(); ++i) rules.push_back({obj.node[i], "[" + std::to_string(i) + "]"});
  return convertRules(ctx, obj, rules);
}

}  // namespace membrane::k8s
