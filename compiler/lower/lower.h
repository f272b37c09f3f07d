// Checked policies + inventory → policy IR: selector bits, identities,
// endpoint classes and normalized per-direction rule lists.
#pragma once

#include "inventory/inventory.h"
#include "ir/ir.h"
#include "sema/sema.h"
#include "support/diagnostics.h"

namespace membrane::lowering {

// Never fails on checked input; reports warnings (e.g. a named port no
// endpoint defines) to `diags`.
ir::Program lower(const sema::CheckedProgram& checked, const inventory::Inventory& inventory,
                  const SourceManager& sources, DiagnosticEngine& diags);

}  // namespace membrane::lowering
