#include "lint/lint.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "lint/check.h"

namespace membrane::lint {

Finding* Context::report(const std::string& id, SourceRange range, SourceRange anchor, std::string message,
                         std::string hint) {
  if (!enabled(id)) return nullptr;
  for (auto& f : findings_)
    if (f.check == id && f.range.begin == range.begin && f.message == message) return &f;
  Finding f;
  f.check = id;
  f.severity = findCheck(id)->severity;
  f.range = range;
  f.anchor = anchor.valid() ? anchor : range;
  f.message = std::move(message);
  f.hint = std::move(hint);
  findings_.push_back(std::move(f));
  return &findings_.back();
}

bool within(const SourceRange& inner, const SourceRange& outer) {
  return inner.valid() && outer.valid() && inner.begin.file == outer.begin.file &&
         inner.begin.offset >= outer.begin.offset &&
         inner.begin.offset + inner.length <= outer.begin.offset + outer.length;
}

int Result::exitCode(bool werror) const { return errors > 0 || (werror && warnings > 0) ? 1 : 0; }

std::string validate(const Options& options) {
  for (const auto* list : {&options.enable, &options.disable}) {
    for (const auto& id : *list) {
      if (findCheck(id)) continue;
      std::string guess = suggestCheck(id);
      return "unknown check '" + id + "'" + (guess.empty() ? "" : "; did you mean `" + guess + "`?") +
             " (the checks are listed in docs/lint.md and `membranec lint --help`)";
    }
  }
  for (const auto& id : options.enable)
    for (const auto& other : options.disable)
      if (findCheck(id) == findCheck(other))
        return "check " + findCheck(id)->id + " is both enabled and disabled";
  return "";
}

// ---- suppressions ------------------------------------------------------------------

namespace {

struct Suppression {
  SourceRange range;    // the comment
  uint32_t target = 0;  // the line it applies to
  std::vector<std::string> ids;  // valid ids
  std::string reason;
  std::map<std::string, bool> used;
};

struct LineComment {
  uint32_t offset = 0, length = 0;
  bool trailing = false;  // code before it on its line
};

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

// Line comments (`#`, `//`) of a policy file, and which lines hold code.
// Strings and block comments are skipped like the lexer does.
void scanComments(std::string_view text, std::vector<LineComment>& comments, std::vector<bool>& codeOnLine) {
  codeOnLine.assign(1, false);
  size_t line = 0;  // 0-based here
  bool codeHere = false;
  auto mark = [&] {
    codeHere = true;
    if (codeOnLine.size() <= line) codeOnLine.resize(line + 1, false);
    codeOnLine[line] = true;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char ch = text[i];
    if (ch == '\n') {
      ++line;
      codeHere = false;
      codeOnLine.resize(line + 1, false);
      continue;
    }
    if (ch == ' ' || ch == '\t' || ch == '\r') continue;
    if (ch == '#' || (ch == '/' && i + 1 < text.size() && text[i + 1] == '/')) {
      size_t end = text.find('\n', i);
      if (end == std::string_view::npos) end = text.size();
      comments.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(end - i), codeHere});
      i = end - 1;
      continue;
    }
    if (ch == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      size_t end = text.find("*/", i + 2);
      end = end == std::string_view::npos ? text.size() : end + 2;
      for (size_t k = i; k < end; ++k)
        if (text[k] == '\n') {
          ++line;
          codeHere = false;
          codeOnLine.resize(line + 1, false);
        }
      i = end - 1;
      continue;
    }
    mark();
    if (ch == '"') {
      size_t k = i + 1;
      while (k < text.size() && text[k] != '"' && text[k] != '\n') k += text[k] == '\\' ? 2 : 1;
      i = std::min(k, text.size() - 1);
      if (i < text.size() && text[i] == '\n') --i;
    }
  }
}

constexpr std::string_view kMarker = "membrane-lint:";

std::vector<Suppression> findSuppressions(Context& ctx, FileId file) {
  const auto& sources = ctx.sources();
  std::string_view text = sources.text(file);
  std::vector<LineComment> comments;
  std::vector<bool> codeOnLine;
  scanComments(text, comments, codeOnLine);
  std::vector<Suppression> out;
  for (const auto& c : comments) {
    std::string_view body = text.substr(c.offset, c.length);
    body.remove_prefix(body[0] == '#' ? 1 : 2);
    std::string content = trim(body);
    if (content.rfind(kMarker, 0) != 0) continue;
    SourceRange range{sources.locate(file, c.offset), c.length};
    auto malformed = [&](const std::string& why, const std::string& hint) {
      ctx.report("MB001", range, range, why, hint);
    };
    std::string rest = trim(std::string_view(content).substr(kMarker.size()));
    const std::string kForm = "write `# membrane-lint: disable MB101 -- the reason`";
    if (rest.rfind("disable", 0) != 0) {
      malformed("expected `disable` after `membrane-lint:`", kForm);
      continue;
    }
    rest = rest.substr(7);
    std::string idsText = rest, reason;
    if (auto dash = rest.find("--"); dash != std::string::npos) {
      idsText = rest.substr(0, dash);
      reason = trim(std::string_view(rest).substr(dash + 2));
    }
    Suppression s;
    s.range = range;
    s.reason = reason;
    bool bad = false;
    std::string word;
    auto takeWord = [&] {
      if (word.empty()) return;
      const CheckInfo* check = findCheck(word);
      if (!check) {
        std::string guess = suggestCheck(word);
        malformed("suppression names unknown check '" + word + "'",
                  guess.empty() ? "the checks are listed in docs/lint.md" : "did you mean `" + guess + "`?");
        bad = true;
      } else if (check->id == "MB001" || check->id == "MB002") {
        malformed("check " + check->id + " cannot be suppressed", "fix or delete the suppression comment instead");
        bad = true;
      } else if (std::find(s.ids.begin(), s.ids.end(), check->id) == s.ids.end()) {
        s.ids.push_back(check->id);
      }
      word.clear();
    };
    for (char ch : idsText) {
      if (ch == ',' || ch == ' ' || ch == '\t') takeWord();
      else word += ch;
    }
    takeWord();
    if (s.ids.empty() && !bad) {
      malformed("suppression names no check", kForm);
      continue;
    }
    if (reason.empty()) {
      malformed("suppression has no reason, so it suppresses nothing",
                "give the reason after `--`: `# membrane-lint: disable " + (s.ids.empty() ? "MB101" : s.ids[0]) +
                    " -- why this is fine`");
      continue;
    }
    if (s.ids.empty()) continue;
    // A comment after code covers its line; a comment on a line of its own
    // covers the next line with code.
    uint32_t line0 = range.begin.line - 1;
    if (!c.trailing) {
      size_t l = line0 + 1;
      while (l < codeOnLine.size() && !codeOnLine[l]) ++l;
      if (l >= codeOnLine.size()) {
        malformed("suppression comment is followed by no code", "put it on the line before the finding, or on the same line");
        continue;
      }
      line0 = static_cast<uint32_t>(l);
    }
    s.target = line0 + 1;
    for (const auto& id : s.ids) s.used[id] = false;
    out.push_back(std::move(s));
  }
  return out;
}

bool sortBefore(const Finding& a, const Finding& b) {
  return std::tie(a.range.begin.file, a.range.begin.line, a.range.begin.column, a.check, a.message) <
         std::tie(b.range.begin.file, b.range.begin.line, b.range.begin.column, b.check, b.message);
}

}  // namespace

// ---- the run -----------------------------------------------------------------------

Result lint(const pipeline::Compilation& c, const Options& options, bool inventoryGiven) {
  std::set<std::string> enabled;
  for (const auto& check : catalogue()) {
    bool on = check.enabledByDefault;
    for (const auto& id : options.enable)
      if (findCheck(id) == &check) on = true;
    for (const auto& id : options.disable)
      if (findCheck(id) == &check) on = false;
    if (on) enabled.insert(check.id);
  }
  Result result;
  result.inventoryGiven = inventoryGiven;
  for (const auto& check : catalogue())
    if (enabled.count(check.id) && check.needsInventory && !inventoryGiven) result.notRun.push_back(check.id);
  auto ran = [&](const std::string& id) {
    return enabled.count(id) && std::find(result.notRun.begin(), result.notRun.end(), id) == result.notRun.end();
  };

  Context ctx(c, enabled, inventoryGiven);
  if (c.checked) {
    checkShadowing(ctx);
    checkInventory(ctx);
    checkExposure(ctx);
    checkStructure(ctx);
    checkDns(ctx);
    checkHttp(ctx);
    checkProcess(ctx);
  }

  std::map<FileId, std::vector<Suppression>> suppressions;
  for (const auto& file : c.ast.files) suppressions[file.id] = findSuppressions(ctx, file.id);

  std::vector<Finding> all = std::move(ctx.findings());
  for (auto& f : all) {
    if (f.check == "MB001" || f.check == "MB002") continue;
    auto it = suppressions.find(f.range.begin.file);
    if (it == suppressions.end()) continue;
    for (auto& s : it->second) {
      if (s.target != f.range.begin.line && s.target != f.anchor.begin.line) continue;
      auto u = s.used.find(f.check);
      if (u == s.used.end()) continue;
      u->second = true;
      f.suppressedBecause = s.reason;
      break;
    }
  }
  // Suppressions that silenced nothing; not for checks that did not run.
  Context late(c, enabled, inventoryGiven);
  for (auto& [file, list] : suppressions)
    for (const auto& s : list)
      for (const auto& [id, used] : s.used)
        if (!used && ran(id))
          late.report("MB002", s.range, s.range,
                      "suppression of " + id + " suppresses nothing on line " + std::to_string(s.target),
                      "delete it, or move it next to the finding");
  for (auto& f : late.findings()) all.push_back(std::move(f));

  for (auto& f : all) (f.suppressedBecause ? result.suppressed : result.findings).push_back(std::move(f));
  std::sort(result.findings.begin(), result.findings.end(), sortBefore);
  std::sort(result.suppressed.begin(), result.suppressed.end(), sortBefore);
  for (const auto& f : result.findings) {
    if (f.severity == Severity::Error) ++result.errors;
    if (f.severity == Severity::Warning) ++result.warnings;
    if (f.severity == Severity::Note) ++result.notes;
  }
  return result;
}

}  // namespace membrane::lint
