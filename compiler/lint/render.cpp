#include "lint/render.h"

#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "support/text.h"

namespace membrane::lint {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

const char* severityName(Severity s) {
  switch (s) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Note: return "note";
  }
  return "";
}

size_t checkIndex(const std::string& id) {
  const auto& all = catalogue();
  for (size_t i = 0; i < all.size(); ++i)
    if (all[i].id == id) return i;
  return 0;
}

// Where a range ends: line and (exclusive) column, at least one byte wide.
SourceLoc endOf(const SourceManager& sources, const SourceRange& r) {
  return sources.locate(r.begin.file, r.begin.offset + std::max<uint32_t>(r.length, 1));
}

// Columns in Unicode code points (SARIF's columnKind), from byte columns.
uint32_t codePointColumn(const SourceManager& sources, FileId file, uint32_t line, uint32_t byteColumn) {
  std::string_view text = sources.lineText(file, line);
  uint32_t col = 1;
  for (uint32_t i = 0; i + 1 < byteColumn && i < text.size(); ++i)
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++col;
  if (byteColumn > text.size() + 1) col += byteColumn - static_cast<uint32_t>(text.size()) - 1;
  return col;
}

std::string summaryLine(const pipeline::Compilation& c, const Result& r) {
  std::string s = "lint: ";
  if (r.findings.empty()) {
    s += "no findings";
  } else {
    s += plural(r.errors, "error", "errors") + ", " + plural(r.warnings, "warning", "warnings");
    if (r.notes) s += ", " + plural(r.notes, "note", "notes");
  }
  s += " in " + plural(c.files.size(), "file", "files");
  if (!r.suppressed.empty()) s += " (" + std::to_string(r.suppressed.size()) + " suppressed)";
  if (!r.notRun.empty()) {
    std::string ids;
    for (const auto& id : r.notRun) ids += (ids.empty() ? "" : ", ") + id;
    s += "; not run without an inventory (-i): " + ids;
  }
  return s + "\n";
}

ordered_json findingJson(const pipeline::Compilation& c, const Finding& f) {
  const auto& sources = c.sources;
  const CheckInfo* info = findCheck(f.check);
  SourceLoc end = endOf(sources, f.range);
  ordered_json j{{"check", f.check},
                 {"name", info->name},
                 {"severity", severityName(f.severity)},
                 {"message", f.message}};
  if (!f.hint.empty()) j["hint"] = f.hint;
  j["file"] = sources.path(f.range.begin.file);
  j["line"] = f.range.begin.line;
  j["column"] = f.range.begin.column;
  j["endLine"] = end.line;
  j["endColumn"] = end.column;
  ordered_json related = ordered_json::array();
  for (const auto& rl : f.related)
    related.push_back({{"file", sources.path(rl.range.begin.file)},
                       {"line", rl.range.begin.line},
                       {"column", rl.range.begin.column},
                       {"message", rl.message}});
  j["related"] = std::move(related);
  if (f.suppressedBecause) j["reason"] = *f.suppressedBecause;
  return j;
}

std::string percentEncodePath(const std::string& path) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : path) {
    if (std::isalnum(ch) || ch == '/' || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += hex[ch >> 4];
      out += hex[ch & 15];
    }
  }
  return out;
}

}  // namespace

std::string relativePath(const std::string& path, const std::string& root) {
  std::error_code ec;
  fs::path abs = fs::absolute(path, ec).lexically_normal();
  fs::path base = fs::path(root).lexically_normal();
  fs::path rel = abs.lexically_relative(base);
  std::string s = rel.generic_string();
  if (rel.empty() || s == ".." || s.rfind("../", 0) == 0) return abs.generic_string();
  return s;
}

std::string githubEscapeData(std::string_view s) {
  std::string out;
  for (char ch : s) {
    if (ch == '%') out += "%25";
    else if (ch == '\r') out += "%0D";
    else if (ch == '\n') out += "%0A";
    else out += ch;
  }
  return out;
}

std::string githubEscapeProperty(std::string_view s) {
  std::string out;
  for (char ch : githubEscapeData(s)) {
    if (ch == ':') out += "%3A";
    else if (ch == ',') out += "%2C";
    else out += ch;
  }
  return out;
}

std::string renderHuman(const pipeline::Compilation& c, const Result& r, const RenderOptions& o) {
  std::ostringstream out;
  DiagnosticEngine printer(c.sources);
  for (const auto& f : r.findings) {
    Diagnostic d{f.severity, f.range, f.message + " [" + f.check + " " + findCheck(f.check)->name + "]", f.hint, {}};
    for (const auto& rl : f.related) d.notes.push_back({Severity::Note, rl.range, rl.message, "", {}});
    printer.print(out, d, o.color);
  }
  out << summaryLine(c, r);
  return out.str();
}

std::string renderJson(const pipeline::Compilation& c, const Result& r, const RenderOptions&) {
  ordered_json findings = ordered_json::array(), suppressed = ordered_json::array();
  for (const auto& f : r.findings) findings.push_back(findingJson(c, f));
  for (const auto& f : r.suppressed) suppressed.push_back(findingJson(c, f));
  ordered_json doc{{"version", 1},
                   {"findings", std::move(findings)},
                   {"suppressed", std::move(suppressed)},
                   {"notRun", r.notRun},
                   {"summary",
                    {{"files", c.files.size()},
                     {"errors", r.errors},
                     {"warnings", r.warnings},
                     {"notes", r.notes},
                     {"suppressed", r.suppressed.size()}}}};
  return doc.dump(2) + "\n";
}

std::string renderSarif(const pipeline::Compilation& c, const Result& r, const RenderOptions& o) {
  const auto& sources = c.sources;
  ordered_json rules = ordered_json::array();
  for (const auto& check : catalogue()) {
    std::string anchor = lowercase(check.id);
    std::string help = check.explanation + "\n\nFix: " + check.fix;
    std::string markdown = check.explanation + "\n\n**Fix:** " + check.fix + "\n\nSee `docs/lint.md` (`" + check.id + "`).";
    if (check.needsInventory) help += "\n\nRuns only with an inventory (-i).";
    rules.push_back({{"id", check.id},
                     {"name", check.name},
                     {"shortDescription", {{"text", check.title}}},
                     {"fullDescription", {{"text", check.explanation}}},
                     {"help", {{"text", help}, {"markdown", markdown}}},
                     {"defaultConfiguration", {{"level", severityName(check.severity)}, {"enabled", check.enabledByDefault}}},
                     {"properties", {{"tags", {"network-policy"}}}}});
  }
  auto location = [&](const SourceRange& range) {
    SourceLoc end = endOf(sources, range);
    FileId file = range.begin.file;
    ordered_json region{{"startLine", range.begin.line},
                        {"startColumn", codePointColumn(sources, file, range.begin.line, range.begin.column)}};
    if (end.line != range.begin.line) region["endLine"] = end.line;
    region["endColumn"] = codePointColumn(sources, file, end.line, end.column);
    std::string rel = relativePath(sources.path(file), o.root);
    ordered_json artifact{{"uri", rel.rfind('/', 0) == 0 ? "file://" + percentEncodePath(rel) : percentEncodePath(rel)}};
    if (rel.rfind('/', 0) != 0) artifact["uriBaseId"] = "%SRCROOT%";
    return ordered_json{{"physicalLocation", {{"artifactLocation", std::move(artifact)}, {"region", std::move(region)}}}};
  };
  ordered_json results = ordered_json::array();
  for (const auto& f : r.findings) {
    std::string text = f.message;
    if (!f.hint.empty()) text += " (" + f.hint + ")";
    ordered_json res{{"ruleId", f.check},
                     {"ruleIndex", checkIndex(f.check)},
                     {"level", severityName(f.severity)},
                     {"message", {{"text", text}}},
                     {"locations", ordered_json::array({location(f.range)})}};
    if (!f.related.empty()) {
      ordered_json related = ordered_json::array();
      int id = 1;
      for (const auto& rl : f.related) {
        ordered_json loc = location(rl.range);
        loc["id"] = id++;
        loc["message"] = {{"text", rl.message}};
        related.push_back(std::move(loc));
      }
      res["relatedLocations"] = std::move(related);
    }
    results.push_back(std::move(res));
  }
  std::string rootUri = "file://" + percentEncodePath(fs::path(o.root).lexically_normal().generic_string());
  if (rootUri.back() != '/') rootUri += '/';
  ordered_json run{{"tool",
                    {{"driver",
                      {{"name", "membranec lint"},
                       {"semanticVersion", o.toolVersion},
                       {"rules", std::move(rules)}}}}},
                   {"originalUriBaseIds", {{"%SRCROOT%", {{"uri", rootUri}}}}},
                   {"columnKind", "unicodeCodePoints"},
                   {"results", std::move(results)}};
  ordered_json doc{{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
                   {"version", "2.1.0"},
                   {"runs", ordered_json::array({std::move(run)})}};
  return doc.dump(2) + "\n";
}

std::string renderGithub(const pipeline::Compilation& c, const Result& r, const RenderOptions& o) {
  std::string out;
  for (const auto& f : r.findings) {
    const char* command = f.severity == Severity::Error ? "error" : f.severity == Severity::Warning ? "warning" : "notice";
    SourceLoc end = endOf(c.sources, f.range);
    std::string props = "file=" + githubEscapeProperty(relativePath(c.sources.path(f.range.begin.file), o.root)) +
                        ",line=" + std::to_string(f.range.begin.line) + ",col=" + std::to_string(f.range.begin.column);
    if (end.line == f.range.begin.line) props += ",endColumn=" + std::to_string(end.column);
    else props += ",endLine=" + std::to_string(end.line);
    props += ",title=" + githubEscapeProperty(f.check);
    std::string message = f.message;
    if (!f.hint.empty()) message += "\nhint: " + f.hint;
    for (const auto& rl : f.related)
      message += "\nnote: " + c.sources.describe(rl.range.begin) + ": " + rl.message;
    out += "::" + std::string(command) + " " + props + "::" + githubEscapeData(message) + "\n";
  }
  return out;
}

std::string render(std::string_view format, const pipeline::Compilation& c, const Result& r, const RenderOptions& o) {
  if (format == "human") return renderHuman(c, r, o);
  if (format == "json") return renderJson(c, r, o);
  if (format == "sarif") return renderSarif(c, r, o);
  if (format == "github") return renderGithub(c, r, o);
  return "";
}

}  // namespace membrane::lint
