// Policy text → AST. Syntax errors are reported to the DiagnosticEngine as
// `file:line:col: error: ...` with the source line, a caret and, where the
// token looks like a misspelt keyword, a "did you mean" hint.
#pragma once

#include <cstddef>
#include <optional>

#include "frontend/ast.h"
#include "support/diagnostics.h"

namespace membrane::frontend {

// How deep `{ ... }` may nest in a policy file (docs/language.md).
inline constexpr size_t kMaxNesting = 64;

// Parses one loaded file. Returns nullopt when the file has syntax errors
// (all of them reported); never a half-built AST.
std::optional<ast::File> parseFile(FileId file, const SourceManager& sources, DiagnosticEngine& diags);

}  // namespace membrane::frontend
