// See node_peers.h: a nodes peer becomes the addresses of the nodes it
// selects.
#include "lower/node_peers.h"

#include <algorithm>

#include "lower/service_peers.h"

namespace membrane::lowering {

using sema::PeerSpec;

bool resolveNodePeers(sema::CheckedProgram& checked, const inventory::Inventory& inventory,
                      DiagnosticEngine& diags) {
  for (auto& policy : checked.policies)
    for (auto& rule : policy.rules) {
      if (std::none_of(rule.peers.begin(), rule.peers.end(),
                       [](const PeerSpec& p) { return p.kind == PeerSpec::Kind::Nodes; }))
        continue;
      std::vector<PeerSpec> resolved;
      for (auto& peer : rule.peers) {
        if (peer.kind != PeerSpec::Kind::Nodes) {
          resolved.push_back(std::move(peer));
          continue;
        }
        // The addresses are the compile's: a node that joins later, or is
        // given a new address, is matched from the next compile on. An
        // address two nodes share is one CIDR (lowering drops repeats).
        size_t matched = 0, addresses = 0;
        for (const auto& node : inventory.nodes) {
          if (!peer.nodes.matches(node.labels)) continue;
          ++matched;
          addresses += node.addresses.size();
          for (const auto& a : node.addresses) resolved.push_back(addressPeer(peer, a));
        }
        // A peer that stands for nothing allows (or denies) nothing: the
        // author most likely forgot the Node objects, so say so rather than
        // compile a rule that silently never matches.
        if (matched == 0)
          diags.warning(peer.range, "no node of the inventory matches this peer: it matches nothing",
                        "a nodes peer stands for the addresses of the cluster's nodes: give the Node manifests "
                        "(`kubectl get nodes -o yaml`) or an inventory file's `nodes` list (docs/inventory.md)");
        else if (addresses == 0)
          diags.warning(peer.range,
                        "the nodes this peer matches have no addresses in the inventory: it matches nothing",
                        "a node stands for its InternalIP and ExternalIP addresses (status.addresses), or the "
                        "`addresses` of its inventory entry");
      }
      rule.peers = std::move(resolved);
    }
  return true;
}

}  // namespace membrane::lowering
