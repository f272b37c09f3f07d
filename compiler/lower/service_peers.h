// Service peers → what they stand for, looked up in the inventory: the pods
// a service's selector picks, or the addresses of a service without one
// (docs/language.md, "Service peers"). Runs between the checker and
// lowering, so that everything after it (lowering, lint, the node's
// manifest) sees only pod selectors and CIDRs.
#pragma once

#include "inventory/inventory.h"
#include "sema/sema.h"
#include "support/diagnostics.h"

namespace membrane::lowering {

// Replaces every `service` peer in `checked` in place: a service with a
// selector by `pods { k = v, ... } in namespace NS`, one without by a
// `cidr` per address of its Endpoints (none: the peer matches nothing, with a
// warning); a peer by labels by each service it matches in the compile's
// inventory (none: a warning). A service named that the inventory lacks, or
// an ExternalName one, is an error at the peer. False after an error;
// `checked` is then not to be used.
bool resolveServicePeers(sema::CheckedProgram& checked, const inventory::Inventory& inventory,
                         DiagnosticEngine& diags);

// A `cidr ADDR/32` (or /128) peer standing for one address, written where
// `at` was: what a resolved peer (a service's endpoint, a node) becomes.
sema::PeerSpec addressPeer(const sema::PeerSpec& at, const net::Address& address);

}  // namespace membrane::lowering
