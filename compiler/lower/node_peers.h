// Node peers → the addresses of the nodes they name, looked up in the
// inventory (docs/language.md, "Node peers"). Runs between the checker and
// lowering, beside the service peers, so that everything after it
// (lowering, lint, the node's manifest) sees only CIDRs.
#pragma once

#include "inventory/inventory.h"
#include "sema/sema.h"
#include "support/diagnostics.h"

namespace membrane::lowering {

// Replaces every `nodes` peer in `checked` in place by a one-address `cidr`
// (/32 or /128) per address of each inventory node whose labels match its
// selector; a peer that matches no node, or only nodes without addresses,
// matches nothing, with a warning at the peer. Never fails: true, for
// symmetry with resolveServicePeers.
bool resolveNodePeers(sema::CheckedProgram& checked, const inventory::Inventory& inventory,
                      DiagnosticEngine& diags);

}  // namespace membrane::lowering
