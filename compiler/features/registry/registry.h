// Every rule kind the compiler knows, in one list: the stages that handle
// rules generically (the checker, the evaluator, `membranec ir`, the
// enforcement check) go through here, and each call lands in the kind's own
// folder (compiler/features/<kind>/). Adding a kind adds one alternative to
// each variant below and one case to each function (docs/extending.md).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "features/dns/dns.h"
#include "features/http/http.h"
#include "features/l4/l4.h"
#include "features/process/process.h"
#include "features/program_kind.h"
#include "frontend/ast.h"
#include "ir/ir.h"
#include "ir/traffic.h"
#include "support/diagnostics.h"

namespace membrane::features {

// A rule's checked condition, one alternative per rule kind (the checker's
// output; lowering turns each into an ir::Condition).
using CheckedCondition = std::variant<l4::Checked, dns::Checked, http::Checked, process::Checked>;

// The kind's name: "l4", and `with NAME` for kinds written that way.
const char* kindName(const ir::Condition& condition);

// Checks a `with NAME { ... }` body with the module of kind NAME, appending
// its condition to `out`. `dns` and `http` are the kinds written this way
// (L4 is the `on` clause); any other NAME is reported as not supported, and
// a kind given twice on one rule is an error. `process` too.
bool checkWith(const ast::Extension& extension, const SourceManager& sources, DiagnosticEngine& diags,
               std::vector<CheckedCondition>& out);

// What holds between a rule's conditions, its direction and action, which no
// kind can check alone (a kind knows no other kind): a dns condition needs
// an egress allow rule whose L4 condition names TCP or UDP ports only; an
// http condition needs TCP port numbers (any direction and action) and no
// dns condition beside it; a process condition needs an egress allow rule
// without an http or dns condition.
// Reports at the condition; false when it did.
bool checkCombination(const std::vector<CheckedCondition>& conditions, ir::Direction direction, ir::Action action,
                      DiagnosticEngine& diags);

// What lowering knows of the endpoint a rule is lowered for.
struct Subject {
  ir::Direction direction = ir::Direction::Ingress;  // of the rule
  const std::vector<labels::NamedPort>* ports = nullptr;  // the subject's named ports
  std::function<void(const l4::NamedPortRef&)> unresolvedPort;  // a name the subject does not define
};

// The condition on one subject endpoint; nullopt when it matches nothing
// there (the rule is then left out of the subject's class).
std::optional<ir::Condition> lowerForSubject(const CheckedCondition& condition, const Subject& subject);

// The evaluator's question, asked of the condition's kind.
bool matches(const ir::Condition& condition, const ir::Traffic& traffic);

// Every kind's members of a rule's JSON object (`membranec ir -o json`).
void printJson(const ir::Rule& rule, nlohmann::json& out);
// The rule's conditions as text, after its peer in `membranec ir`:
// " on tcp/80" (every kind prints its own part).
std::string describeConditions(const ir::Rule& rule);

bool enforceableBy(const CheckedCondition& condition, ProgramKind kind);
const char* kindName(const CheckedCondition& condition);

// A rule whose condition some packet hook of the target cannot enforce is an
// error at the rule, naming it, its policy and the condition's kind: a rule
// is never silently dropped or half-enforced. Returns false when it reported.
bool checkEnforceable(const std::vector<CheckedCondition>& conditions, const std::string& ruleText,
                      const std::string& policy, SourceRange where, const Target& target, DiagnosticEngine& diags);

}  // namespace membrane::features
