// The HTTP rule kind (docs/http.md): `with http { GET "/api/*"; POST
// "/orders" header "Content-Type" = "application/json" }` on a rule whose
// ports are TCP numbers says which requests the rule allows (or denies) on
// those ports. The connection is allowed for the socket layer, which reads
// each request and decides it. Laid out like every rule kind
// (docs/extending.md):
//   check.cpp     the body of `with http { ... }`
//   lower.cpp     checked requests → ir::HttpCondition
//   evaluate.cpp  its meaning, and the reference reader of a request's
//                 header block, which the datapath's reader is held to
//   print.cpp     its JSON and text in `membranec ir`
//   enforce.cpp   which program kinds can enforce it
// The IR's data type (ir::HttpCondition) is in ir/ir.h with the others; the
// rules for methods, paths and header names are names/http.h.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "features/program_kind.h"
#include "frontend/ast.h"
#include "ir/ir.h"
#include "ir/traffic.h"
#include "support/diagnostics.h"

namespace membrane::features::http {

inline constexpr const char* kName = "http";

// ---- checking -----------------------------------------------------------

// One request item as written, checked and normalized (the IR's type, with
// where it was written).
struct CheckedRequest {
  ir::HttpRequestMatch match;
  SourceRange range;  // the item, from its first token to its last
};

// A rule's checked HTTP condition.
struct Checked {
  std::vector<CheckedRequest> requests;  // non-empty, in source order
  SourceRange range;                     // the whole `with http { ... }`
};

// Checks the body of `with http { ... }`: items separated by `;`, each
// `[METHOD] ["PATH"] [host "HOST"] [header "NAME" [= "VALUE"]]...`, at
// least one part per item. Reports every problem at its token; nullopt
// after any.
std::optional<Checked> check(const ast::Extension& extension, const SourceManager& sources, DiagnosticEngine& diags);

// ---- lowering -----------------------------------------------------------

ir::HttpCondition lower(const Checked& checked);

// ---- meaning ------------------------------------------------------------

// The connection itself (no request read yet) matches: the rule may allow
// some of its requests, each decided on its own. A request matches when
// one of the condition's items matches it; bytes that are not a readable
// request match nothing.
bool matches(const ir::HttpCondition& condition, const ir::Traffic& traffic);
bool requestMatches(const ir::HttpRequestMatch& match, const ir::HttpRequest& request);

// The parts of a request the datapath matches, as it reads them:
// the target up to '?' (the whole target when it has none);
std::string_view pathOf(const ir::HttpRequest& request);
// the single Host header's value, lowercased, without a ":port" suffix and
// a trailing dot; nullopt when there is none, or it is not made of DNS
// name characters (a-z, 0-9, '-', '_', '.') of at most 253 — then no host
// pattern matches.
std::optional<std::string> hostOf(const ir::HttpRequest& request);

// The reference reader (docs/http.md, "What the datapath reads"): the first
// request of `bytes`, which must hold its whole header block. TLS, the
// HTTP/2 preface, a header block over names::kHttpHeaderBlockMaxBytes or
// without its end, anything malformed, and a path (the target up to '?')
// that is not canonical (names::httpPathFault) or longer than
// names::kHttpPathMaxBytes are Unreadable with the reason; the reason of a
// path starts "a path" (the datapath reports those apart).
ir::HttpMessage readRequest(std::string_view bytes);

// ---- printing -----------------------------------------------------------

// The rule's "http" member of `membranec ir -o json`, when it has the condition.
void printJson(const ir::Rule& rule, nlohmann::json& out);
// ` with http { GET "/a"; POST "/b" header "x-k" }`, or "" without the condition.
std::string describe(const ir::Rule& rule);
// One item as written: `GET "/a" host "api.example.com" header "x-k" = "v"`.
std::string describeRequest(const ir::HttpRequestMatch& match);

// ---- enforcement --------------------------------------------------------

// The socket layer decides requests; the packet kinds only let the
// connection through to it (MB_VERDICT_L7).
bool enforceableBy(ProgramKind kind);

}  // namespace membrane::features::http
