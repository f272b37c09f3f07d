#include "front_end.h"

#include <sstream>

namespace membrane::conformance {

bool compileStep(const Topology& topology, const Step& step, const std::string& manifestsPath,
                 driver::Compilation& comp, std::string& diagnostics) {
  writeManifests(manifestsPath, stepInput(topology, step));
  driver::Inputs inputs;
  inputs.paths = {manifestsPath};
  driver::run(inputs, comp);
  std::ostringstream out;
  comp.diags.print(out, false);
  for (const auto& e : comp.inputErrors) out << e << "\n";
  diagnostics = out.str();
  return comp.outcome() == driver::Outcome::Ok && comp.ir && comp.checked;
}

}  // namespace membrane::conformance
