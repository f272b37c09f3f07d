// The front half of every membranec command, as a plain list of stages:
//   load files → parse → check → (with an inventory) lower to IR.
// Each stage reports all its errors; the pipeline stops after the first
// stage that had any, so later stages only ever see valid input.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "frontend/ast.h"
#include "inventory/inventory.h"
#include "ir/ir.h"
#include "sema/sema.h"
#include "support/diagnostics.h"

namespace membrane::pipeline {

enum class Outcome { Ok, PolicyErrors, InputErrors };

struct Inputs {
  // Policy files, Kubernetes manifests (converted on the fly, see
  // docs/kubernetes.md) or directories searched for both.
  std::vector<std::string> paths;
  std::vector<std::string> inventory;  // inventory JSON files
  // --skip-kind: policy kinds membrane does not enforce, skipped with a
  // warning instead of refused (k8s::ImportOptions::skipKinds).
  std::vector<std::string> skipKinds = {};
};

struct Compilation {
  SourceManager sources;
  DiagnosticEngine diags{sources};
  std::vector<std::string> files;  // policy files and manifests, in the order loaded
  inventory::Inventory inventory;
  ast::Program ast;
  std::optional<sema::CheckedProgram> checked;
  std::optional<ir::Program> ir;
  std::vector<std::string> inputErrors;  // I/O and inventory problems

  Outcome outcome() const;
};

// Expands directories into their *.policy files (recursively, sorted) and
// keeps files as given. Missing paths are input errors.
std::vector<std::string> expandPolicyPaths(const std::vector<std::string>& paths, std::vector<std::string>& errors);

// `paths` without the ones that name a file named before: equal after
// `canonical` (weakly_canonical for files), the first one kept, in order.
std::vector<std::string> uniquePaths(const std::vector<std::string>& paths,
                                     const std::function<std::string(const std::string&)>& canonical);

// Like expandPolicyPaths, but directories also yield Kubernetes manifests
// (*.yaml, *.yml, and *.json files with `apiVersion` or `kind`; see
// k8s::isManifestPath).
std::vector<std::string> expandInputPaths(const std::vector<std::string>& paths, std::vector<std::string>& errors);

// *.yaml, *.yml and *.json: what may be a Kubernetes manifest, by name alone.
bool hasManifestExtension(const std::string& path);

// Loads one input path into `sources`: a Kubernetes manifest (*.yaml, *.yml,
// *.json) up to kMaxManifestFileBytes, anything else as a policy file up to
// kMaxPolicyFileBytes. Paths that are not regular files are refused.
std::optional<FileId> loadInput(SourceManager& sources, const std::string& path, std::string* error);

// Runs the stages up to and including IR lowering (always run; without an
// inventory the IR has classes for no endpoints).
void run(const Inputs& inputs, Compilation& c);

// Parses, checks and lowers policy files already loaded into c.sources.
void runLoaded(const std::vector<FileId>& ids, Compilation& c);

// Parses policy text held in memory; for tests and the fuzzer.
void runText(const std::vector<std::pair<std::string, std::string>>& files, Compilation& c);

// Like run on Kubernetes manifests, held in memory; for tests and the fuzzer.
void runManifestText(const std::vector<std::pair<std::string, std::string>>& files, Compilation& c,
                     const std::vector<std::string>& skipKinds = {});

}  // namespace membrane::pipeline
