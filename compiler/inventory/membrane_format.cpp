// membrane's own inventory format (docs/inventory.md): strict, so that a
// misspelt key is an error rather than a silently dropped field.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "inventory/formats.h"
#include "labels/names.h"

namespace membrane::inventory::detail {

using nlohmann::json;

void readMembraneNamespace(const Reader& r, const json& v, const std::string& path, Loaded& out) {
  r.object(v, path);
  r.checkKeys(v, path, {"name", "labels"});
  addNamespace(r, v, path, path, false, out);
}

void readMembraneEndpoint(const Reader& r, const std::string& file, const json& v, const std::string& path,
                          Loaded& out) {
  r.object(v, path);
  r.checkKeys(v, path, {"name", "namespace", "labels", "addresses", "ports", "workload", "executables"});
  Loaded::Ep e = readEndpointNames(r, file, v, path, path, false);
  if (const json* a = r.find(v, "addresses", false)) {
    std::string ap = member(path, "addresses");
    for (size_t i = 0; i < r.array(*a, ap).size(); ++i) addAddress(e.ep, r.address((*a)[i], element(ap, i)));
  }
  if (const json* ports = r.find(v, "ports", false)) {
    std::string pp = member(path, "ports");
    std::vector<std::string> portPaths;
    for (size_t i = 0; i < r.array(*ports, pp).size(); ++i) {
      std::string ip = element(pp, i);
      const json& p = r.object((*ports)[i], ip);
      r.checkKeys(p, ip, {"name", "port", "protocol"});
      NamedPort np;
      np.name = r.name(r.require(p, "name", ip), member(ip, "name"));
      np.port = r.port(r.require(p, "port", ip), member(ip, "port"));
      if (const json* proto = r.find(p, "protocol", false))
        np.protocol = r.protocol(*proto, member(ip, "protocol"));
      addPort(r, e, portPaths, std::move(np), ip);
    }
  }
  if (const json* exes = r.find(v, "executables", false)) {
    // Paths from a file anyone may have written: held to the node's rule
    // for executable paths, like the paths of process rules.
    std::string xp = member(path, "executables");
    std::vector<std::string> paths;
    for (size_t i = 0; i < r.array(*exes, xp).size(); ++i) {
      std::string ip = element(xp, i);
      const std::string& exe = r.string((*exes)[i], ip);
      size_t column = 0;
      if (std::string why = labels::executablePathProblem(exe, &column); !why.empty())
        r.fail(ip, "executable " + nlohmann::json(exe).dump() + " " + why + " (byte " + std::to_string(column + 1) + ")");
      paths.push_back(exe);
    }
    std::sort(paths.begin(), paths.end());
    paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
    e.ep.executables = std::move(paths);
  }
  e.ep.workload = e.ep.name;
  if (const json* w = r.find(v, "workload", false)) e.ep.workload = r.name(*w, member(path, "workload"));
  out.add(std::move(e));
}

void readMembraneService(const Reader& r, const std::string& file, const json& v, const std::string& path,
                         Loaded& out) {
  r.object(v, path);
  r.checkKeys(v, path, {"name", "namespace", "labels", "selector", "addresses", "externalName"});
  Loaded::Svc sv;
  sv.path = path;
  Service& s = sv.service;
  s.source = file;
  s.name = r.name(r.require(v, "name", path), member(path, "name"));
  if (const json* ns = r.find(v, "namespace", false)) s.ns = r.name(*ns, member(path, "namespace"));
  if (const json* l = r.find(v, "labels", false)) s.labels = r.labelSet(*l, member(path, "labels"));
  const json* sel = r.find(v, "selector", false);
  const json* addrs = r.find(v, "addresses", false);
  const json* external = r.find(v, "externalName", false);
  if (sel) {
    labels::LabelSet set = r.labelSet(*sel, member(path, "selector"));
    // As in Kubernetes, an empty selector is none: something else manages
    // the endpoints.
    if (!set.empty()) s.selector = std::move(set);
  }
  if (s.selector && addrs)
    r.fail(member(path, "addresses"),
           "a service with a selector stands for the pods it selects: give `selector` or `addresses`, not both");
  if (external && (s.selector || addrs))
    r.fail(member(path, "externalName"), "an ExternalName service has no selector and no addresses");
  if (addrs) {
    std::string ap = member(path, "addresses");
    for (size_t i = 0; i < r.array(*addrs, ap).size(); ++i) {
      net::Address a = r.address((*addrs)[i], element(ap, i));
      if (std::find(s.addresses.begin(), s.addresses.end(), a) == s.addresses.end()) s.addresses.push_back(a);
    }
    std::sort(s.addresses.begin(), s.addresses.end());
  }
  if (external) s.externalName = r.name(*external, member(path, "externalName"));
  out.services.push_back(std::move(sv));
}

void readMembraneNode(const Reader& r, const std::string& file, const json& v, const std::string& path,
                      Loaded& out) {
  r.object(v, path);
  r.checkKeys(v, path, {"name", "labels", "addresses"});
  Loaded::Nd n = readNodeNames(r, file, v, path, path, false);
  if (const json* addrs = r.find(v, "addresses", false)) {
    std::string ap = member(path, "addresses");
    for (size_t i = 0; i < r.array(*addrs, ap).size(); ++i)
      addNodeAddress(n.node, r.address((*addrs)[i], element(ap, i)));
  }
  out.nodes.push_back(std::move(n));
}

void checkMembraneTopLevel(const Reader& r, const json& root) {
  r.checkKeys(root, "", {"namespaces", "endpoints", "services", "nodes"});
}

void readMembrane(const Reader& r, const std::string& file, const json& root, Loaded& out) {
  checkMembraneTopLevel(r, root);
  if (const json* nss = r.find(root, "namespaces", false)) {
    r.array(*nss, "namespaces");
    for (size_t i = 0; i < nss->size(); ++i)
      readMembraneNamespace(r, (*nss)[i], element("namespaces", i), out);
  }
  if (const json* eps = r.find(root, "endpoints", false)) {
    r.array(*eps, "endpoints");
    for (size_t i = 0; i < eps->size(); ++i)
      readMembraneEndpoint(r, file, (*eps)[i], element("endpoints", i), out);
  }
  if (const json* svcs = r.find(root, "services", false)) {
    r.array(*svcs, "services");
    for (size_t i = 0; i < svcs->size(); ++i) readMembraneService(r, file, (*svcs)[i], element("services", i), out);
  }
  if (const json* nodes = r.find(root, "nodes", false)) {
    r.array(*nodes, "nodes");
    for (size_t i = 0; i < nodes->size(); ++i) readMembraneNode(r, file, (*nodes)[i], element("nodes", i), out);
  }
}

}  // namespace membrane::inventory::detail
