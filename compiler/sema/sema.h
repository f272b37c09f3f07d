// The checker: resolves definitions, validates everything the grammar cannot,
// and produces policies with every reference expanded. Reports all errors it
// finds; returns nothing if there was any, so later stages never see bad input.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "features/registry/registry.h"
#include "frontend/ast.h"
#include "ir/ir.h"
#include "names/names.h"
#include "support/diagnostics.h"

namespace membrane::sema {

// One alternative of a rule's peer list, fully resolved.
struct PeerSpec {
  enum class Kind { Pods, Entity, Cidr, Dns, Service, Nodes } kind = Kind::Pods;
  // Pods
  labels::Selector pods;
  ir::NamespaceScope scope = ir::NamespaceScope::Exact;
  std::string ns;  // Pods (Exact) and Service: the namespace
  labels::Selector namespaces;
  // Entity
  ast::Entity entity = ast::Entity::All;
  // Cidr
  ir::CidrMatch cidr;
  // Dns: names and patterns, normalized, sorted, unique (egress only)
  std::vector<std::string> dnsNames;
  // Service: its name in `ns` or, when empty, the services whose labels
  // match `services` in the namespaces `scope` says (as for Pods). Lowering
  // looks them up in the inventory and puts the pods or addresses they stand
  // for in their place (lowering::resolveServicePeers).
  std::string service;
  labels::Selector services;
  // Nodes: the cluster's nodes whose labels match. Like a service peer it is
  // replaced before lowering, by a one-address `cidr` per address of each
  // matching node of the inventory (lowering::resolveNodePeers).
  labels::Selector nodes;
  SourceRange range;
};

struct CheckedRule {
  ir::Action action = ir::Action::Allow;
  ir::Direction direction = ir::Direction::Ingress;
  std::vector<PeerSpec> peers;
  // Beside the peers, at most one condition of each rule kind, each checked
  // by its kind's module (compiler/features/); none = the peer decides.
  std::vector<features::CheckedCondition> conditions;
  SourceRange range;
  std::string text;        // as written, whitespace folded

  // The rule's condition of kind C, or null when it has none.
  template <class C>
  const C* condition() const {
    for (const auto& c : conditions)
      if (const C* found = std::get_if<C>(&c)) return found;
    return nullptr;
  }
};

struct CheckedPolicy {
  std::string name;
  std::string ns;            // empty when clusterwide
  bool clusterwide = false;
  bool audit = false;
  labels::Selector selects;
  // `selects ... in NAMESPACES` (clusterwide only): the subjects' namespaces
  // must match too (a namespace by name: its kubernetes.io/metadata.name).
  std::optional<labels::Selector> namespaces;
  // `tier admin priority N` / `tier baseline` (docs/language.md, "Tiers").
  ir::Tier tier = ir::Tier::Network;
  uint32_t priority = 0;
  SourceRange tierRange;
  bool hasIngress = false, hasEgress = false;
  // `processes { ... }` (docs/process.md): the executables of the selected
  // endpoints that may open egress connections at all; lowering restricts
  // every egress allow rule of each class the policy selects to them.
  std::optional<features::process::Checked> processes;
  std::vector<CheckedRule> rules;  // source order, ingress and egress mixed
  SourceRange range;

  std::string key() const { return clusterwide ? name : ns + "/" + name; }
};

struct CheckedProgram {
  std::vector<CheckedPolicy> policies;  // sorted by key
};

std::optional<CheckedProgram> check(const ast::Program& program, const SourceManager& sources,
                                    DiagnosticEngine& diags);

}  // namespace membrane::sema
