#include "driver/cmd_import.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "driver/command_support.h"
#include "k8s/import.h"
#include "pipeline/pipeline.h"
#include "support/text.h"

namespace membrane::driver {

namespace {

namespace fs = std::filesystem;

struct ImportOptions {
  std::vector<std::string> paths;
  std::string outputDir;
  std::vector<std::string> skipKinds;
  std::string color = "auto";
  bool quiet = false;
};

bool writeFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out.flush());
}

int runImport(const ImportOptions& opts) {
  bool color = useColor(opts.color);
  pipeline::Compilation c;
  std::vector<std::string> errors;
  std::vector<std::string> files = pipeline::expandInputPaths(opts.paths, errors);
  std::vector<FileId> ids;
  for (const auto& f : files) {
    // Loaded before a *.json is read to tell a manifest from other JSON, so
    // that a FIFO or a device is refused before anything reads it.
    std::string error;
    std::optional<FileId> id;
    if (pipeline::hasManifestExtension(f) && !(id = pipeline::loadInput(c.sources, f, &error))) {
      errors.push_back(error);
    } else if (!id || !k8s::isManifestPath(f)) {
      errors.push_back("'" + f +
                       "' is not a Kubernetes manifest (*.yaml, *.yml, or *.json with apiVersion/kind) nor a "
                       "Cilium rule array (*.json holding an array of rules)");
    } else {
      ids.push_back(*id);
    }
  }
  auto fail = [&](int rc) {
    for (const auto& e : errors) std::cerr << "membranec: error: " << e << "\n";
    c.diags.print(std::cerr, color);
    return rc;
  };
  if (!errors.empty()) return fail(kExitInputErrors);

  k8s::ImportResult result = k8s::importManifests(ids, c.sources, c.diags, {.skipKinds = opts.skipKinds});
  if (c.diags.hasErrors()) return fail(kExitPolicyErrors);
  // Check the converted policies like `membranec check` would, so problems
  // the converter passes on (a CIDR with host bits, a named port no pod
  // defines) are reported at the manifest before anything is written.
  std::string error;
  if (result.hasInventory() &&
      !inventory::loadInventoryText("Kubernetes manifests", result.inventory.dump(), c.inventory, &error)) {
    errors.push_back(error);
    return fail(kExitInputErrors);
  }
  k8s::GeneratedText generated = k8s::renderForCompiler(result.policies);
  FileId generatedId = c.sources.add("<converted policies>", std::move(generated.text));
  c.sources.setLineOrigins(generatedId, std::move(generated.origins));
  pipeline::runLoaded({generatedId}, c);
  if (c.diags.hasErrors()) return fail(kExitPolicyErrors);

  // One file per namespace; clusterwide policies in _clusterwide.policy
  // (no namespace name starts with '_').
  std::map<std::string, std::vector<k8s::ImportedPolicy>> byFile;
  for (const auto& p : result.policies)
    byFile[p.clusterwide ? "_clusterwide.policy" : p.ns + ".policy"].push_back(p);
  std::map<std::string, std::string> outputs;
  try {
    for (const auto& [name, policies] : byFile) {
      std::string comment = "Converted from Kubernetes manifests by `membranec import k8s`.";
      outputs[name] = k8s::renderForOutput(policies, comment);
    }
  } catch (const std::exception& e) {
    std::cerr << "membranec: internal error: " << e.what() << "\n";
    return kExitInputErrors;
  }
  if (result.hasInventory()) outputs["inventory.json"] = result.inventory.dump(2) + "\n";

  c.diags.print(std::cerr, color);
  if (opts.outputDir.empty() || opts.outputDir == "-") {
    for (const auto& [name, text] : outputs)
      if (name.ends_with(".policy")) std::cout << text;
    if (result.hasInventory() && !opts.quiet)
      std::cerr << "membranec: note: inventory.json is written only with -o DIR\n";
  } else {
    std::error_code ec;
    fs::create_directories(opts.outputDir, ec);
    if (ec) {
      std::cerr << "membranec: error: cannot create '" << opts.outputDir << "': " << ec.message() << "\n";
      return kExitInputErrors;
    }
    for (const auto& [name, text] : outputs) {
      if (!writeFile(fs::path(opts.outputDir) / name, text)) {
        std::cerr << "membranec: error: cannot write '" << (fs::path(opts.outputDir) / name).string() << "'\n";
        return kExitInputErrors;
      }
    }
  }
  if (!opts.quiet) {
    size_t endpoints = result.inventory["endpoints"].size(), namespaces = result.inventory["namespaces"].size();
    std::cerr << "imported " << plural(result.objects, "object", "objects") << " from "
              << plural(ids.size(), "file", "files") << ": " << plural(result.policies.size(), "policy", "policies")
              << ", " << plural(endpoints, "endpoint", "endpoints") << ", "
              << plural(namespaces, "namespace", "namespaces");
    if (result.inventory.contains("services"))
      std::cerr << ", " << plural(result.inventory["services"].size(), "service", "services");
    if (result.inventory.contains("nodes"))
      std::cerr << ", " << plural(result.inventory["nodes"].size(), "node", "nodes");
    std::cerr << "; " << result.skipped << " skipped";
    if (!opts.outputDir.empty() && opts.outputDir != "-")
      std::cerr << "; wrote " << plural(outputs.size(), "file", "files") << " to " << opts.outputDir;
    std::cerr << "\n";
  }
  return kExitOk;
}

}  // namespace

ImportCommand addImportCommand(CLI::App& app) {
  auto opts = std::make_shared<ImportOptions>();
  auto* import = app.add_subcommand("import", "Convert policies from other systems into membrane policies");
  import->require_subcommand(1);
  auto* k8sCmd = import->add_subcommand(
      "k8s",
      "Kubernetes manifests (NetworkPolicy, Cilium policies and rule arrays, Namespaces, Pods, workloads) → policies "
      "+ inventory");
  k8sCmd->add_option("paths", opts->paths,
                     "Manifest files (YAML, multi-document, or JSON; also Cilium rule arrays in *.json), or "
                     "directories searched recursively for *.yaml, *.yml and *.json manifests")
      ->required()
      ->type_name("FILES|DIRS");
  k8sCmd->add_option("-o,--output", opts->outputDir,
                     "Write NAMESPACE.policy per namespace, _clusterwide.policy and inventory.json here "
                     "(created if missing; other files are left alone). Default: policies to standard output")
      ->type_name("DIR");
  addSkipKindOption(k8sCmd, opts->skipKinds);
  addColorOption(k8sCmd, opts->color);
  k8sCmd->add_flag("-q,--quiet", opts->quiet, "Print diagnostics only, no summary");
  k8sCmd->footer(
      "Every object of a kind membrane does not model (Service, ConfigMap, ...) is skipped with a note;\n"
      "one of a policy kind membrane does not enforce (Calico, Istio, ...) is an error\n"
      "unless --skip-kind names it.\n"
      "What cannot be converted exactly (L7 rules, toFQDNs, nodeSelector, ...) is an error at the manifest\n"
      "line; nothing is written then. The mapping is in docs/kubernetes.md. The manifests can also be given\n"
      "directly to check, compile, ir and reach, which convert them on the fly.\n"
      "Exit codes: 0 converted, 1 errors in the manifests, 2 usage or I/O errors.\n\n"
      "Example:\n  membranec import k8s -o policies/ manifests/\n  membranec check policies/");
  return {k8sCmd, [opts] { return runImport(*opts); }};
}

}  // namespace membrane::driver
