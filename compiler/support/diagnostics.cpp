#include "support/diagnostics.h"

#include <algorithm>
#include <ostream>

namespace membrane {

Diagnostic& DiagnosticEngine::error(SourceRange range, std::string message, std::string hint) {
  report({Severity::Error, range, std::move(message), std::move(hint), {}});
  return diagnostics_.back();
}

Diagnostic& DiagnosticEngine::warning(SourceRange range, std::string message, std::string hint) {
  report({Severity::Warning, range, std::move(message), std::move(hint), {}});
  return diagnostics_.back();
}

void DiagnosticEngine::report(Diagnostic d) {
  d.range = sources_.original(d.range);
  if (d.severity == Severity::Error) ++errorCount_;
  if (d.severity == Severity::Warning) ++warningCount_;
  diagnostics_.push_back(std::move(d));
}

namespace {
const char* kBold = "\033[1m";
const char* kRed = "\033[1;31m";
const char* kMagenta = "\033[1;35m";
const char* kCyan = "\033[1;36m";
const char* kGreen = "\033[1;32m";
const char* kReset = "\033[0m";

const char* label(Severity s) {
  switch (s) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Note: return "note";
  }
  return "";
}
const char* colorOf(Severity s) {
  switch (s) {
    case Severity::Error: return kRed;
    case Severity::Warning: return kMagenta;
    case Severity::Note: return kCyan;
  }
  return "";
}
}  // namespace

void DiagnosticEngine::print(std::ostream& out, const Diagnostic& diag, bool color) const {
  auto c = [&](const char* code) { return color ? code : ""; };
  // Notes are attached after report(), so generated ranges are mapped here too.
  Diagnostic d = diag;
  d.range = sources_.original(d.range);
  if (d.range.valid()) out << c(kBold) << sources_.describe(d.range.begin) << ": " << c(kReset);
  out << c(colorOf(d.severity)) << label(d.severity) << ": " << c(kReset) << c(kBold) << d.message
      << c(kReset) << "\n";
  if (d.range.valid()) {
    std::string_view line = sources_.lineText(d.range.begin.file, d.range.begin.line);
    // Tabs are kept in the caret line so the caret stays under the right column.
    std::string caret;
    uint32_t col = d.range.begin.column;
    for (uint32_t i = 1; i < col && i - 1 < line.size(); ++i) caret += line[i - 1] == '\t' ? '\t' : ' ';
    uint32_t lineRest = line.size() >= col ? static_cast<uint32_t>(line.size() - col + 1) : 1;
    uint32_t width = std::max<uint32_t>(1, std::min(d.range.length, lineRest));
    caret += "^" + std::string(width - 1, '~');
    out << "  " << line << "\n  " << c(kGreen) << caret << c(kReset) << "\n";
  }
  if (!d.hint.empty()) out << c(kCyan) << "hint: " << c(kReset) << d.hint << "\n";
  for (const auto& n : d.notes) print(out, n, color);
}

void DiagnosticEngine::print(std::ostream& out, bool color) const {
  for (const auto& d : diagnostics_) print(out, d, color);
}

// Optimal string alignment distance: insertions, deletions, substitutions
// and swaps of neighbours each cost one (`wrold` is one edit from `world`).
static size_t editDistance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

std::string closestMatch(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t bestDist = SIZE_MAX;
  for (const auto& cand : candidates) {
    size_t d = editDistance(word, cand);
    if (d < bestDist) bestDist = d, best = cand;
  }
  // Allow roughly one typo per three characters, at least one.
  size_t limit = std::max<size_t>(1, word.size() / 3);
  return bestDist <= limit && bestDist > 0 ? best : "";
}

}  // namespace membrane
