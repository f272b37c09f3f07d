// Process, printing (process.h): the condition in `membranec ir`, as JSON
// and as text (as it would be written).
#include "features/process/process.h"

namespace membrane::features::process {

void printJson(const ir::Rule& rule, nlohmann::json& out) {
  if (const auto* c = rule.condition<ir::ProcessCondition>()) out[kName] = {{"executables", c->executables}};
}

std::string describe(const ir::Rule& rule) {
  const auto* c = rule.condition<ir::ProcessCondition>();
  if (!c) return "";
  std::string out = " with process { ";
  for (size_t i = 0; i < c->executables.size(); ++i) out += (i ? ", exe \"" : "exe \"") + c->executables[i] + "\"";
  return out + " }";
}

}  // namespace membrane::features::process
