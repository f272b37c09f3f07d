// See registry.h: the rule kinds, dispatched to their folders.
#include "features/registry/registry.h"

namespace membrane::features {

namespace {
// One lambda per kind: a kind added to a variant and missing here does not compile.
template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;
}  // namespace

const char* kindName(const ir::Condition& condition) {
  return std::visit(Overloaded{[](const ir::L4Condition&) { return l4::kName; }}, condition);
}

bool checkWith(const ast::Extension& extension, const SourceManager&, DiagnosticEngine& diags,
               std::vector<CheckedCondition>&) {
  diags.error(extension.range, "`with " + extension.kind.text + "` rules are not supported yet",
              "membrane enforces L3/L4 today; L7 and process rules are planned");
  return false;
}

std::optional<ir::Condition> lowerForSubject(const CheckedCondition& condition, const Subject& subject) {
  return std::visit(Overloaded{[&](const l4::Checked& c) -> std::optional<ir::Condition> {
                      return l4::lowerForSubject(c, subject.direction, *subject.ports, subject.unresolvedPort);
                    }},
                    condition);
}

bool matches(const ir::Condition& condition, const ir::Traffic& traffic) {
  return std::visit(Overloaded{[&](const ir::L4Condition& c) { return l4::matches(c, traffic); }}, condition);
}

void printJson(const ir::Rule& rule, nlohmann::json& out) { l4::printJson(rule, out); }

std::string describeConditions(const ir::Rule& rule) { return " on " + l4::describe(rule); }

bool enforceableBy(const CheckedCondition& condition, ProgramKind kind) {
  return std::visit(Overloaded{[&](const l4::Checked&) { return l4::enforceableBy(kind); }}, condition);
}

const char* kindName(const CheckedCondition& condition) {
  return std::visit(Overloaded{[](const l4::Checked&) { return l4::kName; }}, condition);
}

bool checkEnforceable(const std::vector<CheckedCondition>& conditions, const std::string& ruleText,
                      const std::string& policy, SourceRange where, const Target& target, DiagnosticEngine& diags) {
  bool ok = true;
  for (const auto& c : conditions) {
    std::string missing;
    for (ProgramKind hook : target.packetHooks)
      if (!enforceableBy(c, hook)) missing += std::string(missing.empty() ? "" : " and ") + programKindName(hook);
    if (missing.empty() && !target.packetHooks.empty()) continue;
    ok = false;
    diags.error(where,
                "rule `" + ruleText + "` of policy " + policy + " has a condition of kind " + kindName(c) +
                    " that " +
                    (missing.empty() ? "no program of this target can enforce" : missing + " programs cannot enforce"),
                "membrane refuses a policy it cannot enforce rather than drop part of a rule");
  }
  return ok;
}

}  // namespace membrane::features
