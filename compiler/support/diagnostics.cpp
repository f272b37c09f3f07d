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

namespace {

// Back from `at` to the start of a UTF-8 character, so a cut never splits one.
size_t characterStart(std::string_view text, size_t at) {
  while (at > 0 && at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) --at;
  return at;
}

}  // namespace

std::string shortenLongWords(std::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size() && out.size() <= kMaxMessageBytes) {
    size_t end = text.find(' ', i);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(i, end - i);
    if (word.size() > kMaxWordBytes) {
      // Keep a closing quote and the punctuation after it, so that
      // `'aaa...':` still reads as a quoted value.
      size_t tail = 0;
      while (tail < 3 && tail < word.size() &&
             std::string_view("'`\":,;.)").find(word[word.size() - 1 - tail]) != std::string_view::npos)
        ++tail;
      out.append(word.substr(0, characterStart(word, kWordKeptBytes)));
      out += "...";
      out.append(word.substr(word.size() - tail));
    } else {
      out.append(word);
    }
    if (end < text.size()) out += ' ';
    i = end + 1;
  }
  if (out.size() > kMaxMessageBytes) {
    out.resize(characterStart(out, kMaxMessageBytes));
    out += "...";
  }
  return out;
}

SourceExcerpt excerpt(std::string_view line, uint32_t column, uint32_t length) {
  SourceExcerpt e;
  size_t caretAt = std::min<size_t>(column > 0 ? column - 1 : 0, line.size());
  size_t from = 0, to = line.size();
  if (line.size() > kMaxLineBytes) {
    // A window around the caret: some context before it, the rest after.
    from = characterStart(line, caretAt > kContextBytes ? caretAt - kContextBytes : 0);
    to = std::min(line.size(), from + kMaxLineBytes);
    if (to < line.size()) to = characterStart(line, to);
  }
  if (from > 0) e.line = "...";
  e.line.append(line.substr(from, to - from));
  if (to < line.size()) e.line += "...";
  // Tabs are kept in the caret line so the caret stays under the right column.
  e.caret.assign(from > 0 ? 3 : 0, ' ');
  for (size_t i = from; i < caretAt && i < to; ++i) e.caret += line[i] == '\t' ? '\t' : ' ';
  size_t rest = caretAt < to ? to - caretAt : 1;
  size_t width = std::max<size_t>(1, std::min<size_t>(length, rest));
  e.caret += "^" + std::string(width - 1, '~');
  return e;
}

void DiagnosticEngine::print(std::ostream& out, const Diagnostic& diag, bool color) const {
  auto c = [&](const char* code) { return color ? code : ""; };
  // Notes are attached after report(), so generated ranges are mapped here too.
  Diagnostic d = diag;
  d.range = sources_.original(d.range);
  if (d.range.valid()) out << c(kBold) << sources_.describe(d.range.begin) << ": " << c(kReset);
  out << c(colorOf(d.severity)) << label(d.severity) << ": " << c(kReset) << c(kBold)
      << shortenLongWords(d.message) << c(kReset) << "\n";
  if (d.range.valid()) {
    SourceExcerpt e =
        excerpt(sources_.lineText(d.range.begin.file, d.range.begin.line), d.range.begin.column, d.range.length);
    out << "  " << e.line << "\n  " << c(kGreen) << e.caret << c(kReset) << "\n";
  }
  if (!d.hint.empty()) out << c(kCyan) << "hint: " << c(kReset) << shortenLongWords(d.hint) << "\n";
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
  if (word.size() > kMaxSuggestedWordBytes) return "";
  // Allow roughly one typo per three characters, at least one.
  size_t limit = std::max<size_t>(1, word.size() / 3);
  std::string best;
  size_t bestDist = SIZE_MAX;
  for (const auto& cand : candidates) {
    // The distance is at least the difference in length: no need to compute
    // it for a candidate that cannot be close enough.
    size_t apart = word.size() > cand.size() ? word.size() - cand.size() : cand.size() - word.size();
    if (apart > limit) continue;
    size_t d = editDistance(word, cand);
    if (d < bestDist) bestDist = d, best = cand;
  }
  return bestDist <= limit && bestDist > 0 ? best : "";
}

}  // namespace membrane
