// The "before templating" model of section 3: a class's whole datapath as
// one C file, the skeleton included and the decision written out as plain C
// from the IR (one `if` per rule, in verdict order), for clang to compile per
// endpoint the way Cilium compiled one program per endpoint.
#pragma once

#include <string>

#include "ir/ir.h"

namespace membrane::bench {

// Throws std::runtime_error for audit-mode rules, which the model leaves out.
std::string plainCDecision(const ir::Program& program, const ir::EndpointClass& cls);

}  // namespace membrane::bench
