// networking.k8s.io/v1 NetworkPolicy → one membrane policy
// (docs/kubernetes.md, "NetworkPolicy").
#include "k8s/convert.h"
#include "net/address.h"
#include "names/names.h"

namespace membrane::k8s {

bool namespaceRefIsName(const std::vector<Requirement>& nsReqs) {
  // `namespace X` only for a name a namespace can have; any other value is a
  // selector that matches no namespace, as in Kubernetes.
  return nsReqs.size() == 1 && nsReqs[0].key == "kubernetes.io/metadata.name" &&
         (nsReqs[0].op == Requirement::Op::Equals ||
          (nsReqs[0].op == Requirement::Op::In && nsReqs[0].values.size() == 1)) &&
         names::isDnsLabel(nsReqs[0].values[0]);
}

std::string namespaceRefText(const std::vector<Requirement>& nsReqs) {
  if (namespaceRefIsName(nsReqs)) return "namespace " + word(nsReqs[0].values[0]);
  return "namespaces " + selectorText(nsReqs);
}

std::optional<SourceLine> cidrText(Context& ctx, const YAML::Node& cidr, const std::vector<YAML::Node>& excepts,
                                   const std::string& what, bool prefixRequired) {
  auto prefixText = [&](const YAML::Node& n, const std::string& field) -> std::optional<std::string> {
    auto s = ctx.string(n, what + field);
    if (!s) return std::nullopt;
    bool hostBits = false;
    // The text goes into the policy as it is (host bits are reported there,
    // with a fix): nothing but the characters of an address may reach it.
    bool addressChars = s->find_first_not_of("0123456789abcdefABCDEF.:/") == std::string::npos;
    if (!addressChars || (!net::Prefix::parse(*s, &hostBits) && !hostBits)) {
      ctx.error(n, what + field + ": '" + shown(*s) + "' is not an IPv4 or IPv6 CIDR");
      return std::nullopt;
    }
    if (prefixRequired && s->find('/') == std::string::npos) {
      ctx.error(n, what + field + ": '" + shown(*s) + "' is an address, not a CIDR: the API server refuses it",
                "write `" + *s + (s->find(':') == std::string::npos ? "/32" : "/128") + "` for the one address");
      return std::nullopt;
    }
    return s;
  };
  auto base = prefixText(cidr, ".cidr");
  if (!base) return std::nullopt;
  SourceLine out{"cidr " + *base, ctx.at(cidr)};
  // Each except on its own line, so the checker's findings about it point at
  // its own node.
  std::vector<SourceLine> ex;
  for (const auto& e : excepts) {
    auto t = prefixText(e, ".except[]");
    if (!t) return std::nullopt;
    ex.push_back({*t, ctx.at(e)});
  }
  if (ex.size() == 1) {
    out.text += " except";
    out.continued = ex;
  } else if (ex.size() > 1) {
    out.text += " except (";
    for (size_t i = 0; i + 1 < ex.size(); ++i) ex[i].text += ",";
    out.continued = ex;
    out.continued.push_back({")", out.origin});
  }
  return out;
}

std::string portItem(const std::string& proto, const std::string& port, const std::string& endPort) {
  if (port.empty()) return proto;
  bool number = port.find_first_not_of("0123456789") == std::string::npos;
  // A port name may start with a digit (`8080-http`), which would lex as a
  // number: names are words.
  if (!number) return proto + "/" + word(port);
  if (endPort.empty() || endPort == port) return proto + "/" + port;
  return proto + "/" + port + "-" + endPort;
}

namespace {

// One NetworkPolicyPort → a protocol item.
std::optional<SourceLine> convertPort(Context& ctx, const YAML::Node& p) {
  const std::string what = "NetworkPolicyPort";
  if (!ctx.isMap(p, what)) return std::nullopt;
  ctx.checkKeys(p, what, {"protocol", "port", "endPort"});
  std::string proto = "tcp";
  if (YAML::Node n = ctx.get(p, "protocol"); n.IsDefined()) {
    auto s = ctx.string(n, what + ".protocol");
    if (!s) return std::nullopt;
    if (*s == "TCP" || *s == "UDP" || *s == "SCTP") {
      proto = *s == "TCP" ? "tcp" : *s == "UDP" ? "udp" : "sctp";
    } else {
      ctx.error(n, what + ".protocol: unknown protocol '" + *s + "' (expected TCP, UDP or SCTP)");
      return std::nullopt;
    }
  }
  YAML::Node portNode = ctx.get(p, "port"), endNode = ctx.get(p, "endPort");
  std::string port, endPort;
  bool named = false;
  if (portNode.IsDefined()) {
    // IntOrString: a number is a port, a string a port name.
    auto v = ctx.intOrString(portNode, what + ".port");
    if (!v) return std::nullopt;
    if (v->number) {
      if (*v->number < 1 || *v->number > 65535) {
        ctx.error(portNode, what + ".port: " + std::to_string(*v->number) + " is out of range (1-65535)");
        return std::nullopt;
      }
      port = std::to_string(*v->number);
    } else if (names::isPortName(v->text)) {
      port = v->text;
      named = true;
    } else {
      bool digits = !v->text.empty() && v->text.find_first_not_of("0123456789") == std::string::npos;
      ctx.error(portNode, what + ".port: '" + shown(v->text) + "' is neither a port number nor a valid port name",
                digits ? "write the number without quotes" : "");
      return std::nullopt;
    }
  }
  if (endNode.IsDefined()) {
    if (port.empty() || named) {
      ctx.error(endNode, what + ".endPort: needs a numeric `port`");
      return std::nullopt;
    }
    auto v = ctx.integer(endNode, what + ".endPort");
    if (!v) return std::nullopt;
    if (*v < std::stoi(port) || *v > 65535) {
      ctx.error(endNode, what + ".endPort: " + std::to_string(*v) + " must be between port " + port + " and 65535");
      return std::nullopt;
    }
    endPort = std::to_string(*v);
  }
  return SourceLine{portItem(proto, port, endPort), ctx.at(portNode.IsDefined() ? portNode : p)};
}

std::optional<SourceLine> convertPeer(Context& ctx, const YAML::Node& peer) {
  const std::string what = "NetworkPolicyPeer";
  if (!ctx.isMap(peer, what)) return std::nullopt;
  ctx.checkKeys(peer, what, {"podSelector", "namespaceSelector", "ipBlock"});
  YAML::Node pods = ctx.get(peer, "podSelector"), nss = ctx.get(peer, "namespaceSelector"),
             block = ctx.get(peer, "ipBlock");
  // `podSelector: {}` is present but empty; yaml-cpp keeps it as an empty map.
  bool hasPods = pods.IsDefined(), hasNs = nss.IsDefined();
  if (block.IsDefined()) {
    if (hasPods || hasNs) {
      ctx.error(peer, what + ": `ipBlock` cannot be combined with `podSelector` or `namespaceSelector`");
      return std::nullopt;
    }
    if (!ctx.isMap(block, what + ".ipBlock")) return std::nullopt;
    ctx.checkKeys(block, what + ".ipBlock", {"cidr", "except"});
    YAML::Node cidr = ctx.get(block, "cidr");
    if (!cidr.IsDefined()) {
      ctx.error(block, what + ".ipBlock: `cidr` is required");
      return std::nullopt;
    }
    std::vector<YAML::Node> excepts;
    if (YAML::Node ex = ctx.get(block, "except"); ex.IsDefined() && ctx.isSequence(ex, what + ".ipBlock.except"))
      for (const auto& e : ex) excepts.push_back(e);
    return cidrText(ctx, cidr, excepts, what + ".ipBlock", /*prefixRequired=*/true);
  }
  if (!hasPods && !hasNs) {
    ctx.error(peer, what + ": needs `podSelector`, `namespaceSelector` or `ipBlock`");
    return std::nullopt;
  }
  std::optional<std::vector<Requirement>> podReqs, nsReqs;
  if (hasPods && !(podReqs = readLabelSelector(ctx, pods, what + ".podSelector"))) return std::nullopt;
  if (hasNs && !(nsReqs = readLabelSelector(ctx, nss, what + ".namespaceSelector"))) return std::nullopt;
  if (!hasNs) return SourceLine{"pods " + selectorText(*podReqs), ctx.at(pods)};
  if (!hasPods) return SourceLine{namespaceRefText(*nsReqs), ctx.at(nss)};
  return SourceLine{"pods " + selectorText(*podReqs) + " in " + namespaceRefText(*nsReqs), ctx.at(peer)};
}

// One NetworkPolicyIngressRule / EgressRule → one allow rule.
std::optional<Rule> convertRule(Context& ctx, const YAML::Node& r, bool egress) {
  const std::string what = egress ? "NetworkPolicyEgressRule" : "NetworkPolicyIngressRule";
  const char* peersKey = egress ? "to" : "from";
  if (!ctx.isMap(r, what)) return std::nullopt;
  ctx.checkKeys(r, what, {peersKey, "ports"});
  Rule rule;
  rule.origin = ctx.at(r);
  size_t errorsBefore = ctx.errors();
  YAML::Node peers = ctx.get(r, peersKey);
  if (peers.IsDefined() && ctx.isSequence(peers, what + "." + peersKey)) {
    for (const auto& p : peers)
      if (auto line = convertPeer(ctx, p)) rule.peers.push_back(*line);
  }
  // A missing or empty list matches every peer, inside the cluster or not.
  if (!peers.IsDefined() || peers.size() == 0) rule.peers.push_back({"all", peers.IsDefined() ? ctx.at(peers) : rule.origin});
  YAML::Node ports = ctx.get(r, "ports");
  if (ports.IsDefined() && ctx.isSequence(ports, what + ".ports")) {
    for (const auto& p : ports)
      if (auto line = convertPort(ctx, p)) rule.protos.push_back(*line);
  }
  if (ctx.errors() != errorsBefore) return std::nullopt;
  return rule;
}

}  // namespace

std::optional<Policy> convertNetworkPolicy(Context& ctx, const ObjectRef& obj) {
  size_t errorsBefore = ctx.errors();
  Policy p;
  p.name = obj.name;
  p.ns = obj.ns;
  p.apiVersion = obj.apiVersion;
  p.kind = obj.kind;
  p.origin = ctx.at(obj.node);
  ctx.checkKeys(obj.node, "NetworkPolicy", {"apiVersion", "kind", "metadata", "spec", "status"});
  YAML::Node spec = ctx.get(obj.node, "spec");
  if (!spec.IsDefined()) {
    ctx.error(obj.node, "NetworkPolicy " + obj.ns + "/" + obj.name + " has no `spec`");
    return std::nullopt;
  }
  if (!ctx.isMap(spec, "NetworkPolicy spec")) return std::nullopt;
  ctx.checkKeys(spec, "NetworkPolicy spec", {"podSelector", "policyTypes", "ingress", "egress"});

  YAML::Node podSelector = ctx.get(spec, "podSelector");
  if (auto reqs = readLabelSelector(ctx, podSelector, "spec.podSelector")) {
    p.selects = {selectorText(*reqs), podSelector.IsDefined() ? ctx.at(podSelector) : ctx.at(spec)};
    p.selectsCount = reqs->size();
  }

  YAML::Node ingress = ctx.get(spec, "ingress"), egress = ctx.get(spec, "egress");
  bool ingressType = false, egressType = false;
  YAML::Node types = ctx.get(spec, "policyTypes");
  if (types.IsDefined() && ctx.isSequence(types, "spec.policyTypes") && types.size() > 0) {
    for (const auto& t : types) {
      auto s = ctx.string(t, "spec.policyTypes[]");
      if (!s) continue;
      if (*s == "Ingress") ingressType = true;
      else if (*s == "Egress") egressType = true;
      else ctx.error(t, "spec.policyTypes: unknown policy type '" + *s + "' (expected Ingress or Egress)");
    }
  } else {
    // Kubernetes' defaults: Ingress always, Egress when there are egress rules.
    ingressType = true;
    egressType = egress.IsDefined() && egress.IsSequence() && egress.size() > 0;
  }

  auto section = [&](const YAML::Node& rules, bool isEgress, bool typed, Section& out) {
    const char* name = isEgress ? "egress" : "ingress";
    bool hasRules = rules.IsDefined() && rules.IsSequence() && rules.size() > 0;
    if (rules.IsDefined() && !ctx.isSequence(rules, std::string("spec.") + name)) return;
    if (!typed) {
      if (hasRules)
        ctx.warning(rules, std::string("these ") + name + " rules have no effect: spec.policyTypes does not list " +
                               (isEgress ? "Egress" : "Ingress"),
                    "Kubernetes ignores them too; they are not converted");
      return;
    }
    out.present = true;
    out.origin = rules.IsDefined() ? ctx.at(rules) : types.IsDefined() ? ctx.at(types) : p.origin;
    if (!hasRules) return;
    for (const auto& r : rules)
      if (auto rule = convertRule(ctx, r, isEgress)) out.rules.push_back(std::move(*rule));
  };
  section(ingress, false, ingressType, p.ingress);
  section(egress, true, egressType, p.egress);
  if (ctx.errors() != errorsBefore) return std::nullopt;
  return p;
}

}  // namespace membrane::k8s
