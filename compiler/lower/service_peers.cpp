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

}  // namespace

PeerSpec addressPeer(const PeerSpec& at, const net::Address& address) {
  PeerSpec cidr;
  cidr.kind = PeerSpec::Kind::Cidr;
  cidr.cidr.prefix = net::Prefix{address, static_cast<uint8_t>(address.bits())};
  cidr.range = at.range;
  return cidr;
}

bool resolveServicePeers(sema::CheckedProgram& checked, const inventory::Inventory& inventory,
                         DiagnosticEngine& diags) {
  bool ok = true;
  // What one service stands for, appended to `out`; false after an error.
  auto resolveOne = [&](const PeerSpec& peer, const inventory::Service& service, std::vector<PeerSpec>& out) {
    if (!service.externalName.empty()) {
      diags.error(peer.range,
                  "service '" + service.key() + "' is of type ExternalName (" + service.externalName +
                      "): it has no endpoints to allow or deny",
                  "name its destination by DNS instead: `dns \"" + service.externalName + "\"`");
      return false;
    }
    if (service.selector) {
      out.push_back(podsOf(peer, service));
      return true;
    }
    if (service.addresses.empty())
      diags.warning(peer.range,
                    "service '" + service.key() + "' has no selector and no endpoint addresses: it matches nothing",
                    "a service without a selector stands for the addresses of its Endpoints or EndpointSlices; "
                    "give them as inputs (docs/inventory.md, \"Services\")");
    for (const auto& a : service.addresses) out.push_back(addressPeer(peer, a));
    return true;
  };
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
        if (!peer.service.empty() && peer.scope == ir::NamespaceScope::Exact) {
          const inventory::Service* service = inventory.findService(peer.ns, peer.service);
          if (!service) {
            diags.error(peer.range, "service '" + peer.ns + "/" + peer.service + "' is not in the inventory",
                        "give its Service manifest (with its Endpoints or EndpointSlices if it has no selector) as "
                        "an input, or list it in an inventory file's `services` (docs/inventory.md)");
            ok = false;
            continue;
          }
          ok &= resolveOne(peer, *service, resolved);
          continue;
        }
        // By name in several namespaces, or by labels: every service of the
        // inventory in the namespaces the peer names that has the name or
        // whose labels match, as the compile sees them.
        size_t matched = 0;
        for (const auto& service : inventory.services) {
          bool inScope = peer.scope == ir::NamespaceScope::Any ||
                         (peer.scope == ir::NamespaceScope::Exact && service.ns == peer.ns) ||
                         (peer.scope == ir::NamespaceScope::Selector &&
                          peer.namespaces.matches(inventory.namespaceLabels(service.ns)));
          bool picked = peer.service.empty() ? peer.services.matches(service.labels) : service.name == peer.service;
          if (!inScope || !picked) continue;
          ++matched;
          ok &= resolveOne(peer, service, resolved);
        }
        if (matched == 0 && !peer.service.empty()) {
          diags.error(peer.range, "no namespace this peer names has a service '" + peer.service + "' in the inventory",
                      "give its Service manifest as an input, or list it in an inventory file's `services` "
                      "(docs/inventory.md)");
          ok = false;
          continue;
        }
        if (matched == 0)
          diags.warning(peer.range, "no service of the inventory matches this peer: it matches nothing",
                        "a service selector picks Services by their own labels (metadata.labels), not their pods'");
      }
      rule.peers = std::move(resolved);
    }
  return ok;
}

}  // namespace membrane::lowering
