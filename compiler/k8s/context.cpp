// YAML access with positions, how kubectl reads what is there, and
// Kubernetes label selectors.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include "frontend/lexical.h"
#include "k8s/convert.h"
#include "names/names.h"
#include "support/utf8.h"

namespace membrane::k8s {

namespace {

// Deeper than any Kubernetes object; a recursive alias reaches it at once.
constexpr size_t kMaxDepth = 256;

// What YAML allows in a stream (and go-yaml v2, so kubectl, checks for every
// character): tab, line breaks, printable ASCII, NEL, and Unicode outside the
// C1 controls, surrogates and U+FFFE/U+FFFF.
bool isYamlPrintable(char32_t c) {
  return c == 0x09 || c == 0x0A || c == 0x0D || (c >= 0x20 && c <= 0x7E) || c == 0x85 ||
         (c >= 0xA0 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

std::string codePoint(char32_t c) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(c));
  return buf;
}

// kubectl's description of a typed scalar, for messages.
std::string kubectlValue(const KubectlScalar& k) {
  switch (k.type) {
    case KubectlScalar::Type::Null: return "null";
    case KubectlScalar::Type::Bool: return std::string("the boolean ") + (k.boolean ? "true" : "false");
    case KubectlScalar::Type::Int:
      return k.integer ? "the number " + std::to_string(*k.integer) : std::string("a number beyond 64 bits");
    case KubectlScalar::Type::Float: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", k.number);
      return std::string("the number ") + buf;
    }
    default: return "a string";
  }
}

// What a number not written in plain decimal is to kubectl and to YAML 1.2,
// for messages.
std::string spelling(const std::string& text) {
  std::string t = text;
  if (!t.empty() && (t[0] == '-' || t[0] == '+')) t = t.substr(1);
  if (text.find('_') != std::string::npos) return "YAML 1.1 digit separators; a string in YAML 1.2";
  if (t.size() > 1 && t[0] == '0') {
    char p = static_cast<char>(t[1] | 0x20);
    if (p == 'x') return "hexadecimal";
    if (p == 'o') return "octal";
    if (p == 'b') return "YAML 1.1 binary; a string in YAML 1.2";
    size_t digits = t.find_first_not_of('0');
    return "a YAML 1.1 octal number; YAML 1.2 reads " + (digits == std::string::npos ? "0" : t.substr(digits));
  }
  if (text[0] == '+') return "with a sign";
  return "not plain decimal";
}

const char* nameRuleText(NameRule rule) {
  switch (rule) {
    case NameRule::Namespace:
      return "a namespace name is at most 63 lowercase letters, digits and '-', starting and ending with a letter "
             "or digit";
    case NameRule::ObjectName:
      return "an object name is at most 253 lowercase letters, digits, '-' and '.', each '.'-separated part "
             "starting and ending with a letter or digit";
    case NameRule::PortName:
      return "a port name is at most 15 lowercase letters, digits and '-', with at least one letter, no '-' at "
             "either end and no '--'";
    case NameRule::LabelKey:
      return "a label key is an optional DNS name and '/', then at most 63 letters, digits, '-', '_' and '.', "
             "starting and ending with a letter or digit";
    case NameRule::LabelValue:
      return "a label value is empty, or at most 63 letters, digits, '-', '_' and '.', starting and ending with a "
             "letter or digit";
  }
  return "";
}

}  // namespace

std::string shown(const std::string& text, size_t max) {
  std::string out;
  size_t i = 0, count = 0;
  bool utf8 = firstInvalidUtf8(text) == std::string::npos;
  while (i < text.size()) {
    if (++count > max) return out + "...";
    size_t start = i;
    char32_t c = utf8 ? nextCodePoint(text, i) : static_cast<unsigned char>(text[i++]);
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0) || (!utf8 && c >= 0x80)) {
      char buf[12];
      std::snprintf(buf, sizeof buf, c < 0x100 ? "\\x%02X" : "\\u%04X", static_cast<unsigned>(c));
      out += buf;
    } else {
      out.append(text, start, i - start);
    }
  }
  return out;
}

Context::Context(FileId file, const SourceManager& sources, DiagnosticEngine& diags)
    : file_(file), sources_(sources), diags_(diags) {
  if (sources.text(file).starts_with("\xEF\xBB\xBF")) bomLength_ = 3;
}

SourceRange Context::at(const YAML::Mark& mark, uint32_t length) const {
  const std::string& text = sources_.text(file_);
  if (mark.is_null() || mark.pos < 0) return SourceRange{sources_.locate(file_, 0), 0};
  uint32_t offset = static_cast<uint32_t>(std::min<size_t>(static_cast<size_t>(mark.pos) + bomLength_, text.size()));
  SourceLoc loc = sources_.locate(file_, offset);
  // Never past the end of the line: a multi-line scalar's caret stops there.
  size_t eol = text.find('\n', offset);
  size_t rest = (eol == std::string::npos ? text.size() : eol) - offset;
  return SourceRange{loc, static_cast<uint32_t>(std::min<size_t>(length, rest))};
}

SourceRange Context::at(const YAML::Node& node) const {
  if (!node.IsDefined()) return at(YAML::Mark::null_mark());
  uint32_t length = 0;
  if (node.IsScalar()) {
    length = static_cast<uint32_t>(node.Scalar().size());
    // A quoted scalar as written, up to its closing quote (escapes make it
    // longer than its value); at() stops at the end of the line.
    const std::string& text = sources_.text(file_);
    size_t start = node.Mark().pos >= 0 ? static_cast<size_t>(node.Mark().pos) + bomLength_ : text.size();
    if (!isPlainScalar(node) && start < text.size() && (text[start] == '"' || text[start] == '\'')) {
      char quote = text[start];
      size_t i = start + 1;
      while (i < text.size() && text[i] != '\n') {
        if (quote == '"' && text[i] == '\\') i += 2;
        else if (quote == '\'' && text[i] == '\'' && i + 1 < text.size() && text[i + 1] == '\'') i += 2;
        else if (text[i] == quote) break;
        else ++i;
      }
      length = static_cast<uint32_t>(std::min(i + 1, text.size()) - start);
    }
  }
  return at(node.Mark(), length);
}

SourceRange Context::atChar(const YAML::Node& scalar, size_t offset) const {
  if (!scalar.IsScalar() || scalar.Mark().pos < 0 || offset >= scalar.Scalar().size()) return at(scalar);
  const std::string& text = sources_.text(file_);
  size_t start = static_cast<size_t>(scalar.Mark().pos) + bomLength_;
  if (!isPlainScalar(scalar) && start < text.size() && (text[start] == '"' || text[start] == '\'')) ++start;
  // The value's first offset+1 characters, byte for byte in the source, and
  // no line break among them: then the offending character is right there.
  std::string_view written = std::string_view(text).substr(std::min(start, text.size()), offset + 1);
  if (written != std::string_view(scalar.Scalar()).substr(0, offset + 1) || written.find('\n') != std::string_view::npos)
    return at(scalar);
  YAML::Mark mark = scalar.Mark();
  mark.pos = static_cast<int>(start - bomLength_ + offset);
  return at(mark, 1);
}

Diagnostic* Context::error(SourceRange range, const std::string& message, const std::string& hint) {
  ++errors_;
  // Messages quote values from the manifest: no control character reaches
  // the terminal.
  return &diags_.error(range, shown(message, SIZE_MAX), shown(hint, SIZE_MAX));
}

Diagnostic* Context::error(const YAML::Node& node, const std::string& message, const std::string& hint) {
  return error(at(node), message, hint);
}

void Context::warning(const YAML::Node& node, const std::string& message, const std::string& hint) {
  diags_.warning(at(node), shown(message, SIZE_MAX), shown(hint, SIZE_MAX));
}

void Context::note(const YAML::Node& node, const std::string& message) {
  diags_.report({Severity::Note, at(node), shown(message, SIZE_MAX), "", {}});
}

std::string Context::where(const YAML::Node& node) const {
  return path() + ":" + std::to_string(at(node).begin.line);
}

bool isPlainScalar(const YAML::Node& node) { return node.IsScalar() && node.Tag() == "?"; }

// ---- the file and its documents -------------------------------------------------------

bool Context::checkText() {
  const std::string& text = sources_.text(file_);
  if (size_t bad = firstInvalidUtf8(text); bad != std::string::npos) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02X", static_cast<unsigned char>(text[bad]));
    error(SourceRange{sources_.locate(file_, static_cast<uint32_t>(bad)), 1},
          std::string("manifests must be UTF-8: byte ") + buf + " is not valid UTF-8 here",
          "save the file as UTF-8");
    return false;
  }
  for (size_t i = 0; i < text.size();) {
    size_t start = i;
    char32_t c = nextCodePoint(text, i);
    if (isYamlPrintable(c)) continue;
    SourceRange where{sources_.locate(file_, static_cast<uint32_t>(start)), static_cast<uint32_t>(i - start)};
    if (c == 0) {
      error(where, "a NUL byte is not allowed in YAML", "kubectl refuses the file too");
    } else {
      error(where, "control character " + codePoint(c) + " is not allowed in YAML",
            "kubectl refuses the file too; write it as an escape in a double-quoted string if it is meant");
    }
    return false;
  }
  return true;
}

namespace {

// Counts documents and notes where each starts; builds nothing.
class DocumentCounter : public YAML::EventHandler {
 public:
  YAML::Mark start;
  void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

}  // namespace

std::vector<YAML::Node> loadDocuments(const std::string& text) {
  // yaml-cpp 0.7 loops forever, allocating, on a document that starts with a
  // flow entry (a `,` at the top level, or `[a], b`): its parser reports an
  // empty document without consuming the token, again and again (yaml-cpp
  // issue #1040; LoadAll was fixed upstream after 0.8). A first pass builds
  // nothing and stops where a document starts where the previous one did;
  // a stream also has at most one document per 3 bytes (`---`) and one more.
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentCounter counter;
  size_t documents = 0;
  std::optional<int> previous;
  while (parser.HandleNextDocument(counter)) {
    if ((previous && *previous == counter.start.pos) || ++documents > text.size() / 3 + 2)
      throw YAML::ParserException(counter.start, "unexpected `,` outside a flow collection");
    previous = counter.start.pos;
  }
  return YAML::LoadAll(text);
}

// The key as kubectl sees it: sigs.k8s.io/yaml turns typed keys into strings
// (`80` and `"80"` are the same key, `yes` is "true").
static std::string kubectlKey(const YAML::Node& key) {
  KubectlScalar k = kubectlReads(key.Scalar(), key.Tag());
  if (k.type == KubectlScalar::Type::Bool) return k.boolean ? "true" : "false";
  if (k.type == KubectlScalar::Type::Int && k.integer) return std::to_string(*k.integer);
  return key.Scalar();
}

bool Context::walk(const YAML::Node& node, size_t depth, size_t& budget, const YAML::Node& doc) {
  if (budget == 0) {
    error(doc, "this document expands to too many nodes through YAML aliases",
          "kubectl refuses excessive aliasing too; write the repeated parts out");
    return false;
  }
  --budget;
  if (depth > kMaxDepth) {
    error(node, "nested more than " + std::to_string(kMaxDepth) + " levels deep (or a YAML alias inside itself)");
    return false;
  }
  if (node.IsSequence()) {
    for (const auto& item : node)
      if (!walk(item, depth + 1, budget, doc)) return false;
    return true;
  }
  if (!node.IsMap()) return true;
  std::map<std::string, YAML::Node> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    YAML::Node key = it->first;
    bool fresh = reportedKeys_.insert(key.Mark().pos).second;
    if (!key.IsScalar()) {
      if (fresh) error(key, "a key must be a string, not " + std::string(key.IsNull() ? "null" : "a map or a list"));
    } else if (key.Tag() == "?" && key.Scalar() == "<<") {
      if (fresh)
        error(key, "YAML merge keys (`<<`) are not supported",
              "kubectl would merge the aliased map here; write its keys out");
    } else if (auto [first, inserted] = seen.emplace(kubectlKey(key), key); !inserted) {
      if (fresh) {
        Diagnostic* d = error(key, "duplicate key '" + shown(key.Scalar()) + "'",
                              "kubectl refuses duplicate keys (or keeps the last one); keep one");
        d->notes.push_back({Severity::Note, at(first->second), "first defined here", "", {}});
      }
    }
    if (!walk(it->second, depth + 1, budget, doc)) return false;
  }
  return true;
}

bool Context::checkDocument(const YAML::Node& doc) {
  size_t before = errors_;
  // A document without aliases has fewer nodes than bytes; aliases may
  // repeat parts, but not multiply the file by more than a few times.
  size_t budget = 4 * sources_.text(file_).size() + 10000;
  walk(doc, 0, budget, doc);
  return errors_ == before;
}

// ---- typed access --------------------------------------------------------------------

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
  const std::string& s = node.Scalar();
  KubectlScalar k = kubectlReads(s, node.Tag());
  if (k.type == KubectlScalar::Type::Tagged) {
    error(node, what + ": YAML tag `" + node.Tag() + "` is not supported here");
    return std::nullopt;
  }
  if (k.type != KubectlScalar::Type::String) {
    error(node, what + ": expected a string, got `" + s + "`, which kubectl reads as " + kubectlValue(k),
          "quote it: \"" + s + "\"");
    return std::nullopt;
  }
  // YAML escapes (`"\0"`, `"\x85"`) can put into a string what the file may
  // not hold; no field membrane reads has any use for them.
  if (size_t bad = firstInvalidUtf8(s); bad != std::string::npos) {
    error(node, what + ": not valid UTF-8");
    return std::nullopt;
  }
  for (size_t i = 0; i < s.size();) {
    char32_t c = nextCodePoint(s, i);
    if (c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0)) {
      error(node, what + ": control character " + codePoint(c) + " in '" + shown(s) + "'");
      return std::nullopt;
    }
  }
  return s;
}

bool Context::checkName(const YAML::Node& node, const std::string& value, NameRule rule, const std::string& what) {
  std::string why;  // for label keys and values: which part of the rule is broken
  bool ok = true;
  switch (rule) {
    case NameRule::Namespace: ok = names::isDnsLabel(value); break;
    case NameRule::ObjectName: ok = names::isDnsSubdomain(value); break;
    case NameRule::PortName: ok = names::isPortName(value); break;
    case NameRule::LabelKey: ok = (why = names::labelKeyProblem(value)).empty(); break;
    case NameRule::LabelValue: ok = (why = names::labelValueProblem(value)).empty(); break;
  }
  if (ok) return true;
  const char* kind = rule == NameRule::Namespace    ? "namespace name"
                     : rule == NameRule::ObjectName ? "name"
                     : rule == NameRule::PortName   ? "port name"
                     : rule == NameRule::LabelKey   ? "label key"
                                                    : "label value";
  error(node, what + ": '" + shown(value) + "' is not a valid " + kind + (why.empty() ? "" : " (" + why + ")"),
        nameRuleText(rule));
  return false;
}

std::optional<std::string> Context::name(const YAML::Node& node, NameRule rule, const std::string& what) {
  auto s = string(node, what);
  if (!s || !checkName(node, *s, rule, what)) return std::nullopt;
  return s;
}

std::optional<int64_t> Context::plainInteger(const YAML::Node& node, const KubectlScalar& k, const std::string& what) {
  const std::string& s = node.Scalar();
  if (!k.integer) {
    error(node, what + ": " + s + " is out of range");
    return std::nullopt;
  }
  if (!k.unambiguous) {
    error(node, what + ": `" + s + "` is not a plain decimal number: kubectl reads it as " +
                    std::to_string(*k.integer) + " (" + spelling(s) + ")",
          "write " + std::to_string(*k.integer));
    return std::nullopt;
  }
  return k.integer;
}

void Context::notWhole(const YAML::Node& node, const KubectlScalar& k, const std::string& message) {
  // kubectl sends `8080.0` as the JSON number 8080, which an integer field
  // takes; membrane asks for the integer.
  bool whole = std::isfinite(k.number) && std::abs(k.number) < 1e15 &&
               k.number == static_cast<double>(static_cast<int64_t>(k.number));
  std::string n = whole ? std::to_string(static_cast<int64_t>(k.number)) : "";
  error(node, message + ", got `" + node.Scalar() + "`, which kubectl reads as " + kubectlValue(k),
        whole ? "write " + n : "");
}

std::optional<int64_t> Context::integer(const YAML::Node& node, const std::string& what) {
  if (!node.IsScalar()) {
    error(node, what + ": expected an integer, got " + typeName(node));
    return std::nullopt;
  }
  KubectlScalar k = kubectlReads(node.Scalar(), node.Tag());
  const std::string& s = node.Scalar();
  switch (k.type) {
    case KubectlScalar::Type::Int: return plainInteger(node, k, what);
    case KubectlScalar::Type::Float: notWhole(node, k, what + ": expected an integer"); return std::nullopt;
    case KubectlScalar::Type::String: {
      bool digits = !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
      error(node, what + ": expected an integer, got the string '" + shown(s) + "'",
            digits ? "write the number without quotes" : "");
      return std::nullopt;
    }
    case KubectlScalar::Type::Tagged:
      error(node, what + ": YAML tag `" + node.Tag() + "` is not supported here");
      return std::nullopt;
    default:
      error(node, what + ": expected an integer, got `" + s + "`, which kubectl reads as " + kubectlValue(k));
      return std::nullopt;
  }
}

std::optional<Context::IntOrString> Context::intOrString(const YAML::Node& node, const std::string& what) {
  if (!node.IsScalar()) {
    error(node, what + ": expected a number or a name, got " + typeName(node));
    return std::nullopt;
  }
  KubectlScalar k = kubectlReads(node.Scalar(), node.Tag());
  if (k.type == KubectlScalar::Type::Int) {
    auto v = plainInteger(node, k, what);
    if (!v) return std::nullopt;
    return IntOrString{v, ""};
  }
  if (k.type == KubectlScalar::Type::Float) {
    notWhole(node, k, what + ": expected a number or a name");
    return std::nullopt;
  }
  if (k.type == KubectlScalar::Type::Bool) {
    error(node, what + ": expected a number or a name, got `" + node.Scalar() + "`, which kubectl reads as " +
                    kubectlValue(k));
    return std::nullopt;
  }
  auto s = string(node, what);
  if (!s) return std::nullopt;
  return IntOrString{std::nullopt, *s};
}

std::optional<bool> Context::boolean(const YAML::Node& node, const std::string& what) {
  if (node.IsScalar()) {
    KubectlScalar k = kubectlReads(node.Scalar(), node.Tag());
    if (k.type == KubectlScalar::Type::Bool) {
      if (k.unambiguous) return k.boolean;
      error(node, what + ": `" + node.Scalar() + "` is a YAML 1.1 boolean: kubectl reads it as " +
                      (k.boolean ? "true" : "false") + ", YAML 1.2 tools as a string",
            std::string("write ") + (k.boolean ? "true" : "false"));
      return std::nullopt;
    }
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

void Context::checkKeys(const YAML::Node& map, const std::string& what, const std::vector<std::string>& known,
                        const std::map<std::string, std::string>& unsupported) {
  if (!map.IsMap()) return;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar()) continue;  // refused by checkDocument
    const std::string& key = it->first.Scalar();
    if (auto u = unsupported.find(key); u != unsupported.end()) {
      error(it->first, what + ": `" + key + "` is not supported: " + u->second);
      continue;
    }
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string close = closestMatch(key, known);
    error(it->first, what + ": unknown field `" + shown(key) + "`", close.empty() ? "" : "did you mean `" + close + "`?");
  }
}

// ---- label selectors --------------------------------------------------------------

std::string word(const std::string& text) {
  auto token = frontend::quoteWord(text);
  if (!token) throw std::logic_error("a name from a manifest cannot be written as a policy word: " + shown(text));
  return *token;
}

static std::string keyText(const std::string& key) {
  auto slash = key.find('/');
  if (slash == std::string::npos) return word(key);
  return word(key.substr(0, slash)) + "/" + word(key.substr(slash + 1));
}

std::string selectorText(const std::vector<Requirement>& reqs) {
  if (reqs.empty()) return "{}";
  std::string out = "{ ";
  for (size_t i = 0; i < reqs.size(); ++i) {
    const Requirement& r = reqs[i];
    if (i) out += ", ";
    auto list = [&] {
      std::string s = "(";
      for (size_t j = 0; j < r.values.size(); ++j) s += (j ? ", " : "") + word(r.values[j]);
      return s + ")";
    };
    switch (r.op) {
      case Requirement::Op::Equals: out += keyText(r.key) + " = " + word(r.values.at(0)); break;
      // One value reads better as `=` / `!=`, which membrane treats the same.
      case Requirement::Op::In:
        out += keyText(r.key) + (r.values.size() == 1 ? " = " + word(r.values[0]) : " in " + list());
        break;
      case Requirement::Op::NotIn:
        out += keyText(r.key) + (r.values.size() == 1 ? " != " + word(r.values[0]) : " notin " + list());
        break;
      case Requirement::Op::Exists: out += keyText(r.key); break;
      case Requirement::Op::DoesNotExist: out += "!" + keyText(r.key); break;
    }
  }
  return out + " }";
}

std::optional<std::vector<Requirement>> readLabelSelector(Context& ctx, const YAML::Node& node,
                                                          const std::string& what, bool checkKeys) {
  if (!node.IsDefined()) return std::vector<Requirement>{};  // null or absent: {}
  if (!ctx.isMap(node, what)) return std::nullopt;
  size_t errorsBefore = ctx.errors();
  ctx.checkKeys(node, what, {"matchLabels", "matchExpressions"});
  std::vector<Requirement> reqs;
  auto key = [&](const YAML::Node& n, const std::string& field) -> std::optional<std::string> {
    return checkKeys ? ctx.name(n, NameRule::LabelKey, field) : ctx.string(n, field);
  };
  if (YAML::Node labels = ctx.get(node, "matchLabels"); labels.IsDefined() && ctx.isMap(labels, what + ".matchLabels")) {
    for (auto it = labels.begin(); it != labels.end(); ++it) {
      auto k = key(it->first, what + ".matchLabels key");
      auto value = ctx.name(it->second, NameRule::LabelValue, what + ".matchLabels value");
      if (k && value) reqs.push_back({Requirement::Op::Equals, *k, {*value}, it->first, {it->second}});
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
      auto k = key(keyNode, where + ".key");
      auto op = ctx.string(opNode, where + ".operator");
      if (!k || !op) continue;
      Requirement r{Requirement::Op::In, *k, {}, keyNode, {}};
      if (valuesNode.IsDefined() && ctx.isSequence(valuesNode, where + ".values")) {
        for (const auto& v : valuesNode) {
          if (auto s = ctx.name(v, NameRule::LabelValue, where + ".values[]")) {
            r.values.push_back(*s);
            r.valueNodes.push_back(v);
          }
        }
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
