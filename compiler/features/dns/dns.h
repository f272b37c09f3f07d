// The DNS rule kind (docs/dns.md): `with dns { "NAME"; "PATTERN" }` on an
// egress rule to a resolver says which names the subject may look up; the
// answers to the queries it allows teach the subject addresses, which name
// peers (`to dns "NAME"`, a part of ir::PeerMatch) then match. Laid out like
// every rule kind (docs/extending.md):
//   check.cpp     the body of `with dns { ... }`, and name peers' strings
//   lower.cpp     checked names → ir::DnsCondition
//   evaluate.cpp  its meaning, and the meaning of name peers
//   print.cpp     its JSON and text in `membranec ir`
//   enforce.cpp   which program kinds can enforce it
// The IR's data type (ir::DnsCondition) is in ir/ir.h with the others; the
// name rules themselves are names/dns.h.
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

namespace membrane::features::dns {

inline constexpr const char* kName = "dns";

// ---- checking -----------------------------------------------------------

// One name or pattern as written, normalized (lowercase, no trailing dot).
struct CheckedName {
  std::string text;
  SourceRange range;  // the string, quotes included
};

// A rule's checked DNS condition.
struct Checked {
  std::vector<CheckedName> names;  // non-empty, in source order
  SourceRange range;               // the whole `with dns { ... }`
};

// Checks the body of `with dns { ... }`: strings separated by `,` or `;`.
// Reports every problem at its token; nullopt after any.
std::optional<Checked> check(const ast::Extension& extension, const SourceManager& sources, DiagnosticEngine& diags);

// Checks one string of a name peer or a body (its content, unquoted, with
// the range of the whole string); reports an error pointing at the
// offending character. Appends the normalized name to `out`.
bool checkName(const ast::Name& written, DiagnosticEngine& diags, std::vector<CheckedName>& out);

// ---- lowering -----------------------------------------------------------

ir::DnsCondition lower(const Checked& checked);
// Sorted, unique texts of `names`.
std::vector<std::string> texts(const std::vector<CheckedName>& names);

// ---- meaning ------------------------------------------------------------

// A query on the rule's ports matches when its name matches one of the
// condition's names; a packet without a DNS message (TCP connection set-up)
// matches, so the connection can carry queries, each decided on its own; a
// packet that is not a readable query does not (fail closed).
bool matches(const ir::DnsCondition& condition, const ir::Traffic& traffic);

// Does a name peer's list match the peer: some live learned name of its
// address matches one of `names`?
bool peerMatches(const std::vector<std::string>& names, const ir::Peer& peer);

// Does `name` (normalized) match one of `names` (normalized names and
// patterns)?
bool anyMatches(const std::vector<std::string>& names, const std::string& name);

// Does every name `inner` matches also match `outer` (both normalized
// names or patterns)? Exact for the pattern language of docs/dns.md.
bool covers(const std::string& outer, const std::string& inner);

// ---- printing -----------------------------------------------------------

// The rule's "dns" member of `membranec ir -o json`, when it has the condition.
void printJson(const ir::Rule& rule, nlohmann::json& out);
// ` with dns { "a", "*.b" }`, or "" without the condition.
std::string describe(const ir::Rule& rule);
// `dns "a", "*.b"`: a name peer as written.
std::string describePeer(const std::vector<std::string>& names);

// ---- enforcement --------------------------------------------------------

// Both packet kinds read queries and answers; only tc can answer a refused
// query itself (cgroup_skb drops it: the client times out).
bool enforceableBy(ProgramKind kind);

}  // namespace membrane::features::dns
