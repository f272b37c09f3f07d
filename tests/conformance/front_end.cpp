#include "front_end.h"

#include <sstream>

namespace membrane::conformance {

bool compileStep(const Topology& topology, const Step& step, const std::string& manifestsPath,
                 pipeline::Compilation& comp, std::string& diagnostics) {
  writeManifests(manifestsPath, stepInput(topology, step));
  pipeline::Inputs inputs;
  inputs.paths = {manifestsPath};
  pipeline::run(inputs, comp);
  std::ostringstream out;
  comp.diags.print(out, false);
  for (const auto& e : comp.inputErrors) out << e << "\n";
  diagnostics = out.str();
  return comp.outcome() == pipeline::Outcome::Ok && comp.ir && comp.checked;
}

}  // namespace membrane::conformance
