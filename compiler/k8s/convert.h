// Internals shared by the per-kind converters of compiler/k8s: YAML access
// with source positions, and the policy model they build before it becomes
// text.
#pragma once

#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "k8s/import.h"

namespace membrane::k8s {

// One manifest file being read: turns yaml-cpp marks into SourceRanges and
// reports problems at them.
class Context {
 public:
  Context(FileId file, const SourceManager& sources, DiagnosticEngine& diags);

  SourceRange at(const YAML::Node& node) const;
  SourceRange at(const YAML::Mark& mark, uint32_t length = 0) const;
  void error(const YAML::Node& node, const std::string& message, const std::string& hint = {});
  void warning(const YAML::Node& node, const std::string& message, const std::string& hint = {});
  void note(const YAML::Node& node, const std::string& message);
  // "api.yaml:12"
  std::string where(const YAML::Node& node) const;

  size_t errors() const { return errors_; }
  FileId file() const { return file_; }
  const std::string& path() const { return sources_.path(file_); }
  DiagnosticEngine& diags() { return diags_; }

  // --- typed access; each reports a type error and returns nullopt/empty ---
  // A map's value for `key`, or an undefined node when absent or null.
  YAML::Node get(const YAML::Node& map, const std::string& key);
  std::optional<std::string> string(const YAML::Node& node, const std::string& what);
  std::optional<int64_t> integer(const YAML::Node& node, const std::string& what);
  std::optional<bool> boolean(const YAML::Node& node, const std::string& what);
  bool isMap(const YAML::Node& node, const std::string& what);
  bool isSequence(const YAML::Node& node, const std::string& what);
  // Checks that a map has no repeated keys and only `known` keys; an
  // unknown key is an error (`what` names the object, e.g. "NetworkPolicy
  // spec"), with a suggestion. `unsupported` keys get `unsupportedWhy`.
  void checkKeys(const YAML::Node& map, const std::string& what, std::initializer_list<const char*> known,
                 const std::map<std::string, std::string>& unsupported = {});

 private:
  FileId file_;
  const SourceManager& sources_;
  DiagnosticEngine& diags_;
  std::vector<uint32_t> lineStarts_;
  size_t errors_ = 0;
};

// A plain YAML scalar (not quoted) is typed: `80` is a number, `"80"` a string.
bool isPlainScalar(const YAML::Node& node);

// ---- the policy model ---------------------------------------------------------
struct Rule {
  bool deny = false;
  std::vector<SourceLine> peers;   // at least one
  std::vector<SourceLine> protos;  // empty: every protocol and port
  SourceRange origin;
};

struct Section {
  bool present = false;
  std::vector<Rule> rules;
  SourceRange origin;
};

struct Policy {
  std::string name;
  std::string ns;
  bool clusterwide = false;
  std::string apiVersion, kind;
  SourceRange origin;
  std::string header;
  SourceLine selects;  // the selector text, e.g. "{ app = api }"
  Section ingress, egress;
};

// ---- label selectors -------------------------------------------------------------
struct Requirement {
  enum class Op { Equals, In, NotIn, Exists, DoesNotExist } op = Op::Equals;
  std::string key;
  std::vector<std::string> values;
};
// Membrane text for `{ ... }`.
std::string selectorText(const std::vector<Requirement>& reqs);
// A name or string token for a label key, value, or namespace name.
std::string quoteIfNeeded(const std::string& word);
// Reads a Kubernetes LabelSelector (matchLabels + matchExpressions). Keys are
// returned as written; the caller interprets them.
std::optional<std::vector<Requirement>> readLabelSelector(Context& ctx, const YAML::Node& node,
                                                          const std::string& what);

// `namespace X` when the selector only fixes the namespace name, else
// `namespaces { ... }`.
std::string namespaceRefText(const std::vector<Requirement>& nsReqs);
// `cidr C` / `cidr C except E` / `cidr C except (E1, E2)`; checks that each
// prefix parses (host bits are left to the checker, which suggests a fix).
std::optional<std::string> cidrText(Context& ctx, const YAML::Node& cidr, const std::vector<YAML::Node>& excepts,
                                    const std::string& what);
// `tcp/80`, `udp/8000-8100`, `sctp/http`, `tcp`; `proto` is lowercase.
std::string portItem(const std::string& proto, const std::string& port, const std::string& endPort = {});
// A valid Kubernetes port name (IANA service name): at most 15 lowercase
// letters, digits and '-', at least one letter, no leading, trailing or
// double '-'.
bool isPortName(const std::string& name);

// ---- converters --------------------------------------------------------------------
struct ObjectRef {
  YAML::Node node;
  std::string apiVersion, kind, name, ns;
};

std::optional<Policy> convertNetworkPolicy(Context& ctx, const ObjectRef& obj);
std::vector<Policy> convertCiliumPolicy(Context& ctx, const ObjectRef& obj);

// Workload kinds into membrane's inventory format. Endpoints get a "k8s.template"
// key (removed before output) when they stand for the replicas of a template.
struct InventoryBuilder {
  nlohmann::json namespaces = nlohmann::json::array();
  nlohmann::json endpoints = nlohmann::json::array();
  struct Placed {
    SourceRange at;
    std::string kind;
  };
  std::map<std::string, Placed> endpointAt;    // "ns/name" → where it was defined
  std::map<std::string, Placed> namespaceAt;
  std::set<std::string> podWorkloads;          // "ns/workload" of every Pod read
};
bool isWorkloadKind(const std::string& apiVersion, const std::string& kind);
void convertWorkload(Context& ctx, const ObjectRef& obj, InventoryBuilder& inv);

}  // namespace membrane::k8s
