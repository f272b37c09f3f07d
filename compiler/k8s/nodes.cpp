// Node objects (v1, cluster-scoped) → the inventory's `nodes`: what a
// `nodes { ... }` peer, or an AdminNetworkPolicy's `nodes` peer, stands for
// (docs/kubernetes.md, "Inventory"). Only the name, the labels and the
// addresses other machines reach the node at are read; the rest of a Node
// (capacity, conditions, images, ...) says nothing about who it is.
#include "k8s/convert.h"
#include "net/address.h"

namespace membrane::k8s {

using nlohmann::json;

bool isNodeKind(const std::string& apiVersion, const std::string& kind) {
  return apiVersion == "v1" && kind == "Node";
}

void convertNode(Context& ctx, const ObjectRef& obj, InventoryBuilder& inv) {
  YAML::Node metadata = ctx.get(obj.node, "metadata");
  auto labels = readLabels(ctx, ctx.get(metadata, "labels"), "metadata.labels");
  if (!labels) return;
  // Canonical text, so that `2001:2::0:1` and `2001:2::1` are one address.
  std::set<std::string> addresses;
  YAML::Node status = ctx.get(obj.node, "status");
  YAML::Node list = ctx.get(status, "addresses");
  if (list.IsDefined()) {
    if (!ctx.isSequence(list, "status.addresses")) return;
    bool ok = true;
    for (const auto& entry : list) {
      if (!ctx.isMap(entry, "status.addresses[]")) return;
      // Hostname, InternalDNS and ExternalDNS name the node rather than
      // address it: a peer by address has no use for them.
      YAML::Node typeNode = ctx.get(entry, "type");
      if (!typeNode.IsDefined()) {
        ctx.error(entry, "status.addresses[]: `type` is required (InternalIP, ExternalIP, Hostname, ...)");
        ok = false;
        continue;
      }
      auto type = ctx.string(typeNode, "status.addresses[].type");
      if (!type) {
        ok = false;
        continue;
      }
      if (*type != "InternalIP" && *type != "ExternalIP") continue;
      YAML::Node addressNode = ctx.get(entry, "address");
      if (!addressNode.IsDefined()) {
        ctx.error(entry, "status.addresses[]: an address of type " + *type + " has no `address`");
        ok = false;
        continue;
      }
      auto text = ctx.string(addressNode, "status.addresses[].address");
      if (!text) {
        ok = false;
        continue;
      }
      auto address = net::Address::parse(*text);
      if (!address) {
        ctx.error(addressNode, "'" + shown(*text) + "' is not an IPv4 or IPv6 address");
        ok = false;
        continue;
      }
      addresses.insert(address->str());
    }
    if (!ok) return;
  }
  // A node defined twice is caught where every object is (import.cpp), by
  // kind and name.
  inv.nodes.push_back({{"name", obj.name},
                       {"labels", *labels},
                       {"addresses", json(std::vector<std::string>(addresses.begin(), addresses.end()))}});
}

}  // namespace membrane::k8s
