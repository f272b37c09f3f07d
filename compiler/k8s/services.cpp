// Service, Endpoints and EndpointSlice objects → the inventory's `services`
// (docs/kubernetes.md, "Services as peers"): what a `service` peer or a
// Cilium `toServices` stands for.
#include "k8s/convert.h"
#include "net/address.h"

namespace membrane::k8s {

using nlohmann::json;

namespace {

// One IP of an Endpoints subset or an EndpointSlice endpoint; false after an
// error.
bool readAddress(Context& ctx, const YAML::Node& node, const std::string& what, std::set<std::string>& out) {
  auto text = ctx.string(node, what);
  if (!text) return false;
  auto address = net::Address::parse(*text);
  if (!address) {
    ctx.error(node, "'" + shown(*text) + "' is not an IPv4 or IPv6 address");
    return false;
  }
  out.insert(address->str());
  return true;
}

void readService(Context& ctx, const ObjectRef& obj, InventoryBuilder::ServiceParts& parts) {
  YAML::Node metadata = ctx.get(obj.node, "metadata");
  YAML::Node spec = ctx.get(obj.node, "spec");
  auto labels = readLabels(ctx, ctx.get(metadata, "labels"), "metadata.labels");
  auto selector = readLabels(ctx, ctx.get(spec, "selector"), "spec.selector");
  if (!labels || !selector) return;
  json entry = {{"name", obj.name}, {"namespace", obj.ns}, {"labels", *labels}};
  std::string type = "ClusterIP";
  if (YAML::Node t = ctx.get(spec, "type"); t.IsDefined()) {
    auto s = ctx.string(t, "spec.type");
    if (!s) return;
    type = *s;
  }
  if (type == "ExternalName") {
    YAML::Node external = ctx.get(spec, "externalName");
    if (!external.IsDefined()) {
      ctx.error(spec, "Service " + obj.ns + "/" + obj.name + " of type ExternalName has no `externalName`");
      return;
    }
    auto name = ctx.string(external, "spec.externalName");
    if (!name) return;
    if (name->empty()) {
      ctx.error(external, "`externalName` is empty");
      return;
    }
    entry["externalName"] = *name;
  } else if (!selector->empty()) {
    entry["selector"] = *selector;
  }
  parts.service = std::move(entry);
}

void readEndpoints(Context& ctx, const ObjectRef& obj, InventoryBuilder::ServiceParts& parts) {
  YAML::Node subsets = ctx.get(obj.node, "subsets");
  if (!subsets.IsDefined()) return;
  if (!ctx.isSequence(subsets, "subsets")) return;
  for (const auto& subset : subsets)
    // Not-ready backends belong to the service too: a pod turning ready
    // must not change what the policy allows.
    for (const char* list : {"addresses", "notReadyAddresses"}) {
      YAML::Node addresses = ctx.get(subset, list);
      if (!addresses.IsDefined()) continue;
      if (!ctx.isSequence(addresses, std::string("subsets[].") + list)) return;
      for (const auto& a : addresses)
        if (!readAddress(ctx, ctx.get(a, "ip"), std::string("subsets[].") + list + "[].ip", parts.addresses)) return;
    }
}

void readEndpointSlice(Context& ctx, const ObjectRef& obj, InventoryBuilder& inv) {
  YAML::Node labels = ctx.get(ctx.get(obj.node, "metadata"), "labels");
  YAML::Node owner = ctx.get(labels, "kubernetes.io/service-name");
  if (!owner.IsDefined()) {
    ctx.error(obj.node, "EndpointSlice " + obj.ns + "/" + obj.name +
                            " has no label kubernetes.io/service-name: which service it belongs to is unknown");
    return;
  }
  auto service = ctx.name(owner, NameRule::ObjectName, "label kubernetes.io/service-name");
  if (!service) return;
  if (YAML::Node type = ctx.get(obj.node, "addressType"); type.IsDefined()) {
    auto t = ctx.string(type, "addressType");
    if (!t) return;
    if (*t == "FQDN") {
      ctx.error(type, "EndpointSlice with addressType FQDN: a service whose endpoints are DNS names cannot be a "
                      "peer by address",
                "name the destination by DNS instead (`to dns \"NAME\"`)");
      return;
    }
  }
  auto& parts = inv.services[obj.ns + "/" + *service];
  YAML::Node endpoints = ctx.get(obj.node, "endpoints");
  if (!endpoints.IsDefined()) return;
  if (!ctx.isSequence(endpoints, "endpoints")) return;
  for (const auto& e : endpoints) {
    YAML::Node addresses = ctx.get(e, "addresses");
    if (!addresses.IsDefined()) continue;
    if (!ctx.isSequence(addresses, "endpoints[].addresses")) return;
    for (const auto& a : addresses)
      if (!readAddress(ctx, a, "endpoints[].addresses[]", parts.addresses)) return;
  }
}

}  // namespace

bool isServiceKind(const std::string& apiVersion, const std::string& kind) {
  return (apiVersion == "v1" && (kind == "Service" || kind == "Endpoints")) ||
         (apiVersion == "discovery.k8s.io/v1" && kind == "EndpointSlice");
}

void convertServicePart(Context& ctx, const ObjectRef& obj, InventoryBuilder& inv) {
  if (obj.kind == "Service")
    readService(ctx, obj, inv.services[obj.ns + "/" + obj.name]);
  else if (obj.kind == "Endpoints")
    readEndpoints(ctx, obj, inv.services[obj.ns + "/" + obj.name]);
  else
    readEndpointSlice(ctx, obj, inv);
}

json finishServices(const InventoryBuilder& inv) {
  json out = json::array();
  for (const auto& [key, parts] : inv.services) {
    json entry = parts.service;
    if (entry.is_null()) {
      // Endpoints without their Service: the addresses still name it.
      auto slash = key.find('/');
      entry = {{"name", key.substr(slash + 1)}, {"namespace", key.substr(0, slash)}};
    }
    // A service with a selector (or an ExternalName) has no addresses of its
    // own: its Endpoints are derived from the pods it selects.
    if (!entry.contains("selector") && !entry.contains("externalName"))
      entry["addresses"] = json(std::vector<std::string>(parts.addresses.begin(), parts.addresses.end()));
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace membrane::k8s
