// cilium.io/v2 CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy, the
// L3/L4 part and DNS (`toFQDNs`, `rules.dns`) → one membrane policy per rule
// in `spec` and `specs` (docs/kubernetes.md, "Cilium"). Everything membrane
// cannot express is an error naming the field.
#include <algorithm>

#include "ir/protocols.h"
#include "k8s/convert.h"
#include "names/dns.h"
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
    {"fromNodes", "node selectors are not modelled; nodes other than this one are `world`"},
    {"toNodes", "node selectors are not modelled; nodes other than this one are `world`"},
    {"toServices", "service peers are not supported yet; select the service's pods with toEndpoints"},
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

// The L7 rules of a port rule (`toPorts[].rules`) other than `dns`.
const std::map<std::string, std::string> kUnsupportedL7Rules = {
    {"http", "HTTP rules are L7 and not supported yet; membrane enforces L3/L4 and DNS"},
    {"kafka", "Kafka rules are L7 and not supported yet; membrane enforces L3/L4 and DNS"},
    {"l7proto", "L7 protocol parsers are not supported yet; membrane enforces L3/L4 and DNS"},
    {"l7", "L7 protocol parsers are not supported yet; membrane enforces L3/L4 and DNS"},
};

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
    std::map<std::string, std::string> unsupported;
    for (const auto& [k, why] : kUnsupportedRuleFields)
      if (k.rfind(dir, 0) == 0 || k == "authentication") unsupported[k] = why;
    // Cilium's egress deny rules have no toFQDNs.
    if (egress && !deny) known.push_back("toFQDNs");
    else if (egress) unsupported["toFQDNs"] = "Cilium's egressDeny rules have no toFQDNs (names can only allow)";
    ctx_.checkKeys(r, what, known, unsupported);

    size_t errorsBefore = ctx_.errors();
    Rule rule;
    rule.deny = deny;
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
                               "toCIDRSet, toEntities) in one rule",
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

  void entity(const YAML::Node& e, const std::string& what, Rule& rule) {
    auto name = ctx_.string(e, what);
    if (!name) return;
    if (*name == "host" || *name == "all") {
      rule.peers.push_back({*name, ctx_.at(e)});
    } else if (*name == "world" || *name == "cluster") {
      ctx_.warning(e,
                   "entity '" + *name + "': other nodes of the cluster are `world` in membrane, while Cilium counts "
                       "them (remote-node) as part of `cluster` and not of `world`",
                   "see docs/kubernetes.md, \"Entities\"");
      rule.peers.push_back({*name, ctx_.at(e)});
    } else {
      static const std::vector<std::string> known = {"world", "cluster", "host", "all", "remote-node",
                                                     "kube-apiserver", "health", "init", "ingress",
                                                     "unmanaged", "world-ipv4", "world-ipv6"};
      bool cilium = std::find(known.begin(), known.end(), *name) != known.end();
      ctx_.error(e, what + ": entity '" + *name + "' " +
                        (cilium ? "has no membrane equivalent (only world, cluster, host and all do)"
                                : "is not a Cilium entity"));
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
    Rule dns;
    dns.origin = ctx_.at(pr);
    bool hasDns = false;
    if (YAML::Node l7 = ctx_.get(pr, "rules"); l7.IsDefined() && !deny) hasDns = dnsRules(l7, what + ".rules", egress, dns);
    YAML::Node ports = ctx_.get(pr, "ports");
    if (!ports.IsDefined()) {
      // Only L7 fields: those are reported, but DNS names must know their
      // ports.
      if (hasDns) ctx_.error(pr, what + ": `rules.dns` needs `ports` (e.g. port \"53\"): the ports whose traffic is "
                                        "read as DNS");
      return;
    }
    if (!ctx_.isSequence(ports, what + ".ports")) return;
    if (hasDns && ports.size() == 0)
      ctx_.error(ports, what + ".ports: `rules.dns` needs ports (e.g. port \"53\"): the ports whose traffic is "
                               "read as DNS");
    for (const auto& p : ports) port(p, what + ".ports[]", hasDns, hasDns ? dns : rule);
    if (hasDns) withDns.push_back(std::move(dns));
  }

  // `rules` of a port rule: `dns` becomes the dns condition in `out`; the
  // other L7 rules are errors. True when there are DNS names.
  bool dnsRules(const YAML::Node& l7, const std::string& what, bool egress, Rule& out) {
    if (!ctx_.isMap(l7, what)) return false;
    ctx_.checkKeys(l7, what, {"dns"}, kUnsupportedL7Rules);
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

  // One `ports[]` item. `forDns`: the ports of a rule with a dns condition,
  // which must be numbers or names, on UDP or TCP (where DNS is read).
  void port(const YAML::Node& p, const std::string& what, bool forDns, Rule& rule) {
    if (!ctx_.isMap(p, what)) return;
    ctx_.checkKeys(p, what, {"port", "endPort", "protocol"});
    // Cilium's default protocol is ANY; for DNS that is UDP and TCP, the
    // transports membrane reads DNS on (docs/kubernetes.md).
    std::vector<std::string> protos = forDns ? std::vector<std::string>{"udp", "tcp"}
                                             : std::vector<std::string>{"tcp", "udp", "sctp"};
    YAML::Node protoNode = ctx_.get(p, "protocol");
    if (protoNode.IsDefined()) {
      auto s = ctx_.string(protoNode, what + ".protocol");
      if (!s) return;
      if (*s == "TCP") protos = {"tcp"};
      else if (*s == "UDP") protos = {"udp"};
      else if (*s == "SCTP" && forDns) {
        ctx_.error(protoNode, what + ".protocol: DNS rules need UDP, TCP or ANY: membrane reads DNS over UDP and "
                                     "TCP only");
        return;
      }
      else if (*s == "SCTP") protos = {"sctp"};
      else if (*s == "ANY") {}
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
    if (forDns && port.empty()) {
      ctx_.error(at, what + ": `rules.dns` needs a port (e.g. \"53\"), not every port: the ports whose traffic is "
                            "read as DNS");
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

}  // namespace

std::vector<Policy> convertCiliumPolicy(Context& ctx, const ObjectRef& obj) {
  bool clusterwide = obj.kind == "CiliumClusterwideNetworkPolicy";
  CiliumConverter conv(ctx, obj, clusterwide);
  ctx.checkKeys(obj.node, obj.kind, {"apiVersion", "kind", "metadata", "spec", "specs", "status"});
  std::vector<Policy> out;
  YAML::Node spec = ctx.get(obj.node, "spec"), specs = ctx.get(obj.node, "specs");
  if (!spec.IsDefined() && !specs.IsDefined()) {
    ctx.error(obj.node, obj.kind + " " + obj.name + " has neither `spec` nor `specs`");
    return out;
  }
  std::vector<std::pair<YAML::Node, std::string>> rules;
  if (spec.IsDefined()) rules.push_back({spec, "spec"});
  if (specs.IsDefined() && ctx.isSequence(specs, "specs"))
    for (size_t i = 0; i < specs.size(); ++i) rules.push_back({specs[i], "specs[" + std::to_string(i) + "]"});
  for (size_t i = 0; i < rules.size(); ++i) {
    if (auto p = conv.rule(rules[i].first, rules[i].second)) {
      // One rule keeps the object's name; several are numbered in order.
      p->name = rules.size() == 1 ? obj.name : obj.name + "-" + std::to_string(i + 1);
      out.push_back(std::move(*p));
    }
  }
  return out;
}

}  // namespace membrane::k8s
