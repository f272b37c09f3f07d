// A case step through membranec's front end, as both runners need it: the
// step's manifests written to a file and read as `membranec check` reads
// them (Kubernetes objects converted on the fly).
#pragma once

#include <string>

#include "cases.h"
#include "pipeline/pipeline.h"

namespace membrane::conformance {

// Writes the step's input to `manifestsPath` and runs the pipeline into
// `comp`. `diagnostics` gets what membranec printed (diagnostics and input
// errors). False when the manifests were not accepted (no IR).
bool compileStep(const Topology& topology, const Step& step, const std::string& manifestsPath,
                 pipeline::Compilation& comp, std::string& diagnostics);

}  // namespace membrane::conformance
