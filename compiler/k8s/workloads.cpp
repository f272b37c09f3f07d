// Namespaces, Pods and workloads → membrane's inventory format
// (docs/kubernetes.md, "Inventory").

#include "inventory/inventory.h"
#include "inventory/workload.h"
#include "k8s/convert.h"
#include "net/address.h"

namespace membrane::k8s {

using nlohmann::json;

namespace {

struct Kind {
  const char* apiVersion;
  const char* kind;
  // Path from the object to its pod template (the metadata + spec of a Pod).
  std::vector<const char*> templatePath;
};

const std::vector<Kind>& workloadKinds() {
  static const std::vector<Kind> kinds = {
      {"v1", "Namespace", {}},
      {"v1", "Pod", {}},
      {"apps/v1", "Deployment", {"spec", "template"}},
      {"apps/v1", "ReplicaSet", {"spec", "template"}},
      {"apps/v1", "StatefulSet", {"spec", "template"}},
      {"apps/v1", "DaemonSet", {"spec", "template"}},
      {"batch/v1", "Job", {"spec", "template"}},
      {"batch/v1", "CronJob", {"spec", "jobTemplate", "spec", "template"}},
  };
  return kinds;
}

// The label Cilium derives from the pod's service account
// (inventory::kServiceAccountLabel), added to `labels`: `serviceAccountName`,
// else the deprecated `serviceAccount`, else "default", which the API
// server's admission fills in. False after an error.
bool addServiceAccount(Context& ctx, const YAML::Node& podSpec, const std::string& prefix, json& labels) {
  std::optional<std::string> given[2];  // serviceAccountName, serviceAccount
  const char* keys[2] = {"serviceAccountName", "serviceAccount"};
  for (int i = 0; i < 2; ++i) {
    YAML::Node node = ctx.get(podSpec, keys[i]);
    if (!node.IsDefined()) continue;
    auto name = ctx.string(node, prefix + "spec." + keys[i]);
    if (!name) return false;
    if (name->empty()) continue;
    // A service account's name is an object name; as a label value it may
    // have at most 63 characters.
    if (!ctx.checkName(node, *name, NameRule::ObjectName, prefix + "spec." + keys[i]) ||
        !ctx.checkName(node, *name, NameRule::LabelValue, prefix + "spec." + keys[i] + " (as a label value)"))
      return false;
    given[i] = *name;
  }
  std::string account = inventory::serviceAccountOf(given[0], given[1]);
  const char* key = inventory::kServiceAccountLabel;
  if (labels.contains(key) && labels[key] != account) {
    ctx.error(podSpec, "the pod's label " + std::string(key) + " is '" + labels[key].get<std::string>() +
                           "' but its service account is '" + account + "'",
              "remove the label: Cilium derives it from the service account");
    return false;
  }
  labels[key] = account;
  return true;
}

// Named container ports of a pod spec, as inventory port objects.
std::optional<json> readPorts(Context& ctx, const YAML::Node& podSpec) {
  json out = json::array();
  std::map<std::pair<std::string, std::string>, std::pair<int64_t, YAML::Node>> seen;
  YAML::Node containers = ctx.get(podSpec, "containers");
  if (!containers.IsDefined()) return out;
  if (!ctx.isSequence(containers, "spec.containers")) return std::nullopt;
  for (const auto& c : containers) {
    YAML::Node ports = ctx.get(c, "ports");
    if (!ports.IsDefined()) continue;
    if (!ctx.isSequence(ports, "containers[].ports")) return std::nullopt;
    for (const auto& p : ports) {
      YAML::Node name = ctx.get(p, "name");
      if (!name.IsDefined()) continue;  // unnamed ports cannot be referred to
      auto n = ctx.name(name, NameRule::PortName, "containers[].ports[].name");
      YAML::Node num = ctx.get(p, "containerPort");
      if (!n) return std::nullopt;
      if (!num.IsDefined()) {
        ctx.error(p, "container port '" + *n + "' has no `containerPort`");
        return std::nullopt;
      }
      auto v = ctx.integer(num, "containerPort");
      if (!v) return std::nullopt;
      if (*v < 1 || *v > 65535) {
        ctx.error(num, "containerPort " + std::to_string(*v) + " is out of range (1-65535)");
        return std::nullopt;
      }
      std::string proto = "TCP";
      if (YAML::Node pr = ctx.get(p, "protocol"); pr.IsDefined()) {
        auto s = ctx.string(pr, "containers[].ports[].protocol");
        if (!s) return std::nullopt;
        if (*s != "TCP" && *s != "UDP" && *s != "SCTP") {
          ctx.error(pr, "unknown protocol '" + *s + "' (expected TCP, UDP or SCTP)");
          return std::nullopt;
        }
        proto = *s;
      }
      auto [it, fresh] = seen.insert({{*n, proto}, {*v, name}});
      if (!fresh) {
        if (it->second.first != *v) {
          ctx.error(name, "port name '" + *n + "' (" + proto + ") is " + std::to_string(*v) + " here but " +
                              std::to_string(it->second.first) + " at " + ctx.where(it->second.second));
          return std::nullopt;
        }
        continue;
      }
      out.push_back({{"name", *n}, {"port", *v}, {"protocol", proto}});
    }
  }
  return out;
}

// An object's owner references and its controller among them
// (inventory/workload.h), or nullopt after an error.
struct Owners {
  std::vector<inventory::OwnerReference> refs;
  std::optional<size_t> controller;
};
std::optional<Owners> readOwners(Context& ctx, const ObjectRef& obj, bool firstIfNone) {
  Owners out;
  YAML::Node owners = ctx.get(ctx.get(obj.node, "metadata"), "ownerReferences");
  if (!owners.IsDefined()) return out;
  if (!ctx.isSequence(owners, "metadata.ownerReferences")) return std::nullopt;
  for (size_t i = 0; i < owners.size(); ++i) {
    YAML::Node o = owners[i];
    if (!ctx.isMap(o, "metadata.ownerReferences[]")) return std::nullopt;
    inventory::OwnerReference ref;
    YAML::Node n = ctx.get(o, "name");
    if (!n.IsDefined()) {
      ctx.error(o, "metadata.ownerReferences[]: `name` is required");
      return std::nullopt;
    }
    auto name = ctx.name(n, NameRule::ObjectName, "metadata.ownerReferences[].name");
    if (!name) return std::nullopt;
    ref.name = *name;
    if (YAML::Node k = ctx.get(o, "kind"); k.IsDefined()) {
      auto kind = ctx.string(k, "metadata.ownerReferences[].kind");
      if (!kind) return std::nullopt;
      ref.kind = *kind;
    }
    if (YAML::Node c = ctx.get(o, "controller"); c.IsDefined()) {
      auto b = ctx.boolean(c, "metadata.ownerReferences[].controller");
      if (!b) return std::nullopt;
      ref.controller = *b;
    }
    out.refs.push_back(std::move(ref));
  }
  std::optional<size_t> second;
  out.controller = inventory::controllerIndex(out.refs, firstIfNone, &second);
  if (second) {
    ctx.error(ctx.get(owners[*second], "controller"),
              "metadata.ownerReferences[].controller: a second owner marked controller (Kubernetes allows one)");
    return std::nullopt;
  }
  return out;
}

// The workload a pod belongs to, from its controller owner (as
// docs/inventory.md describes for kubectl output).
std::optional<std::string> podWorkload(Context& ctx, const ObjectRef& obj, const json& labelsJson) {
  auto owners = readOwners(ctx, obj, true);
  if (!owners) return std::nullopt;
  labels::LabelSet podLabels;
  for (const auto& [k, v] : labelsJson.items()) podLabels[k] = v.get<std::string>();
  return inventory::podWorkload(obj.name, podLabels, owners->controller ? &owners->refs[*owners->controller] : nullptr);
}

// The name of an object's controller (a ReplicaSet's Deployment, a Job's
// CronJob), so the object's template endpoint is known by that workload.
std::optional<std::string> controllerName(Context& ctx, const ObjectRef& obj) {
  auto owners = readOwners(ctx, obj, false);
  if (!owners) return std::nullopt;
  return owners->controller ? owners->refs[*owners->controller].name : obj.name;
}

}  // namespace

std::optional<json> readLabels(Context& ctx, const YAML::Node& labels, const std::string& what) {
  json out = json::object();
  if (!labels.IsDefined()) return out;
  if (!ctx.isMap(labels, what)) return std::nullopt;
  bool ok = true;
  for (auto it = labels.begin(); it != labels.end(); ++it) {
    // A null value is the empty string, as the API server reads it.
    auto k = ctx.name(it->first, NameRule::LabelKey, what + " key");
    auto v = it->second.IsNull() ? std::optional<std::string>("")
                                 : ctx.name(it->second, NameRule::LabelValue, what + " value");
    if (!k || !v) {
      ok = false;
      continue;
    }
    out[*k] = *v;  // no key twice: checkDocument
  }
  if (!ok) return std::nullopt;
  return out;
}

bool isWorkloadKind(const std::string& apiVersion, const std::string& kind) {
  for (const auto& k : workloadKinds())
    if (apiVersion == k.apiVersion && kind == k.kind) return true;
  return false;
}

void convertWorkload(Context& ctx, const ObjectRef& obj, InventoryBuilder& inv) {
  const Kind* kind = nullptr;
  for (const auto& k : workloadKinds())
    if (obj.apiVersion == k.apiVersion && obj.kind == k.kind) kind = &k;
  if (!kind) return;
  YAML::Node metadata = ctx.get(obj.node, "metadata");
  SourceRange here = ctx.at(obj.node);

  if (obj.kind == "Namespace") {
    auto labels = readLabels(ctx, ctx.get(metadata, "labels"), "metadata.labels");
    if (!labels) return;
    if (labels->contains("kubernetes.io/metadata.name") && (*labels)["kubernetes.io/metadata.name"] != obj.name) {
      ctx.error(ctx.get(metadata, "labels"),
                "label kubernetes.io/metadata.name must equal the namespace name '" + obj.name + "'");
      return;
    }
    if (auto prev = inv.namespaceAt.find(obj.name); prev != inv.namespaceAt.end()) {
      ctx.error(obj.node, "namespace '" + obj.name + "' is defined twice",
                "first defined at " + ctx.diags().sources().describe(prev->second.at.begin));
      return;
    }
    inv.namespaceAt[obj.name] = {here, obj.kind};
    inv.namespaces.push_back({{"name", obj.name}, {"labels", *labels}});
    return;
  }

  // A Pod itself, or the pod template of a workload.
  YAML::Node pod = obj.node;
  for (const char* step : kind->templatePath) pod = ctx.get(pod, step);
  if (!pod.IsDefined()) {
    ctx.error(obj.node, obj.kind + " " + obj.ns + "/" + obj.name + " has no pod template");
    return;
  }
  bool isPod = obj.kind == "Pod";
  std::string prefix = isPod ? "" : "pod template ";
  auto labels = readLabels(ctx, ctx.get(ctx.get(pod, "metadata"), "labels"), prefix + "metadata.labels");
  auto ports = readPorts(ctx, ctx.get(pod, "spec"));
  if (!labels || !ports) return;
  if (!addServiceAccount(ctx, ctx.get(pod, "spec"), prefix, *labels)) return;

  json endpoint = {{"name", obj.name}, {"namespace", obj.ns}, {"labels", *labels}, {"ports", *ports}};
  if (isPod) {
    auto workload = podWorkload(ctx, obj, *labels);
    if (!workload) return;
    endpoint["workload"] = *workload;
    inv.podWorkloads.insert(obj.ns + "/" + *workload);
    json addresses = json::array();
    YAML::Node status = ctx.get(obj.node, "status");
    YAML::Node podIPs = ctx.get(status, "podIPs");
    std::vector<YAML::Node> ips;
    if (podIPs.IsDefined() && ctx.isSequence(podIPs, "status.podIPs") && podIPs.size() > 0) {
      for (const auto& entry : podIPs) {
        if (YAML::Node ip = ctx.get(entry, "ip"); ip.IsDefined()) ips.push_back(ip);
      }
    } else if (YAML::Node ip = ctx.get(status, "podIP"); ip.IsDefined() && !(ip.IsScalar() && ip.Scalar().empty())) {
      ips.push_back(ip);
    }
    for (const auto& ip : ips) {
      auto s = ctx.string(ip, "pod IP");
      if (!s) return;
      if (!net::Address::parse(*s)) {
        ctx.error(ip, "'" + *s + "' is not an IPv4 or IPv6 address");
        return;
      }
      addresses.push_back(*s);
    }
    endpoint["addresses"] = addresses;
  } else {
    // The replicas of a template have no addresses at compile time; the
    // endpoint stands for all of them (docs/kubernetes.md).
    auto workload = controllerName(ctx, obj);
    if (!workload) return;
    endpoint["workload"] = *workload;
    endpoint["k8s.template"] = obj.kind;
  }
  std::string key = obj.ns + "/" + obj.name;
  if (auto prev = inv.endpointAt.find(key); prev != inv.endpointAt.end()) {
    ctx.error(obj.node,
              "endpoint " + key + " is defined twice: by this " + obj.kind + " and by the " + prev->second.kind +
                  " at " + ctx.diags().sources().describe(prev->second.at.begin));
    return;
  }
  inv.endpointAt[key] = {here, obj.kind};
  inv.endpoints.push_back(std::move(endpoint));
}

}  // namespace membrane::k8s
