// The one visitor that turns an ANTLR parse tree into our AST.
#pragma once

#include <vector>

#include "MembraneParser.h"
#include "frontend/ast.h"
#include "support/diagnostics.h"


namespace membrane::frontend {

// Maps ANTLR's code-point indices to byte offsets (they differ only when the
// file has non-ASCII text, e.g. in comments).
class OffsetMap {
 public:
  explicit OffsetMap(const std::string& utf8);
  uint32_t byteOffset(size_t codePointIndex) const;

 private:
  std::vector<uint32_t> offsets_;  // empty when the text is pure ASCII
};

struct BuildContext {
  FileId file;
  const SourceManager& sources;
  DiagnosticEngine& diags;
  const OffsetMap& offsets;

  SourceRange rangeOf(const antlr4::Token* start, const antlr4::Token* stop) const;
};

// `root` is the FileContext of a parse without syntax errors.
ast::File buildAst(grammar::MembraneParser::FileContext* root, const BuildContext& ctx);

}  // namespace membrane::frontend
