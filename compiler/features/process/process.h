// The process rule kind (docs/process.md): `with process { exe "/usr/local/bin/api" }`
// on an egress allow rule says which executables of the selected endpoints
// the rule lets connect (or send a datagram). The socket hooks on the
// endpoint's cgroup (connect, sendmsg) read the calling task's executable
// and fail a call no rule allows with EPERM; the packet programs, which see
// no task, pass a flow such a rule covers only for sockets those hooks
// allowed. Laid out like every rule kind (docs/extending.md):
//   check.cpp     the body of `with process { ... }`
//   lower.cpp     checked executables → ir::ProcessCondition
//   evaluate.cpp  its meaning
//   print.cpp     its JSON and text in `membranec ir`
//   enforce.cpp   which program kinds can enforce it
// The IR's data type (ir::ProcessCondition) is in ir/ir.h with the others;
// the rule for executable paths is labels/names.h (the node checks the
// manifest's paths with it too).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "features/program_kind.h"
#include "frontend/ast.h"
#include "ir/ir.h"
#include "ir/traffic.h"
#include "support/diagnostics.h"

namespace membrane::features::process {

inline constexpr const char* kName = "process";
// The policy statement `processes { exe "PATH", ... }` (docs/process.md):
// the executables of the selected endpoints that may open egress
// connections at all. Its body is a `with process` body.
inline constexpr const char* kClauseKeyword = "processes";

// Whether the body is a policy's `processes` clause (ast::Policy::processes)
// rather than a rule's `with process`.
inline bool isClause(const ast::Extension& extension) { return extension.kind.text == kClauseKeyword; }

// ---- checking -----------------------------------------------------------

struct CheckedExecutable {
  std::string path;   // absolute, as labels::executablePathProblem accepts
  SourceRange range;  // the string, quotes included
};

// A rule's checked process condition.
struct Checked {
  std::vector<CheckedExecutable> executables;  // non-empty, in source order
  SourceRange range;                           // the whole `with process { ... }`
};

// Checks the body of `with process { ... }` or of a `processes { ... }`
// clause: items `exe "PATH"` separated by `,` or `;`. Reports every problem
// at its token (a bad path at its byte); nullopt after any.
std::optional<Checked> check(const ast::Extension& extension, const SourceManager& sources, DiagnosticEngine& diags);

// ---- lowering -----------------------------------------------------------

// The paths, sorted and unique: the same on every subject.
ir::ProcessCondition lower(const Checked& checked);

// The executables both conditions list (both sorted and unique); empty when
// they share none.
ir::ProcessCondition intersect(const ir::ProcessCondition& a, const ir::ProcessCondition& b);

// ---- meaning ------------------------------------------------------------

// A call (Traffic::executable set) matches when its executable is one of the
// condition's. A packet (no executable) matches: the rule stands for the
// calls the socket hooks allowed on the connection (Verdict::needsProcess).
bool matches(const ir::ProcessCondition& condition, const ir::Traffic& traffic);

// ---- printing -----------------------------------------------------------

// The rule's "process" member of `membranec ir -o json`:
// {"executables": [...]}, when it has the condition.
void printJson(const ir::Rule& rule, nlohmann::json& out);
// ` with process { exe "/a", exe "/b" }`, or "" without the condition.
std::string describe(const ir::Rule& rule);

// ---- enforcement --------------------------------------------------------

// Only the socket hooks see the calling task (cgroup sock_addr programs);
// the packet kinds pass what they allowed (MB_VERDICT_PROCESS).
bool enforceableBy(ProgramKind kind);

}  // namespace membrane::features::process
