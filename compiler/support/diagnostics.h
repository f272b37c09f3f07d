// Diagnostics collected across a whole run and printed like clang:
//   file:line:col: error: message
//     source line
//     ^~~~~
//   hint: did you mean `egress`?
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "support/source.h"

namespace membrane {

enum class Severity { Note, Warning, Error };

struct Diagnostic {
  Severity severity = Severity::Error;
  SourceRange range;
  std::string message;
  std::string hint;                // printed as "hint: ..." when set
  std::vector<Diagnostic> notes;   // attached notes, e.g. "previous definition is here"
};

class DiagnosticEngine {
 public:
  explicit DiagnosticEngine(const SourceManager& sources) : sources_(sources) {}

  Diagnostic& error(SourceRange range, std::string message, std::string hint = {});
  Diagnostic& warning(SourceRange range, std::string message, std::string hint = {});
  void report(Diagnostic d);

  bool hasErrors() const { return errorCount_ > 0; }
  size_t errorCount() const { return errorCount_; }
  size_t warningCount() const { return warningCount_; }
  const std::vector<Diagnostic>& all() const { return diagnostics_; }

  // Prints every diagnostic in the order reported.
  void print(std::ostream& out, bool color) const;
  void print(std::ostream& out, const Diagnostic& d, bool color) const;
  const SourceManager& sources() const { return sources_; }

 private:
  const SourceManager& sources_;
  std::vector<Diagnostic> diagnostics_;
  size_t errorCount_ = 0;
  size_t warningCount_ = 0;
};

// Closest candidate by edit distance, or "" when nothing is close enough.
std::string closestMatch(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace membrane
