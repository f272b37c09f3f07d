// Diagnostics collected across a whole run and printed like clang:
//   file:line:col: error: message
//     source line
//     ^~~~~
//   hint: did you mean `egress`?
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
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
  // A bug in membrane, not in the input (its message starts "internal
  // error"). Tools and the fuzzers tell it by this flag, never by the text:
  // a message may start with the input's own words.
  bool internal = false;
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

// What the printer shows of one source line: the whole line, or past
// kMaxLineBytes a window around the caret with "..." where it was cut, and
// the caret line under it. A 10 MB label value printed 31 MB of errors.
inline constexpr size_t kMaxLineBytes = 160;
inline constexpr size_t kContextBytes = 40;  // shown before the caret in a cut line
struct SourceExcerpt {
  std::string line;
  std::string caret;  // "   ^~~~"
};
SourceExcerpt excerpt(std::string_view line, uint32_t column, uint32_t length);

// Messages and hints quote names and values from the source, which may be
// megabytes long: a space-separated word longer than kMaxWordBytes keeps its
// first kWordKeptBytes, then "..." (and its closing quote), and the whole
// text is cut at kMaxMessageBytes. Applied by the printer to every message.
inline constexpr size_t kMaxWordBytes = 100;
inline constexpr size_t kWordKeptBytes = 80;
inline constexpr size_t kMaxMessageBytes = 1000;
std::string shortenLongWords(std::string_view text);

// Closest candidate by edit distance, or "" when nothing is close enough (or
// the word is longer than any name, past kMaxSuggestedWordBytes: the
// distance costs the product of the lengths).
inline constexpr size_t kMaxSuggestedWordBytes = 256;
std::string closestMatch(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace membrane
