// libFuzzer target: arbitrary bytes as Kubernetes manifest files through the
// import (compiler/k8s) and through the pipeline that compiles manifests
// directly, so the generated policy text is parsed, checked and lowered too.
//
// A NUL byte splits the input into several manifest files (a NUL is refused
// inside a manifest anyway), so cross-file duplicates and name collisions are
// reachable. A file that starts with `[` is named *.json and so read as a
// Cilium rule array; the others *.yaml. Each input runs two ways:
//   1. as `membranec import k8s` does: importManifests, then every output
//      file rendered (renderForOutput, which parses its text again) and
//      parsed once more here, and the inventory serialized;
//   2. as `membranec check` does on manifests: pipeline::runManifestText, with
//      the diagnostics printed and, when it compiles, the IR serialized.
//
// A bug is: a crash, an exception escaping, an ASan/UBSan report, a timeout,
// an "internal error" diagnostic, and any break of these invariants (the
// injection check): the written files parse back to as many policies as the
// import reports, in the right namespaces; a compile that checks has exactly
// as many policies as the import reports, and IR rules only from them; a run
// without errors has IR.
//
// Build and run: FUZZ_TARGETS=k8s tests/fuzz/run_fuzz.sh (30 s by default;
// FUZZ_SECONDS=600 for the longer run). Seeds: tests/fuzz/corpus/k8s (one
// manifest per kind, a Cilium rule array, and the regression inputs of
// hardening issue #12).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/pipeline.h"
#include "frontend/parser.h"
#include "ir_print/ir_json.h"
#include "k8s/import.h"

namespace {

using namespace membrane;

[[noreturn]] void bug(const std::string& what) {
  std::fprintf(stderr, "k8s_fuzzer: %s\n", what.c_str());
  std::abort();
}

// Internal errors are flagged: a message may begin with manifest text
// (an apiVersion, say) that reads "internal error" too.
void noInternalErrors(const DiagnosticEngine& diags) {
  for (const auto& d : diags.all())
    if (d.internal) bug("reported: " + d.message);
}

using Files = std::vector<std::pair<std::string, std::string>>;

// The import as `membranec import k8s -o DIR` runs it; the number of
// policies it converts, or -1 when it reports errors.
long importAndRender(const Files& files) {
  SourceManager sources;
  DiagnosticEngine diags(sources);
  std::vector<FileId> ids;
  for (const auto& [path, text] : files) ids.push_back(sources.add(path, text));
  k8s::ImportResult result = k8s::importManifests(ids, sources, diags);
  std::ostringstream out;
  diags.print(out, false);
  noInternalErrors(diags);
  if (diags.hasErrors()) return -1;

  // One file per namespace, as cmd_import groups them; renderForOutput
  // throws (and so crashes here) if its text does not read back.
  std::map<std::string, std::vector<k8s::ImportedPolicy>> byFile;
  for (const auto& p : result.policies) byFile[p.clusterwide ? "" : p.ns].push_back(p);
  for (const auto& [ns, policies] : byFile) {
    std::string text = k8s::renderForOutput(policies, "fuzz");
    // Independently of renderForOutput's own check: what would be written
    // holds exactly these policies, by name, in this namespace.
    SourceManager again;
    DiagnosticEngine againDiags(again);
    auto parsed = frontend::parseFile(again.add(ns + ".policy", text), again, againDiags);
    if (!parsed) bug("written policies do not parse:\n" + text);
    if (parsed->policies.size() != policies.size())
      bug("written file holds " + std::to_string(parsed->policies.size()) + " policies, the import converted " +
          std::to_string(policies.size()) + ":\n" + text);
    for (size_t i = 0; i < policies.size(); ++i) {
      const auto& p = parsed->policies[i];
      std::string gotNs = p.clusterwide ? "" : p.ns ? p.ns->text : "?";
      if (p.name.text != policies[i].name || gotNs != ns)
        bug("written policy " + std::to_string(i) + " reads back as " + gotNs + "/" + p.name.text + ":\n" + text);
    }
  }
  if (result.hasInventory()) (void)result.inventory.dump(2);
  return static_cast<long>(result.policies.size());
}

// The pipeline as `membranec check` / `compile` run it on manifests.
void compile(const Files& files, long imported) {
  pipeline::Compilation c;
  pipeline::runManifestText(files, c);
  std::ostringstream out;
  c.diags.print(out, true);
  noInternalErrors(c.diags);
  if (c.outcome() == pipeline::Outcome::Ok && !c.ir) bug("no errors reported, but no IR either");
  if (c.checked) {
    // Only converted policies are compiled here: as many as were imported.
    if (imported < 0) bug("the import reported errors, the pipeline checked policies");
    if (c.checked->policies.size() != static_cast<size_t>(imported))
      bug("checked " + std::to_string(c.checked->policies.size()) + " policies, the import converted " +
          std::to_string(imported));
    std::set<std::string> keys;
    for (const auto& p : c.checked->policies) keys.insert(p.key());
    if (c.ir)
      for (const auto& [id, rule] : c.ir->rules)
        if (!keys.count(rule.policy)) bug("IR rule from a policy no manifest gave: " + rule.policy);
  }
  if (c.ir && c.outcome() == pipeline::Outcome::Ok) out << ir::toJson(*c.ir).dump(2) << ir::toText(*c.ir);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  Files files;
  size_t start = 0;
  for (;;) {
    size_t nul = text.find('\0', start);
    std::string part = text.substr(start, nul == std::string::npos ? std::string::npos : nul - start);
    // A file that starts with `[` is named *.json, so that Cilium rule arrays
    // (a JSON array of rules) are read as one.
    const char* ext = part.starts_with('[') ? ".json" : ".yaml";
    files.emplace_back("fuzz" + std::to_string(files.size()) + ext, std::move(part));
    if (nul == std::string::npos) break;
    start = nul + 1;
  }
  long imported = importAndRender(files);
  compile(files, imported);
  return 0;
}
