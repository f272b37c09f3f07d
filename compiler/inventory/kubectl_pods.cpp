// kubectl's JSON as an inventory: `kubectl get pods -A -o json`, `kubectl
// get namespaces -o json` and `kubectl get nodes -o json` as they are (List,
// PodList, NamespaceList, NodeList, or a single Pod, Namespace or Node).
//
// Lenient: kubectl prints dozens of fields we do not need and adds more with
// every release, so unknown keys are ignored and null counts as absent. The
// fields we do use are still type-checked.
#include <algorithm>
#include <optional>

#include <nlohmann/json.hpp>

#include "inventory/formats.h"
#include "inventory/workload.h"

namespace membrane::inventory::detail {

using nlohmann::json;

namespace {

// The pod's owner references, and its workload from them (workload.h).
std::string podWorkload(const Reader& r, const json& meta, const std::string& metaPath,
                        const std::string& podName, const labels::LabelSet& podLabels) {
  const json* ownersJson = r.find(meta, "ownerReferences", true);
  if (!ownersJson) return podName;
  std::string ownersPath = member(metaPath, "ownerReferences");
  std::vector<OwnerReference> owners;
  for (size_t i = 0; i < r.array(*ownersJson, ownersPath).size(); ++i) {
    std::string op = element(ownersPath, i);
    const json& o = r.object((*ownersJson)[i], op);
    OwnerReference owner;
    owner.name = r.name(r.require(o, "name", op), member(op, "name"));
    if (const json* k = r.find(o, "kind", true)) owner.kind = r.string(*k, member(op, "kind"));
    if (const json* c = r.find(o, "controller", true)) owner.controller = r.boolean(*c, member(op, "controller"));
    owners.push_back(std::move(owner));
  }
  std::optional<size_t> second;
  auto chosen = controllerIndex(owners, true, &second);
  if (second)
    r.fail(member(element(ownersPath, *second), "controller"),
           "a second owner marked controller (Kubernetes allows one)");
  return inventory::podWorkload(podName, podLabels, chosen ? &owners[*chosen] : nullptr);
}

void readPod(const Reader& r, const std::string& file, const json& pod, const std::string& path,
             Loaded& out) {
  std::string metaPath = member(path, "metadata");
  const json& meta = r.object(r.require(pod, "metadata", path), metaPath);
  Loaded::Ep e = readEndpointNames(r, file, meta, metaPath, path, true);
  e.ep.workload = podWorkload(r, meta, metaPath, e.ep.name, e.ep.labels);

  // A hostNetwork pod's address is its node's: traffic from it is the node's
  // (the `host` entity), and the node loader would otherwise take the node's
  // address for this pod's. A finished pod's address may already be another
  // pod's. Neither has an address of its own.
  bool ownAddress = true;
  if (const json* spec = r.find(pod, "spec", true)) {
    if (const json* h = r.find(r.object(*spec, member(path, "spec")), "hostNetwork", true))
      ownAddress &= !r.boolean(*h, member(member(path, "spec"), "hostNetwork"));
  }
  const json* status = r.find(pod, "status", true);
  if (status) {
    if (const json* phase = r.find(r.object(*status, member(path, "status")), "phase", true)) {
      const std::string& p = r.string(*phase, member(member(path, "status"), "phase"));
      ownAddress &= p != "Succeeded" && p != "Failed";
    }
  }

  if (status && ownAddress) {
    std::string sp = member(path, "status");
    const json* ips = r.find(*status, "podIPs", true);
    if (ips && !r.array(*ips, member(sp, "podIPs")).empty()) {
      for (size_t i = 0; i < ips->size(); ++i) {
        std::string ip = element(member(sp, "podIPs"), i);
        const json& entry = r.object((*ips)[i], ip);
        addAddress(e.ep, r.address(r.require(entry, "ip", ip), member(ip, "ip")));
      }
    } else if (const json* ip = r.find(*status, "podIP", true)) {
      // Older clusters and some CNIs fill only the singular field; an empty
      // string means the pod has no address yet.
      if (!(ip->is_string() && ip->get_ref<const std::string&>().empty()))
        addAddress(e.ep, r.address(*ip, member(sp, "podIP")));
    }
  }

  if (const json* spec = r.find(pod, "spec", true)) {
    std::string sp = member(path, "spec");
    r.object(*spec, sp);
    addServiceAccountLabel(r, *spec, sp, e);
    std::vector<std::string> portPaths;
    if (const json* containers = r.find(*spec, "containers", true)) {
      std::string cp = member(sp, "containers");
      for (size_t c = 0; c < r.array(*containers, cp).size(); ++c) {
        std::string cip = element(cp, c);
        const json* ports = r.find(r.object((*containers)[c], cip), "ports", true);
        if (!ports) continue;
        std::string pp = member(cip, "ports");
        for (size_t i = 0; i < r.array(*ports, pp).size(); ++i) {
          std::string ip = element(pp, i);
          const json& p = r.object((*ports)[i], ip);
          // Unnamed ports cannot be referenced by name, so they are not checked.
          const json* name = r.find(p, "name", true);
          if (!name || (name->is_string() && name->get_ref<const std::string&>().empty())) continue;
          NamedPort np;
          np.name = r.string(*name, member(ip, "name"));
          np.port = r.port(r.require(p, "containerPort", ip), member(ip, "containerPort"));
          if (const json* proto = r.find(p, "protocol", true))
            np.protocol = r.protocol(*proto, member(ip, "protocol"));
          addPort(r, e, portPaths, std::move(np), ip);
        }
      }
    }
  }
  out.add(std::move(e));
}

void readKubeNamespace(const Reader& r, const json& obj, const std::string& path, Loaded& out) {
  std::string metaPath = member(path, "metadata");
  const json& meta = r.object(r.require(obj, "metadata", path), metaPath);
  addNamespace(r, meta, metaPath, path, true, out);
}

// A Node: its name, labels, and the addresses other machines reach it at
// (status.addresses of type InternalIP and ExternalIP). Hostname and the DNS
// types are names, not addresses, and are skipped unread.
void readKubeNode(const Reader& r, const std::string& file, const json& obj, const std::string& path, Loaded& out) {
  std::string metaPath = member(path, "metadata");
  const json& meta = r.object(r.require(obj, "metadata", path), metaPath);
  Loaded::Nd n = readNodeNames(r, file, meta, metaPath, path, true);
  if (const json* status = r.find(obj, "status", true)) {
    std::string sp = member(path, "status");
    if (const json* addrs = r.find(r.object(*status, sp), "addresses", true)) {
      std::string ap = member(sp, "addresses");
      for (size_t i = 0; i < r.array(*addrs, ap).size(); ++i) {
        std::string ip = element(ap, i);
        const json& entry = r.object((*addrs)[i], ip);
        const json* type = r.find(entry, "type", true);
        if (!type) continue;
        const std::string& t = r.string(*type, member(ip, "type"));
        if (t != "InternalIP" && t != "ExternalIP") continue;
        addNodeAddress(n.node, r.address(r.require(entry, "address", ip), member(ip, "address")));
      }
    }
  }
  out.nodes.push_back(std::move(n));
}

const std::vector<std::string> kTopLevelKinds = {"List", "PodList", "NamespaceList", "NodeList",
                                                 "Pod", "Namespace", "Node"};
const char* kExpectedKinds = "expected List, PodList, NamespaceList, NodeList, Pod, Namespace or Node";

}  // namespace

std::string kubectlKind(const Reader& r, const json& root) {
  const json* kindValue = r.find(root, "kind", true);
  if (!kindValue) r.fail("", std::string("missing \"kind\" (") + kExpectedKinds + ")");
  const std::string& kind = r.string(*kindValue, "kind");
  if (std::find(kTopLevelKinds.begin(), kTopLevelKinds.end(), kind) == kTopLevelKinds.end()) {
    std::string hint = suggest(kind, kTopLevelKinds);
    r.fail("kind", "unsupported kind " + quote(kind) +
                       (hint.empty() ? std::string(" (") + kExpectedKinds + ")"
                                     : " (did you mean " + quote(hint) + "?)"));
  }
  return kind;
}

std::string impliedItemKind(const std::string& listKind) {
  return listKind == "PodList"         ? "Pod"
         : listKind == "NamespaceList" ? "Namespace"
         : listKind == "NodeList"      ? "Node"
                                       : "";
}

void readKubectlItem(const Reader& r, const std::string& file, const json& value, const std::string& path,
                     const std::string& implied, Loaded& out) {
  const json& item = r.object(value, path);
  std::string itemKind = implied;
  if (const json* k = r.find(item, "kind", true)) itemKind = r.string(*k, member(path, "kind"));
  if (itemKind.empty()) r.fail(path, "missing \"kind\"");
  if (itemKind == "Pod")
    readPod(r, file, item, path, out);
  else if (itemKind == "Namespace")
    readKubeNamespace(r, item, path, out);
  else if (itemKind == "Node")
    readKubeNode(r, file, item, path, out);
  // Other kinds (Services, Deployments, ...) may share the list; they carry
  // no endpoint addresses we could use.
}

void readKubectl(const Reader& r, const std::string& file, const json& root, Loaded& out) {
  std::string kind = kubectlKind(r, root);
  if (kind == "Pod") return readPod(r, file, root, "", out);
  if (kind == "Namespace") return readKubeNamespace(r, root, "", out);
  if (kind == "Node") return readKubeNode(r, file, root, "", out);
  const json* items = r.find(root, "items", true);
  if (!items) return;
  r.array(*items, "items");
  for (size_t i = 0; i < items->size(); ++i) readKubectlItem(r, file, (*items)[i], element("items", i), impliedItemKind(kind), out);
}

}  // namespace membrane::inventory::detail
