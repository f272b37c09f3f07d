// See pipeline.h: the front half of every command, stage by stage.
#include "pipeline/pipeline.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "features/registry/registry.h"
#include "frontend/parser.h"
#include "k8s/import.h"
#include "lower/lower.h"
#include "lower/node_peers.h"
#include "lower/service_peers.h"

namespace membrane::pipeline {

namespace fs = std::filesystem;

Outcome Compilation::outcome() const {
  if (!inputErrors.empty()) return Outcome::InputErrors;
  if (diags.hasErrors()) return Outcome::PolicyErrors;
  return Outcome::Ok;
}

namespace {

std::vector<std::string> expandPaths(const std::vector<std::string>& paths, std::vector<std::string>& errors,
                                     bool manifests) {
  std::vector<std::string> out;
  for (const auto& p : paths) {
    std::error_code ec;
    auto status = fs::status(p, ec);
    if (ec || !fs::exists(status)) {
      errors.push_back("cannot open '" + p + "': no such file or directory");
      continue;
    }
    if (!fs::is_directory(status)) {
      out.push_back(p);
      continue;
    }
    std::vector<std::string> found;
    for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      if (it->path().extension() == ".policy" || (manifests && k8s::isManifestPath(it->path().string())))
        found.push_back(it->path().string());
    }
    if (ec) errors.push_back("cannot read directory '" + p + "': " + ec.message());
    std::sort(found.begin(), found.end());
    if (found.empty() && !ec)
      errors.push_back("no *.policy files in '" + p + "'" + (manifests ? " (nor Kubernetes manifests)" : ""));
    out.insert(out.end(), found.begin(), found.end());
  }
  // The same file named twice (e.g. a file and its directory) is read once.
  return uniquePaths(out, [](const std::string& path) {
    std::error_code ec;
    fs::path canon = fs::weakly_canonical(path, ec);
    return ec ? path : canon.string();
  });
}

}  // namespace

std::vector<std::string> uniquePaths(const std::vector<std::string>& paths,
                                     const std::function<std::string(const std::string&)>& canonical) {
  std::vector<std::string> unique;
  std::set<std::string> seen;
  for (const auto& f : paths)
    if (seen.insert(canonical(f)).second) unique.push_back(f);
  return unique;
}

std::vector<std::string> expandPolicyPaths(const std::vector<std::string>& paths, std::vector<std::string>& errors) {
  return expandPaths(paths, errors, false);
}

std::vector<std::string> expandInputPaths(const std::vector<std::string>& paths, std::vector<std::string>& errors) {
  return expandPaths(paths, errors, true);
}

bool hasManifestExtension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

std::optional<FileId> loadInput(SourceManager& sources, const std::string& path, std::string* error) {
  // By name, not content: reading a file to classify it would read a FIFO
  // before it is refused.
  if (hasManifestExtension(path))
    return sources.load(path, error, kMaxManifestFileBytes, "a Kubernetes manifest");
  return sources.load(path, error);
}

namespace {

// Policies converted from Kubernetes manifests, as one generated file.
struct Converted {
  FileId file = kNoFile;
  std::vector<k8s::ImportedPolicy> policies;
};

void parseAndLower(Compilation& c, const std::vector<FileId>& ids, const Converted& converted = {}) {
  // Stage 1: parse every file, so all syntax errors are reported at once.
  for (FileId id : ids) {
    if (auto file = frontend::parseFile(id, c.sources, c.diags)) c.ast.files.push_back(std::move(*file));
  }
  if (c.diags.hasErrors()) return;
  // The converted text must read back as exactly the policies the manifests
  // give: a manifest string that changed its structure is refused here, not
  // compiled (k8s::verifyParsed).
  for (const auto& f : c.ast.files) {
    if (f.id != converted.file) continue;
    if (std::string why = k8s::verifyParsed(converted.policies, f); !why.empty()) {
      c.diags
          .error(SourceRange{c.sources.locate(f.id, 0), 0},
                 "internal error: the policies converted from Kubernetes manifests do not read back as "
                 "converted: " + why)
          .internal = true;
      return;
    }
  }
  // Stage 2: check.
  c.checked = sema::check(c.ast, c.sources, c.diags);
  if (!c.checked) return;
  // Stage 2b: every condition of every rule can be enforced where it runs.
  const features::Target target = features::endpointTarget();
  bool enforceable = true;
  for (const auto& pol : c.checked->policies)
    for (const auto& rule : pol.rules)
      enforceable &= features::checkEnforceable(rule.conditions, rule.text, pol.key(), rule.range, target, c.diags);
  if (!enforceable) return;
  // Stage 2c: service peers become the pods or addresses the inventory
  // says they stand for, and node peers their nodes' addresses.
  if (!lowering::resolveServicePeers(*c.checked, c.inventory, c.diags)) return;
  if (!lowering::resolveNodePeers(*c.checked, c.inventory, c.diags)) return;
  // Stage 3: lower.
  c.ir = lowering::lower(*c.checked, c.inventory, c.sources, c.diags);
  if (!c.ir) return;
  // Stage 3b: what holds between rules of different policies once they meet
  // in a class: http and process rules do not share a direction of one class
  // yet (docs/process.md, "Limits"). Reported at the process rule, the http
  // rule in a note, rather than by code generation without a location.
  for (const auto& cls : c.ir->classes)
    for (const auto* dir : {&cls.ingress, &cls.egress}) {
      const ir::Rule *http = nullptr, *process = nullptr;
      for (const auto& r : dir->rules) {
        if (!http && r.condition<ir::HttpCondition>()) http = &r;
        if (!process && r.condition<ir::ProcessCondition>()) process = &r;
      }
      if (!http || !process) continue;
      auto text = [&](const ir::Rule& r) {
        auto it = c.ir->rules.find(r.id);
        return it == c.ir->rules.end() ? std::string("?") : it->second.text;
      };
      auto& d = c.diags.error(process->loc,
                              "rule `" + text(*process) + "` of policy " + process->policy +
                                  " has a process condition, and rule `" + text(*http) + "` of policy " +
                                  http->policy + " an http condition, for the same endpoints (" +
                                  (cls.endpoints.empty() ? std::string("none yet") : cls.endpoints.front()) +
                                  (cls.endpoints.size() > 1 ? ", ..." : "") + ")",
                              "http and process rules cannot share a direction of one endpoint yet: the socket "
                              "layer and the socket calls do not share a verdict");
      d.notes.push_back({Severity::Note, http->loc, "the http rule is here", "", {}});
    }
}

// Manifests become one generated policy file whose lines map back to the
// YAML nodes, and inventory entries (docs/kubernetes.md).
void runWithManifests(Compilation& c, std::vector<FileId> ids, const std::vector<FileId>& manifests,
                      const std::vector<std::string>& skipKinds) {
  Converted converted;
  if (!manifests.empty()) {
    k8s::ImportResult imported =
        k8s::importManifests(manifests, c.sources, c.diags, {.noteSkipped = false, .skipKinds = skipKinds});
    if (c.diags.hasErrors()) return;
    std::string error;
    if (imported.hasInventory() &&
        !inventory::loadInventoryText("Kubernetes manifests", imported.inventory.dump(), c.inventory, &error)) {
      c.inputErrors.push_back(error);
      return;
    }
    if (!imported.policies.empty()) {
      k8s::GeneratedText generated = k8s::renderForCompiler(imported.policies);
      converted.file = c.sources.add("<policies converted from Kubernetes manifests>", std::move(generated.text));
      c.sources.setLineOrigins(converted.file, std::move(generated.origins));
      converted.policies = std::move(imported.policies);
      ids.push_back(converted.file);
    }
  }
  parseAndLower(c, ids, converted);
}

}  // namespace

void run(const Inputs& inputs, Compilation& c) {
  c.files = expandInputPaths(inputs.paths, c.inputErrors);
  for (const auto& inv : inputs.inventory) {
    std::string error;
    std::string ext = fs::path(inv).extension().string();
    if (ext == ".yaml" || ext == ".yml") {
      c.inputErrors.push_back("'" + inv + "' is a Kubernetes manifest, not an inventory: give it as a path, without -i");
    } else if (!inventory::loadInventoryFile(inv, c.inventory, &error)) {
      c.inputErrors.push_back(error);
    }
  }
  std::vector<FileId> ids, manifests;
  for (const auto& f : c.files) {
    std::string error;
    if (auto id = loadInput(c.sources, f, &error)) {
      (k8s::isManifestPath(f) ? manifests : ids).push_back(*id);
    } else {
      c.inputErrors.push_back(error);
    }
  }
  if (!c.inputErrors.empty()) return;
  runWithManifests(c, ids, manifests, inputs.skipKinds);
}

void runManifestText(const std::vector<std::pair<std::string, std::string>>& files, Compilation& c,
                     const std::vector<std::string>& skipKinds) {
  std::vector<FileId> manifests;
  for (const auto& [path, text] : files) {
    c.files.push_back(path);
    manifests.push_back(c.sources.add(path, text));
  }
  runWithManifests(c, {}, manifests, skipKinds);
}

void runLoaded(const std::vector<FileId>& ids, Compilation& c) { parseAndLower(c, ids); }

void runText(const std::vector<std::pair<std::string, std::string>>& files, Compilation& c) {
  std::vector<FileId> ids;
  for (const auto& [path, text] : files) {
    c.files.push_back(path);
    ids.push_back(c.sources.add(path, text));
  }
  parseAndLower(c, ids);
}

}  // namespace membrane::pipeline
