// Internals shared by the per-kind converters of compiler/k8s: YAML access
// with source positions, and the policy model they build before it becomes
// text.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "k8s/import.h"
#include "support/diagnostics.h"

namespace membrane::k8s {

// How kubectl reads a YAML scalar. kubectl (sigs.k8s.io/yaml) decodes YAML
// with go-yaml v2, which types plain (unquoted) scalars by YAML 1.1 rules:
// `yes`, `on` and `y` are booleans, `017620` is octal, `0x1F90` hex, `1_000`
// an integer, `08080` a float. membrane's YAML parser types nothing, so every
// scalar a converter reads goes through this, and a spelling that YAML 1.1
// and YAML 1.2 read differently is refused (docs/kubernetes.md, "YAML").
struct KubectlScalar {
  enum class Type { Null, Bool, Int, Float, String, Tagged } type = Type::String;
  bool boolean = false;            // Bool
  std::optional<int64_t> integer;  // Int, when it fits in 64 bits
  double number = 0;               // Int and Float
  // Read the same way by YAML 1.2 and 1.1: decimal integers without sign or
  // leading zeros, true/false (any case style YAML 1.2 has), quoted strings.
  bool unambiguous = true;
};
// `tag` as yaml-cpp reports it: "?" for plain scalars, "!" for quoted ones.
KubectlScalar kubectlReads(const std::string& text, const std::string& tag);

// The Kubernetes name rules (sema/names.h) a string read from a manifest must
// follow before it may reach policy text or the inventory.
enum class NameRule { Namespace, ObjectName, LabelKey, LabelValue, PortName };

// One manifest file being read: turns yaml-cpp marks into SourceRanges and
// reports problems at them.
class Context {
 public:
  Context(FileId file, const SourceManager& sources, DiagnosticEngine& diags);

  SourceRange at(const YAML::Node& node) const;
  SourceRange at(const YAML::Mark& mark, uint32_t length = 0) const;
  Diagnostic* error(const YAML::Node& node, const std::string& message, const std::string& hint = {});
  Diagnostic* error(SourceRange range, const std::string& message, const std::string& hint = {});
  void warning(const YAML::Node& node, const std::string& message, const std::string& hint = {});
  void note(const YAML::Node& node, const std::string& message);
  // "api.yaml:12"
  std::string where(const YAML::Node& node) const;

  size_t errors() const { return errors_; }
  FileId file() const { return file_; }
  const std::string& path() const { return sources_.path(file_); }
  DiagnosticEngine& diags() { return diags_; }

  // --- the file and each document as a whole, before any object is read ---
  // The bytes: UTF-8, without NUL or the other control characters YAML (and
  // kubectl) refuse. An error at the first offending byte; false after one.
  bool checkText();
  // The document as kubectl would decode it: no key twice in a map (strict
  // decoding refuses it, lax decoding keeps the last one), no merge keys
  // (`<<`, which go-yaml v2 expands and membrane's parser does not), only
  // scalar keys; nesting and alias expansion bounded (a recursive alias is
  // infinitely deep). False after an error.
  bool checkDocument(const YAML::Node& doc);

  // --- typed access; each reports a type error and returns nullopt/empty ---
  // A map's value for `key`, or an undefined node when absent or null.
  YAML::Node get(const YAML::Node& map, const std::string& key);
  // A string: quoted, or plain and not something else to kubectl (`yes`,
  // `80`, `1.2` and `~` are not strings). Valid UTF-8 without control
  // characters (which YAML escapes can produce).
  std::optional<std::string> string(const YAML::Node& node, const std::string& what);
  // A string that must follow `rule`; the error names the rule.
  std::optional<std::string> name(const YAML::Node& node, NameRule rule, const std::string& what);
  // The range of the character at `offset` in a scalar's value, where the
  // manifest writes the value as is up to there (plain, or quoted without an
  // escape before it, on the scalar's first line); else the whole scalar.
  SourceRange atChar(const YAML::Node& scalar, size_t offset) const;
  // Checks a value read (or derived) from `node` against `rule`.
  bool checkName(const YAML::Node& node, const std::string& value, NameRule rule, const std::string& what);
  // A plain decimal integer (`8080`; not `"8080"`, `8080.0` or `0x1F90`).
  std::optional<int64_t> integer(const YAML::Node& node, const std::string& what);
  // An IntOrString field: an integer as `integer` reads it, or a string.
  struct IntOrString {
    std::optional<int64_t> number;
    std::string text;  // when not a number
  };
  std::optional<IntOrString> intOrString(const YAML::Node& node, const std::string& what);
  std::optional<bool> boolean(const YAML::Node& node, const std::string& what);
  bool isMap(const YAML::Node& node, const std::string& what);
  bool isSequence(const YAML::Node& node, const std::string& what);
  // Checks that a map has only `known` keys; an unknown key is an error
  // (`what` names the object, e.g. "NetworkPolicy spec"), with a suggestion.
  // `unsupported` keys get `unsupportedWhy`. (Duplicate keys are refused for
  // the whole document by checkDocument.)
  void checkKeys(const YAML::Node& map, const std::string& what, const std::vector<std::string>& known,
                 const std::map<std::string, std::string>& unsupported = {});

 private:
  bool walk(const YAML::Node& node, size_t depth, size_t& budget, const YAML::Node& doc);
  // The integer of an Int scalar, or an error saying how to write it.
  std::optional<int64_t> plainInteger(const YAML::Node& node, const KubectlScalar& k, const std::string& what);
  // Reports a Float where an integer is expected, with the integer when it is one.
  void notWhole(const YAML::Node& node, const KubectlScalar& k, const std::string& message);

  FileId file_;
  const SourceManager& sources_;
  DiagnosticEngine& diags_;
  uint32_t bomLength_ = 0;  // yaml-cpp's positions start after a UTF-8 byte order mark
  size_t errors_ = 0;
  std::set<int> reportedKeys_;  // positions of keys already reported (aliases revisit nodes)
};

// YAML::LoadAll, without yaml-cpp 0.7's endless loop on a stray flow entry;
// throws YAML::Exception on invalid YAML.
std::vector<YAML::Node> loadDocuments(const std::string& text);

// A plain YAML scalar (not quoted) is typed: `80` is a number, `"80"` a string.
bool isPlainScalar(const YAML::Node& node);
// `text` for a message: control characters escaped, cut after `max`
// characters.
std::string shown(const std::string& text, size_t max = 80);

// ---- the policy model ---------------------------------------------------------
struct Rule {
  // `pass` is AdminNetworkPolicy's third action (admin tier only).
  enum class Action { Allow, Deny, Pass } action = Action::Allow;
  // A comment line above the rule: an AdminNetworkPolicy rule's `name`, kept
  // so that the converted policy still shows what its author called it.
  std::optional<SourceLine> comment;
  std::vector<SourceLine> peers;   // at least one
  std::vector<SourceLine> protos;  // empty: every protocol and port
  // `with dns { ... }`: the names and patterns, each a quoted string
  // (docs/dns.md); empty: no dns condition.
  std::vector<SourceLine> dnsNames;
  // `with http { ... }`: one request item each, as written in the body
  // (docs/http.md); empty: no http condition.
  std::vector<SourceLine> httpItems;
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
  // The selector text, e.g. "{ app = api }"; an AdminNetworkPolicy's subject
  // continues it with `in namespaces { ... }` / `in namespace X`.
  SourceLine selects;
  size_t selectsCount = 0;  // its requirements
  // The AdminNetworkPolicy tiers (`tier admin priority N`, `tier baseline`);
  // None for every other kind. `tierLine` is the statement's text and origin.
  enum class Tier { None, Admin, Baseline } tier = Tier::None;
  int64_t priority = 0;  // Admin: spec.priority
  SourceLine tierLine;
  // `selects ... in NAMESPACES` (an AdminNetworkPolicy's subject), for the
  // read-back check: empty when there is none, "name" for `in namespace X`,
  // else the number of requirements of `in namespaces { ... }`.
  std::string selectsIn;
  Section ingress, egress;
};

// ---- label selectors -------------------------------------------------------------
struct Requirement {
  enum class Op { Equals, In, NotIn, Exists, DoesNotExist } op = Op::Equals;
  std::string key;
  std::vector<std::string> values;
  YAML::Node keyNode;  // where the key and values are written, for errors about them
  std::vector<YAML::Node> valueNodes;
};
// Membrane text for `{ ... }`.
std::string selectorText(const std::vector<Requirement>& reqs);
// The token for a label key part, value, namespace or policy name
// (frontend::quoteWord). Every string from a manifest that reaches policy
// text goes through here; the name rules are checked before, so a string no
// token can hold is a converter bug, thrown as std::logic_error.
std::string word(const std::string& text);
// Reads a Kubernetes LabelSelector (matchLabels + matchExpressions). Values
// are checked as label values. Keys are returned as written and checked as
// label keys when `checkKeys` (Cilium keys carry a source prefix and
// pseudo-labels; its converter checks what remains).
std::optional<std::vector<Requirement>> readLabelSelector(Context& ctx, const YAML::Node& node,
                                                          const std::string& what, bool checkKeys = true);

// `namespace X` when the selector only fixes the namespace name, else
// `namespaces { ... }`.
std::string namespaceRefText(const std::vector<Requirement>& nsReqs);
// Whether namespaceRefText writes these requirements as `namespace X`.
bool namespaceRefIsName(const std::vector<Requirement>& nsReqs);
// `cidr C` / `cidr C except E` / `cidr C except (E1, E2)`; checks that each
// prefix parses (host bits are left to the checker, which suggests a fix).
// `prefixRequired`: a bare address is an error, as the API server refuses
// one in a NetworkPolicy's ipBlock (Cilium reads it as /32 or /128).
std::optional<SourceLine> cidrText(Context& ctx, const YAML::Node& cidr, const std::vector<YAML::Node>& excepts,
                                   const std::string& what, bool prefixRequired = false);
// `tcp/80`, `udp/8000-8100`, `sctp/http`, `tcp`; `proto` is lowercase.
std::string portItem(const std::string& proto, const std::string& port, const std::string& endPort = {});

// ---- converters --------------------------------------------------------------------
struct ObjectRef {
  YAML::Node node;
  std::string apiVersion, kind, name, ns;
};

std::optional<Policy> convertNetworkPolicy(Context& ctx, const ObjectRef& obj);
std::vector<Policy> convertCiliumPolicy(Context& ctx, const ObjectRef& obj);
// A Cilium rule array (`cilium policy import` JSON; obj.node is the
// sequence): its rules read exactly as the `specs` of `obj`, a
// CiliumClusterwideNetworkPolicy named obj.name (docs/kubernetes.md,
// "Cilium rule arrays").
std::vector<Policy> convertCiliumRuleArray(Context& ctx, const ObjectRef& obj);
// policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy and
// BaselineAdminNetworkPolicy (by obj.kind): one clusterwide policy in the
// admin or baseline tier (docs/kubernetes.md, "AdminNetworkPolicy and
// BaselineAdminNetworkPolicy").
std::optional<Policy> convertAdminNetworkPolicy(Context& ctx, const ObjectRef& obj);

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
  // "ns/name" → the Service object as an inventory entry (null until one is
  // read), and the addresses its Endpoints and EndpointSlices give.
  struct ServiceParts {
    nlohmann::json service;
    std::set<std::string> addresses;
  };
  std::map<std::string, ServiceParts> services;
  nlohmann::json nodes = nlohmann::json::array();  // in manifest order
};
bool isWorkloadKind(const std::string& apiVersion, const std::string& kind);
void convertWorkload(Context& ctx, const ObjectRef& obj, InventoryBuilder& inv);
// A `labels` map (metadata.labels, a Service's selector): keys and values
// checked by the Kubernetes rules; an absent node is the empty map.
std::optional<nlohmann::json> readLabels(Context& ctx, const YAML::Node& labels, const std::string& what);

// Service (v1), Endpoints (v1) and EndpointSlice (discovery.k8s.io/v1): the
// services policies may name as peers (docs/kubernetes.md, "Services as
// peers"). The parts of one service are joined by finishServices.
bool isServiceKind(const std::string& apiVersion, const std::string& kind);
void convertServicePart(Context& ctx, const ObjectRef& obj, InventoryBuilder& inv);
// The inventory's `services`: each Service with its selector, or without
// one, the addresses its Endpoints and EndpointSlices give.
nlohmann::json finishServices(const InventoryBuilder& inv);

// Node (v1): the cluster's nodes, which `nodes` peers name by their labels
// and stand for by their InternalIP and ExternalIP addresses (nodes.cpp).
bool isNodeKind(const std::string& apiVersion, const std::string& kind);
void convertNode(Context& ctx, const ObjectRef& obj, InventoryBuilder& inv);

}  // namespace membrane::k8s
