// See service_peers.h: a service peer becomes the pods or addresses it
// stands for.
#include "lower/service_peers.h"

#include <algorithm>

namespace membrane::lowering {

namespace {

using sema::PeerSpec;

// The service's selector as a pod selector in its namespace: every label
// equal, as a Service's `spec.selector` means.
PeerSpec podsOf(const PeerSpec& peer, const inventory::Service& service) {
  PeerSpec pods;
  pods.kind = PeerSpec::Kind::Pods;
  pods.scope = ir::NamespaceScope::Exact;
  pods.ns = service.ns;
  for (const auto& [key, value] : *service.selector)
    pods.pods.requirements.push_back({key, labels::Op::Equals, {value}});
  pods.pods.canonicalize();
  pods.range = peer.range;
  return pods;
}

PeerSpec cidrOf(const PeerSpec& peer, const net::Address& address) {
  PeerSpec cidr;
  cidr.kind = PeerSpec::Kind::Cidr;
  cidr.cidr.prefix = net::Prefix{address, static_cast<uint8_t>(address.bits())};
  cidr.range = peer.range;
  return cidr;
}

}  // namespace

bool resolveServicePeers(sema::CheckedProgram& checked, const inventory::Inventory& inventory,
                         DiagnosticEngine& diags) {
  bool ok = true;
  for (auto& policy : checked.policies)
    for (auto& rule : policy.rules) {
      if (std::none_of(rule.peers.begin(), rule.peers.end(),
                       [](const PeerSpec& p) { return p.kind == PeerSpec::Kind::Service; }))
        continue;
      std::vector<PeerSpec> resolved;
      for (auto& peer : rule.peers) {
        if (peer.kind != PeerSpec::Kind::Service) {
          resolved.push_back(std::move(peer));
          continue;
        }
        const std::string key = peer.ns + "/" + peer.service;
        const inventory::Service* service = inventory.findService(peer.ns, peer.service);
        if (!service) {
          diags.error(peer.range, "service '" + key + "' is not in the inventory",
                      "give its Service manifest (with its Endpoints or EndpointSlices if it has no selector) as "
                      "an input, or list it in an inventory file's `services` (docs/inventory.md)");
          ok = false;
          continue;
        }
        if (!service->externalName.empty()) {
          diags.error(peer.range,
                      "service '" + key + "' is of type ExternalName (" + service->externalName +
                          "): it has no endpoints to allow or deny",
                      "name its destination by DNS instead: `dns \"" + service->externalName + "\"`");
          ok = false;
          continue;
        }
        if (service->selector) {
          resolved.push_back(podsOf(peer, *service));
          continue;
        }
        if (service->addresses.empty())
          diags.warning(peer.range,
                        "service '" + key + "' has no selector and no endpoint addresses: this peer matches nothing",
                        "a service without a selector stands for the addresses of its Endpoints or EndpointSlices; "
                        "give them as inputs (docs/inventory.md, \"Services\")");
        for (const auto& a : service->addresses) resolved.push_back(cidrOf(peer, a));
      }
      rule.peers = std::move(resolved);
    }
  return ok;
}

}  // namespace membrane::lowering
