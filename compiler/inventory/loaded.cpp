// See loaded.h: the checks both inventory formats apply to what they read.
#include "inventory/loaded.h"

#include <algorithm>

#include "names/names.h"

namespace membrane::inventory::detail {

namespace {

std::string protocolName(uint8_t p) { return p == 6 ? "TCP" : p == 17 ? "UDP" : "SCTP"; }

void addNameLabel(const Reader& r, Namespace& ns, const std::string& labelsPath) {
  auto [it, inserted] = ns.labels.emplace(kNamespaceNameLabel, ns.name);
  if (!inserted && it->second != ns.name)
    r.fail(member(labelsPath, kNamespaceNameLabel),
           "must equal the namespace name " + quote(ns.name) + ", got " + quote(it->second));
}

}  // namespace

Loaded::Ep readEndpointNames(const Reader& r, const std::string& file, const nlohmann::json& obj,
                             const std::string& objPath, const std::string& path, bool nullIsAbsent) {
  Loaded::Ep e;
  e.path = path;
  e.ep.source = file;
  e.ep.name = r.name(r.require(obj, "name", objPath), member(objPath, "name"));
  if (const auto* ns = r.find(obj, "namespace", nullIsAbsent)) e.ep.ns = r.name(*ns, member(objPath, "namespace"));
  if (const auto* l = r.find(obj, "labels", nullIsAbsent)) e.ep.labels = r.labelSet(*l, member(objPath, "labels"));
  return e;
}

void addNamespace(const Reader& r, const nlohmann::json& obj, const std::string& objPath, const std::string& path,
                  bool nullIsAbsent, Loaded& out) {
  Namespace ns;
  ns.name = r.name(r.require(obj, "name", objPath), member(objPath, "name"));
  if (const auto* l = r.find(obj, "labels", nullIsAbsent)) ns.labels = r.labelSet(*l, member(objPath, "labels"));
  addNameLabel(r, ns, member(objPath, "labels"));
  out.namespaces.push_back({std::move(ns), path});
}

void addPort(const Reader& r, Loaded::Ep& e, std::vector<std::string>& portPaths, NamedPort p,
             const std::string& path) {
  for (size_t i = 0; i < e.ep.ports.size(); ++i) {
    const NamedPort& q = e.ep.ports[i];
    if (q.name != p.name || q.protocol != p.protocol) continue;
    if (q.port == p.port) return;
    r.fail(path, "port name " + quote(p.name) + " (" + protocolName(p.protocol) + ") is " +
                     std::to_string(p.port) + " here but " + std::to_string(q.port) + " at " + portPaths[i]);
  }
  e.ep.ports.push_back(std::move(p));
  portPaths.push_back(path);
}

void addServiceAccountLabel(const Reader& r, const nlohmann::json& spec, const std::string& specPath, Loaded::Ep& e) {
  std::optional<std::string> given[2];  // serviceAccountName, serviceAccount
  const char* keys[2] = {"serviceAccountName", "serviceAccount"};
  for (int i = 0; i < 2; ++i)
    if (const auto* v = r.find(spec, keys[i], true); v && !(v->is_string() && v->get_ref<const std::string&>().empty())) {
      given[i] = r.name(*v, member(specPath, keys[i]));
      // A service account's name is an object name; as a label value it may
      // have at most 63 characters.
      if (std::string why = names::labelValueProblem(*given[i]); !why.empty())
        r.fail(member(specPath, keys[i]), quote(*given[i]) + " cannot be the label " + quote(kServiceAccountLabel) +
                                              ": " + why);
    }
  std::string account = serviceAccountOf(given[0], given[1]);
  auto [it, inserted] = e.ep.labels.emplace(kServiceAccountLabel, account);
  if (!inserted && it->second != account)
    r.fail(specPath, "label " + quote(kServiceAccountLabel) + " is " + quote(it->second) +
                         " but the pod's service account is " + quote(account));
}

Loaded::Nd readNodeNames(const Reader& r, const std::string& file, const nlohmann::json& obj,
                         const std::string& objPath, const std::string& path, bool nullIsAbsent) {
  Loaded::Nd n;
  n.path = path;
  n.node.source = file;
  std::string namePath = member(objPath, "name");
  n.node.name = r.name(r.require(obj, "name", objPath), namePath);
  // Held to the API server's rule for Node names, the one the Kubernetes
  // import checks, so that both inputs accept the same nodes.
  if (!names::isDnsSubdomain(n.node.name))
    r.fail(namePath, "node name " + quote(n.node.name) +
                         " is not a Kubernetes object name (lowercase letters, digits, '-' and '.', at most 253 "
                         "characters)");
  if (const auto* l = r.find(obj, "labels", nullIsAbsent)) n.node.labels = r.labelSet(*l, member(objPath, "labels"));
  return n;
}

void addNodeAddress(Node& n, const net::Address& a) {
  auto at = std::lower_bound(n.addresses.begin(), n.addresses.end(), a);
  if (at == n.addresses.end() || *at != a) n.addresses.insert(at, a);
}

void addAddress(Endpoint& e, const net::Address& a) {
  if (std::find(e.addresses.begin(), e.addresses.end(), a) == e.addresses.end()) e.addresses.push_back(a);
}


}  // namespace membrane::inventory::detail
