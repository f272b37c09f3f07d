// Kubernetes manifests → membrane policies and inventory (docs/kubernetes.md).
//
// Reads NetworkPolicy (networking.k8s.io/v1), CiliumNetworkPolicy and
// CiliumClusterwideNetworkPolicy (cilium.io/v2, the L3/L4 part and DNS
// rules), AdminNetworkPolicy and BaselineAdminNetworkPolicy
// (policy.networking.k8s.io/v1alpha1, as tier policies) and the objects
// that make up the inventory (Namespace, Pod, the workload kinds whose pod
// template gives the labels and named ports of their replicas, Services and
// their endpoints, and Nodes).
//
// The result is used two ways: `membranec import k8s` writes it out as
// *.policy files and an inventory.json, and the pipeline (pipeline::run)
// compiles manifests directly. In both cases every converted line remembers
// the YAML node it came from, so diagnostics point at the manifest.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "frontend/ast.h"
#include "support/diagnostics.h"
#include "support/source.h"

namespace membrane::k8s {

// One line of generated policy text and the manifest node it came from,
// and the lines that continue it, each from its own node (the excepts of a
// CIDR).
struct SourceLine {
  std::string text;
  SourceRange origin;
  std::vector<SourceLine> continued = {};
};

struct ImportedPolicy {
  std::string name;        // after collision handling
  std::string ns;          // empty when clusterwide
  bool clusterwide = false;
  std::string kind;        // e.g. "NetworkPolicy"
  std::string header;      // "from networking.k8s.io/v1 NetworkPolicy shop/api (api.yaml:12)"
  std::vector<SourceLine> lines;  // the whole `policy NAME { ... }` item
  std::string shape;              // its structure, as verifyParsed compares it
};

struct ImportResult {
  std::vector<ImportedPolicy> policies;  // in manifest order
  nlohmann::json inventory;              // membrane's inventory format (docs/inventory.md)
  size_t objects = 0;                    // objects read (List items counted singly)
  size_t skipped = 0;                    // objects of kinds that are not modelled
  bool hasInventory() const {
    auto nonEmpty = [&](const char* key) { return inventory.contains(key) && !inventory.at(key).empty(); };
    return nonEmpty("namespaces") || nonEmpty("endpoints") || nonEmpty("services") || nonEmpty("nodes");
  }
};

// True for paths that are manifests: *.yaml and *.yml, and *.json files
// whose top-level object has `apiVersion` or `kind` (membrane's own
// inventory.json, NODE.json and IR have neither) or whose top-level value is
// an array of objects (a Cilium rule array, as `cilium policy import` reads).
bool isManifestPath(const std::string& path);

// The name of the policy a Cilium rule array in `path` becomes: the file's
// stem as an object name (lowercase letters, digits, `-` and `.`; any other
// run of characters one `-`), `cilium-rules` when nothing is left.
std::string ruleArrayName(const std::string& path);

struct ImportOptions {
  // Report objects of kinds that are not modelled (Service, ConfigMap, ...)
  // as notes. `import` does; compiling manifests directly does not, since a
  // repository of manifests is mostly such objects.
  bool noteSkipped = true;
  // `--skip-kind`: policy-like objects (isPolicyLike) that membrane does not
  // enforce and the user chose to go on without; each is skipped with a
  // warning. Without a match such an object is an error. Each entry is
  // `Kind`, `group/Kind` or `group/*` (skipKindMatches).
  std::vector<std::string> skipKinds = {};
};

// Whether an object holds network or security policy, so that leaving it out
// would silently drop rules someone relies on: its kind ends in `Policy`
// (GlobalNetworkPolicy, AuthorizationPolicy, ...), or its API group is one
// that only holds policy (kPolicyGroups). Objects of such kinds that membrane
// does not enforce are errors unless skipped (docs/kubernetes.md, "Policies
// membrane does not enforce").
bool isPolicyLike(const std::string& apiVersion, const std::string& kind);
// API groups all of whose kinds are policy or change what policy means
// (Calico's network sets, Istio's peer authentication, ...).
inline constexpr const char* kPolicyGroups[] = {"policy.networking.k8s.io", "crd.projectcalico.org",
                                                "projectcalico.org", "security.istio.io", "crd.antrea.io"};
// Whether a `--skip-kind` value names this object's kind: `Kind`,
// `group/Kind` (the group of apiVersion; empty for the core `v1`) or `group/*`.
bool skipKindMatches(const std::string& pattern, const std::string& apiVersion, const std::string& kind);
// Empty when `pattern` is a valid `--skip-kind` value, else why not.
std::string checkSkipKind(const std::string& pattern);

// Converts manifest files already loaded into `sources`. Problems are
// reported to `diags` at the YAML node (file:line:col): malformed YAML,
// invalid or unsupported fields (errors), documented approximations
// (warnings), skipped objects (notes).
ImportResult importManifests(const std::vector<FileId>& files, const SourceManager& sources,
                             DiagnosticEngine& diags, const ImportOptions& options = {});

// The policies as one policy file for the compiler, and the origin of each of
// its lines (for SourceManager::setLineOrigins).
struct GeneratedText {
  std::string text;
  std::vector<SourceRange> origins;
};
GeneratedText renderForCompiler(const std::vector<ImportedPolicy>& policies);

// The policies as a file for people: a comment naming the source object above
// each policy, in `membranec fmt` layout. Throws std::runtime_error if the
// generated text does not parse, or does not read back as exactly these
// policies (a bug in the converter).
std::string renderForOutput(const std::vector<ImportedPolicy>& policies, const std::string& fileComment);

// Whether policy text parsed from the converted policies has exactly their
// structure: no definitions, the same policies in order, each with the same
// name, namespace, number of selector requirements, `selects ... in`
// namespaces, tier and priority, sections, rules (and their actions), and
// peers and protocol items per rule. Every string from a manifest is checked
// and quoted before it becomes text, so a difference is a converter bug that
// let a field change the structure of the text; the caller refuses the result.
// Empty when they match, else what differs.
std::string verifyParsed(const std::vector<ImportedPolicy>& policies, const ast::File& parsed);

}  // namespace membrane::k8s
