// YAML access with positions, and Kubernetes label selectors.
#include <algorithm>
#include <charconv>

#include "k8s/convert.h"

namespace membrane::k8s {

Context::Context(FileId file, const SourceManager& sources, DiagnosticEngine& diags)
    : file_(file), sources_(sources), diags_(diags) {
  const std::string& text = sources.text(file);
  lineStarts_.push_back(0);
  for (uint32_t i = 0; i < text.size(); ++i)
    if (text[i] == '\n') lineStarts_.push_back(i + 1);
}

SourceRange Context::at(const YAML::Mark& mark, uint32_t length) const {
  if (mark.is_null() || mark.line < 0) return SourceRange{SourceLoc{file_, 1, 1, 0}, 0};
  uint32_t line = static_cast<uint32_t>(mark.line) + 1;
  uint32_t column = static_cast<uint32_t>(std::max(mark.column, 0)) + 1;
  uint32_t offset = line <= lineStarts_.size() ? lineStarts_[line - 1] + column - 1 : 0;
  return SourceRange{SourceLoc{file_, line, column, offset}, length};
}

SourceRange Context::at(const YAML::Node& node) const {
  if (!node.IsDefined()) return at(YAML::Mark::null_mark());
  uint32_t length = 0;
  if (node.IsScalar()) length = static_cast<uint32_t>(node.Scalar().size()) + (isPlainScalar(node) ? 0 : 2);
  return at(node.Mark(), length);
}

void Context::error(const YAML::Node& node, const std::string& message, const std::string& hint) {
  ++errors_;
  diags_.error(at(node), message, hint);
}

void Context::warning(const YAML::Node& node, const std::string& message, const std::string& hint) {
  diags_.warning(at(node), message, hint);
}

void Context::note(const YAML::Node& node, const std::string& message) {
  diags_.report({Severity::Note, at(node), message, "", {}});
}

std::string Context::where(const YAML::Node& node) const {
  return path() + ":" + std::to_string(at(node).begin.line);
}

bool isPlainScalar(const YAML::Node& node) { return node.IsScalar() && node.Tag() == "?"; }

YAML::Node Context::get(const YAML::Node& map, const std::string& key) {
  if (!map.IsDefined() || !map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) {
      if (it->second.IsNull()) return YAML::Node(YAML::NodeType::Undefined);
      return it->second;
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

static const char* typeName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Null: return "null";
    default: return "nothing";
  }
}

std::optional<std::string> Context::string(const YAML::Node& node, const std::string& what) {
  if (!node.IsScalar()) {
    error(node, what + ": expected a string, got " + typeName(node));
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<int64_t> Context::integer(const YAML::Node& node, const std::string& what) {
  if (node.IsScalar() && isPlainScalar(node)) {
    const std::string& s = node.Scalar();
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && ptr == s.data() + s.size()) return v;
  }
  error(node, what + ": expected an integer, got " +
                  (node.IsScalar() ? "'" + node.Scalar() + "'" : std::string(typeName(node))));
  return std::nullopt;
}

std::optional<bool> Context::boolean(const YAML::Node& node, const std::string& what) {
  if (node.IsScalar() && isPlainScalar(node)) {
    if (node.Scalar() == "true") return true;
    if (node.Scalar() == "false") return false;
  }
  error(node, what + ": expected true or false");
  return std::nullopt;
}

bool Context::isMap(const YAML::Node& node, const std::string& what) {
  if (node.IsMap()) return true;
  error(node, what + ": expected a map, got " + typeName(node));
  return false;
}

bool Context::isSequence(const YAML::Node& node, const std::string& what) {
  if (node.IsSequence()) return true;
  error(node, what + ": expected a list, got " + typeName(node));
  return false;
}

void Context::checkKeys(const YAML::Node& map, const std::string& what, std::initializer_list<const char*> known,
                        const std::map<std::string, std::string>& unsupported) {
  if (!map.IsMap()) return;
  std::vector<std::string> knownNames(known.begin(), known.end());
  std::set<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar()) {
      error(it->first, what + ": keys must be strings");
      continue;
    }
    const std::string& key = it->first.Scalar();
    if (!seen.insert(key).second) {
      error(it->first, what + ": duplicate key '" + key + "'");
      continue;
    }
    if (auto u = unsupported.find(key); u != unsupported.end()) {
      error(it->first, what + ": `" + key + "` is not supported: " + u->second);
      continue;
    }
    if (std::find(knownNames.begin(), knownNames.end(), key) != knownNames.end()) continue;
    std::string close = closestMatch(key, knownNames);
    error(it->first, what + ": unknown field `" + key + "`", close.empty() ? "" : "did you mean `" + close + "`?");
  }
}

// ---- label selectors --------------------------------------------------------------

std::string quoteIfNeeded(const std::string& word) {
  // A bare word must lex as a NAME (docs/language.md): a letter or '_', then
  // letters, digits and `_ . -`. Colons are left out on purpose: a word of
  // hex digits and colons would lex as an IPv6 address.
  bool bare = !word.empty() && (std::isalpha(static_cast<unsigned char>(word[0])) || word[0] == '_');
  for (char ch : word) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.' || ch == '-')) bare = false;
  }
  if (bare) return word;
  std::string out = "\"";
  for (char ch : word) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

static std::string keyText(const std::string& key) {
  auto slash = key.find('/');
  if (slash == std::string::npos) return quoteIfNeeded(key);
  return quoteIfNeeded(key.substr(0, slash)) + "/" + quoteIfNeeded(key.substr(slash + 1));
}

std::string selectorText(const std::vector<Requirement>& reqs) {
  if (reqs.empty()) return "{}";
  std::string out = "{ ";
  for (size_t i = 0; i < reqs.size(); ++i) {
    const Requirement& r = reqs[i];
    if (i) out += ", ";
    auto list = [&] {
      std::string s = "(";
      for (size_t j = 0; j < r.values.size(); ++j) s += (j ? ", " : "") + quoteIfNeeded(r.values[j]);
      return s + ")";
    };
    switch (r.op) {
      case Requirement::Op::Equals: out += keyText(r.key) + " = " + quoteIfNeeded(r.values.at(0)); break;
      // One value reads better as `=` / `!=`, which membrane treats the same.
      case Requirement::Op::In:
        out += keyText(r.key) + (r.values.size() == 1 ? " = " + quoteIfNeeded(r.values[0]) : " in " + list());
        break;
      case Requirement::Op::NotIn:
        out += keyText(r.key) + (r.values.size() == 1 ? " != " + quoteIfNeeded(r.values[0]) : " notin " + list());
        break;
      case Requirement::Op::Exists: out += keyText(r.key); break;
      case Requirement::Op::DoesNotExist: out += "!" + keyText(r.key); break;
    }
  }
  return out + " }";
}

std::optional<std::vector<Requirement>> readLabelSelector(Context& ctx, const YAML::Node& node,
                                                          const std::string& what) {
  if (!node.IsDefined()) return std::vector<Requirement>{};  // null or absent: {}
  if (!ctx.isMap(node, what)) return std::nullopt;
  size_t errorsBefore = ctx.errors();
  ctx.checkKeys(node, what, {"matchLabels", "matchExpressions"});
  std::vector<Requirement> reqs;
  if (YAML::Node labels = ctx.get(node, "matchLabels"); labels.IsDefined() && ctx.isMap(labels, what + ".matchLabels")) {
    for (auto it = labels.begin(); it != labels.end(); ++it) {
      auto key = ctx.string(it->first, what + ".matchLabels key");
      auto value = ctx.string(it->second, what + ".matchLabels value");
      if (key && value) reqs.push_back({Requirement::Op::Equals, *key, {*value}});
    }
  }
  if (YAML::Node exprs = ctx.get(node, "matchExpressions");
      exprs.IsDefined() && ctx.isSequence(exprs, what + ".matchExpressions")) {
    for (const auto& e : exprs) {
      std::string where = what + ".matchExpressions[]";
      if (!ctx.isMap(e, where)) continue;
      ctx.checkKeys(e, where, {"key", "operator", "values"});
      YAML::Node keyNode = ctx.get(e, "key"), opNode = ctx.get(e, "operator"), valuesNode = ctx.get(e, "values");
      if (!keyNode.IsDefined() || !opNode.IsDefined()) {
        ctx.error(e, where + ": needs `key` and `operator`");
        continue;
      }
      auto key = ctx.string(keyNode, where + ".key");
      auto op = ctx.string(opNode, where + ".operator");
      if (!key || !op) continue;
      Requirement r{Requirement::Op::In, *key, {}};
      if (valuesNode.IsDefined() && ctx.isSequence(valuesNode, where + ".values")) {
        for (const auto& v : valuesNode)
          if (auto s = ctx.string(v, where + ".values[]")) r.values.push_back(*s);
      }
      if (*op == "In" || *op == "NotIn") {
        r.op = *op == "In" ? Requirement::Op::In : Requirement::Op::NotIn;
        if (r.values.empty()) ctx.error(e, where + ": operator " + *op + " needs at least one value");
      } else if (*op == "Exists" || *op == "DoesNotExist") {
        r.op = *op == "Exists" ? Requirement::Op::Exists : Requirement::Op::DoesNotExist;
        if (!r.values.empty()) ctx.error(valuesNode, where + ": operator " + *op + " takes no values");
      } else {
        std::string close = closestMatch(*op, {"In", "NotIn", "Exists", "DoesNotExist"});
        ctx.error(opNode, where + ": unknown operator '" + *op + "' (expected In, NotIn, Exists or DoesNotExist)",
                  close.empty() ? "" : "did you mean `" + close + "`?");
        continue;
      }
      reqs.push_back(std::move(r));
    }
  }
  if (ctx.errors() != errorsBefore) return std::nullopt;
  return reqs;
}

}  // namespace membrane::k8s
