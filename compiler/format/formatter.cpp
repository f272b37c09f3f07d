#include "format/formatter.h"

#include <algorithm>
#include <sstream>
#include <utility>
#include <vector>

#include "MembraneLexer.h"
#include "MembraneParser.h"
#include "antlr4-runtime.h"
#include "frontend/input_stream.h"
#include "frontend/parser.h"

namespace membrane::format {

namespace {

using P = grammar::MembraneParser;
using antlr4::ParserRuleContext;
using antlr4::Token;

constexpr size_t kNone = SIZE_MAX;
constexpr int kIndent = 2;        // spaces per nesting level
constexpr int kContinuation = 4;  // extra spaces for a statement pushed onto a new line

enum class Brace { None, Block, Selector, Set };

// What the parse tree says about one token (indexed like the full token stream).
struct TokenRole {
  bool lineStart = false;   // begins an item, statement or rule, or closes a non-empty block
  bool blockOpen = false;   // `{` of a policy or section
  bool blockClose = false;  // `}` of a policy or section
  bool forceBlank = false;  // a policy and the items around it are separated by a blank line
  bool inExtension = false; // inside `with NAME { ... }` after its `{`: spacing follows the input
  Brace brace = Brace::None;
  int depth = 0;            // nesting level of the innermost item/statement/rule holding it
};

// A `selector|ports|peers NAME = ...` item, for column alignment.
struct Definition {
  size_t keyword, name, equals, last;  // full token indices
};

bool isHidden(const Token* t) { return t->getChannel() != Token::DEFAULT_CHANNEL; }
bool isComment(const Token* t) { return t->getType() == P::LINE_COMMENT || t->getType() == P::BLOCK_COMMENT; }

// Comments lose trailing blanks at the end of each of their lines (and CRs).
std::string normalizeComment(const std::string& text) {
  std::string out;
  size_t start = 0;
  while (true) {
    size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    size_t end = line.find_last_not_of(" \t\r");
    out += end == std::string::npos ? std::string() : line.substr(0, end + 1);
    if (nl == std::string::npos) break;
    out += '\n';
    start = nl + 1;
  }
  return out;
}

size_t displayWidth(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Every non-whitespace token as (type, text), comments normalized: two texts
// with the same signature are the same program with the same comments.
std::vector<std::pair<size_t, std::string>> signature(const std::string& text) {
  frontend::Utf8InputStream input(text);
  grammar::MembraneLexer lexer(&input);
  lexer.removeErrorListeners();
  std::vector<std::pair<size_t, std::string>> out;
  for (auto t = lexer.nextToken(); t->getType() != Token::EOF; t = lexer.nextToken()) {
    if (t->getType() == P::WS) continue;
    out.emplace_back(t->getType(), isComment(t.get()) ? normalizeComment(t->getText()) : t->getText());
  }
  return out;
}

class Formatter {
 public:
  Formatter(const std::vector<Token*>& tokens, P::FileContext* tree) : tokens_(tokens), roles_(tokens.size()) {
    markFile(tree);
  }

  std::string run() {
    emit();
    align();
    std::string result;
    for (const auto& line : lines_) {
      size_t end = line.find_last_not_of(" \t");
      result += end == std::string::npos ? std::string() : line.substr(0, end + 1);
      result += '\n';
    }
    size_t last = result.find_last_not_of('\n');
    return last == std::string::npos ? std::string() : result.substr(0, last + 1) + "\n";
  }

 private:
  const std::vector<Token*>& tokens_;  // the full stream, EOF last
  std::vector<TokenRole> roles_;
  std::vector<Definition> definitions_;

  // Output, one string per line, and where each default token went.
  std::vector<std::string> lines_;
  std::vector<size_t> tokenLine_, tokenColumn_;

  // ---- structure from the parse tree ----------------------------------------

  size_t index(const Token* t) const { return t->getTokenIndex(); }
  std::string text(size_t i) const { return tokens_[i]->getText(); }

  // The first default-channel token after `i` whose text is `s`.
  size_t nextNamed(size_t i, const std::string& s) const {
    for (size_t k = i + 1; k < tokens_.size(); ++k)
      if (!isHidden(tokens_[k]) && tokens_[k]->getText() == s) return k;
    return kNone;
  }

  void markStatement(ParserRuleContext* ctx, int depth) {
    size_t a = index(ctx->getStart()), b = index(ctx->getStop());
    for (size_t i = a; i <= b && i < roles_.size(); ++i) roles_[i].depth = depth;
    roles_[a].lineStart = true;
  }

  void markBlock(size_t open, size_t close, bool empty) {
    roles_[open].blockOpen = true;
    roles_[open].brace = roles_[close].brace = Brace::Block;
    roles_[close].blockClose = true;
    roles_[close].lineStart = !empty;
  }

  void markFile(P::FileContext* file) {
    bool previousWasPolicy = false;
    bool first = true;
    for (auto* item : file->item()) {
      markStatement(item, 0);
      auto* policy = dynamic_cast<P::PolicyDefContext*>(item);
      if (!first && (policy || previousWasPolicy)) roles_[index(item->getStart())].forceBlank = true;
      first = false;
      previousWasPolicy = policy != nullptr;
      if (policy) {
        markPolicy(policy);
      } else if (auto* sel = dynamic_cast<P::SelectorDefContext*>(item)) {
        addDefinition(item, sel->word());
      } else if (auto* ports = dynamic_cast<P::PortsDefContext*>(item)) {
        addDefinition(item, ports->word());
      } else if (auto* peers = dynamic_cast<P::PeersDefContext*>(item)) {
        addDefinition(item, peers->word());
      }
    }
    markInline(file);
  }

  void addDefinition(P::ItemContext* item, P::WordContext* name) {
    size_t n = index(name->getStart());
    definitions_.push_back({index(item->getStart()), n, nextNamed(n, "="), index(item->getStop())});
  }

  void markPolicy(P::PolicyDefContext* policy) {
    size_t open = nextNamed(index(policy->word()->getStop()), "{");
    auto statements = policy->policyStmt();
    markBlock(open, index(policy->getStop()), statements.empty());
    for (auto* stmt : statements) {
      markStatement(stmt, 1);
      std::vector<P::PolicyRuleContext*> rules;
      if (auto* in = dynamic_cast<P::IngressSectionContext*>(stmt)) {
        rules = in->policyRule();
      } else if (auto* eg = dynamic_cast<P::EgressSectionContext*>(stmt)) {
        rules = eg->policyRule();
      } else {
        continue;
      }
      markBlock(nextNamed(index(stmt->getStart()), "{"), index(stmt->getStop()), rules.empty());
      for (auto* rule : rules) markStatement(rule, 2);
    }
  }

  // Selector and port-set braces, extension bodies: anywhere in the tree.
  void markInline(antlr4::tree::ParseTree* node) {
    if (auto* body = dynamic_cast<P::SelectorBodyContext*>(node)) {
      roles_[index(body->getStart())].brace = roles_[index(body->getStop())].brace = Brace::Selector;
    } else if (dynamic_cast<P::PortSetContext*>(node) || dynamic_cast<P::IcmpSetContext*>(node)) {
      auto* ctx = static_cast<ParserRuleContext*>(node);
      if (ctx->getStart()->getText() == "{")
        roles_[index(ctx->getStart())].brace = roles_[index(ctx->getStop())].brace = Brace::Set;
    } else if (auto* ext = dynamic_cast<P::ExtensionContext*>(node)) {
      size_t open = nextNamed(index(ext->word()->getStop()), "{");
      for (size_t i = open + 1; i <= index(ext->getStop()); ++i) roles_[i].inExtension = true;
      return;  // the body's braces are not selectors or sets
    } else if (auto* clause = dynamic_cast<P::PolicyProcessesContext*>(node)) {
      // `processes { ... }`: a `with process` body, laid out like one.
      size_t open = nextNamed(index(clause->PROCESSES()->getSymbol()), "{");
      for (size_t i = open + 1; i <= index(clause->getStop()); ++i) roles_[i].inExtension = true;
      return;
    }
    for (auto* child : node->children) markInline(child);
  }

  // ---- emission -------------------------------------------------------------

  // The separator between two default tokens on the same line.
  std::string inlineSeparator(size_t prev, size_t cur) const {
    if (roles_[cur].inExtension) {
      // A separator hugs what it follows, however the input was spaced (an
      // import writes one name a line); elsewhere whitespace stays one space.
      if (text(cur) == "," || text(cur) == ";") return "";
      return prev + 1 == cur ? "" : " ";  // anything between was whitespace
    }
    const std::string p = text(prev), c = text(cur);
    if (c == "," || c == ")") return "";
    if (p == "(" || p == "!") return "";
    if (p == "/" || c == "/" || p == "-" || c == "-") return "";
    if ((p == "{" && roles_[prev].brace == Brace::Set) || (c == "}" && roles_[cur].brace == Brace::Set)) return "";
    if (p == "{" && c == "}") return "";
    return " ";
  }

  int statementIndent(size_t i) const { return roles_[i].depth * kIndent; }

  // Where an own-line comment goes when `next` (a default token or kNone for
  // the end of file) follows it.
  int commentIndent(size_t next) const {
    if (next == kNone) return 0;
    if (roles_[next].blockClose) return (roles_[next].depth + 1) * kIndent;
    if (roles_[next].lineStart) return statementIndent(next);
    return statementIndent(next) + kContinuation;
  }

  void newLine(bool blank, int indent) {
    if (blank) lines_.emplace_back();
    lines_.emplace_back(static_cast<size_t>(indent), ' ');
  }

  void emit() {
    const size_t n = tokens_.size() - 1;  // without EOF
    std::vector<size_t> nextDefault(n + 1, kNone);
    for (size_t i = n; i-- > 0;) nextDefault[i] = isHidden(tokens_[i]) ? nextDefault[i + 1] : i;
    tokenLine_.assign(n, kNone);
    tokenColumn_.assign(n, kNone);

    bool emittedAny = false;
    bool needNewline = false;      // a line comment ends the current line
    bool afterOpen = false;        // nothing on its own line since a block's `{`
    bool lastWasComment = false;
    bool lastOwnLine = false;      // ... and it was on a line of its own
    bool gapFirst = true;          // no own-line element yet since the last default token
    int newlines = 0;              // line breaks in the input since the last element
    size_t prev = kNone;

    for (size_t i = 0; i < n; ++i) {
      const Token* t = tokens_[i];
      if (t->getType() == P::WS) {
        const std::string ws = t->getText();
        newlines += static_cast<int>(std::count(ws.begin(), ws.end(), '\n'));
        continue;
      }
      if (isComment(t)) {
        size_t next = nextDefault[i];
        bool own = !emittedAny || newlines > 0;
        if (!own) {
          lines_.back() += " ";
        } else if (!emittedAny) {
          newLine(false, commentIndent(next));
        } else {
          bool boundary = next == kNone || roles_[next].lineStart || roles_[next].blockClose;
          bool forced = next != kNone && roles_[next].forceBlank && gapFirst;
          newLine(boundary && ((newlines >= 2 && !afterOpen) || forced), commentIndent(next));
          afterOpen = false;
          gapFirst = false;
        }
        std::string body = normalizeComment(t->getText());
        size_t nl = body.find('\n');
        lines_.back() += body.substr(0, nl);
        while (nl != std::string::npos) {  // a block comment's further lines, as written
          size_t from = nl + 1;
          nl = body.find('\n', from);
          lines_.push_back(body.substr(from, nl == std::string::npos ? std::string::npos : nl - from));
        }
        needNewline = t->getType() == P::LINE_COMMENT;
        lastWasComment = true;
        lastOwnLine = own;
        emittedAny = true;
        newlines = 0;
        continue;
      }

      const TokenRole& role = roles_[i];
      bool startsLine = role.lineStart || needNewline || (lastWasComment && lastOwnLine && newlines > 0);
      if (!emittedAny) {
        newLine(false, statementIndent(i));
      } else if (startsLine) {
        bool structural = role.lineStart || role.blockClose;
        bool blank = role.lineStart && !role.blockClose &&
                     ((newlines >= 2 && !afterOpen) || (role.forceBlank && gapFirst));
        newLine(blank, structural ? statementIndent(i) : statementIndent(i) + kContinuation);
      } else {
        lines_.back() += lastWasComment ? " " : inlineSeparator(prev, i);
      }
      tokenLine_[i] = lines_.size() - 1;
      tokenColumn_[i] = lines_.back().size();
      lines_.back() += t->getText();

      if (startsLine) afterOpen = false;
      if (role.blockOpen) afterOpen = true;
      needNewline = false;
      lastWasComment = false;
      gapFirst = true;
      emittedAny = true;
      newlines = 0;
      prev = i;
    }
  }

  // Consecutive one-line definitions: keywords and names in columns.
  void align() {
    std::vector<const Definition*> onLine(lines_.size(), nullptr);
    for (const auto& d : definitions_) {
      bool oneLine = tokenColumn_[d.keyword] == 0 && tokenLine_[d.last] == tokenLine_[d.keyword];
      for (size_t i = d.keyword + 1; oneLine && i < d.equals; ++i)
        oneLine = i == d.name || tokens_[i]->getType() == P::WS;  // no comment before `=`
      if (oneLine) onLine[tokenLine_[d.keyword]] = &d;
    }
    for (size_t start = 0; start < lines_.size();) {
      size_t end = start;
      while (end < lines_.size() && onLine[end]) ++end;
      if (end - start >= 2) {
        size_t keywordWidth = 0, nameWidth = 0;
        for (size_t l = start; l < end; ++l) {
          keywordWidth = std::max(keywordWidth, displayWidth(text(onLine[l]->keyword)));
          nameWidth = std::max(nameWidth, displayWidth(text(onLine[l]->name)));
        }
        for (size_t l = start; l < end; ++l) {
          const Definition& d = *onLine[l];
          std::string keyword = text(d.keyword), name = text(d.name);
          lines_[l] = keyword + std::string(keywordWidth - displayWidth(keyword) + 1, ' ') + name +
                      std::string(nameWidth - displayWidth(name) + 1, ' ') + lines_[l].substr(tokenColumn_[d.equals]);
        }
      }
      start = end == start ? start + 1 : end;
    }
  }
};

std::string formatParsed(const std::string& text) {
  frontend::Utf8InputStream input(text);
  grammar::MembraneLexer lexer(&input);
  antlr4::CommonTokenStream stream(&lexer);
  P parser(&stream);
  lexer.removeErrorListeners();
  parser.removeErrorListeners();
  auto* tree = parser.file();
  if (parser.getNumberOfSyntaxErrors() > 0)
    throw FormatInternalError("the formatter's parse disagrees with the front end's");
  stream.fill();
  std::string out = Formatter(stream.getTokens(), tree).run();
  if (signature(out) != signature(text))
    throw FormatInternalError("formatting would change the program's tokens; nothing was changed");
  return out;
}

}  // namespace

std::optional<std::string> formatFile(FileId file, const SourceManager& sources, DiagnosticEngine& diags) {
  if (!frontend::parseFile(file, sources, diags)) return std::nullopt;
  return formatParsed(sources.text(file));
}

std::optional<std::string> formatPolicy(const std::string& text, std::string* errors, const std::string& path) {
  SourceManager sources;
  DiagnosticEngine diags(sources);
  FileId id = sources.add(path, text);
  auto out = formatFile(id, sources, diags);
  if (!out && errors) {
    std::ostringstream os;
    diags.print(os, false);
    *errors = os.str();
  }
  return out;
}

// ---- unified diff -------------------------------------------------------------

namespace {

// Lines with their "\n" (the last one may have none), so a missing final
// newline is a difference like any other.
std::vector<std::string> splitLines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    size_t end = nl == std::string::npos ? s.size() : nl + 1;
    out.push_back(s.substr(start, end - start));
    start = end;
  }
  return out;
}

struct Edit {
  char kind;  // ' ', '-', '+'
  const std::string* line;
  size_t oldBefore, newBefore;  // lines of each side before this one
};

std::vector<Edit> diffLines(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  size_t pre = 0;
  while (pre < a.size() && pre < b.size() && a[pre] == b[pre]) ++pre;
  size_t suf = 0;
  while (suf < a.size() - pre && suf < b.size() - pre && a[a.size() - 1 - suf] == b[b.size() - 1 - suf]) ++suf;
  size_t n = a.size() - pre - suf, m = b.size() - pre - suf;

  std::vector<char> middle;  // edit kinds for the differing middle
  constexpr size_t kMaxCells = 16u << 20;
  if (n > 0 && m > 0 && (n + 1) * (m + 1) <= kMaxCells) {
    // Longest common subsequence, backwards so the walk below goes forwards.
    std::vector<uint32_t> lcs((n + 1) * (m + 1), 0);
    auto at = [&](size_t i, size_t j) -> uint32_t& { return lcs[i * (m + 1) + j]; };
    for (size_t i = n; i-- > 0;)
      for (size_t j = m; j-- > 0;)
        at(i, j) = a[pre + i] == b[pre + j] ? at(i + 1, j + 1) + 1 : std::max(at(i + 1, j), at(i, j + 1));
    size_t i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[pre + i] == b[pre + j]) {
        middle.push_back(' '), ++i, ++j;
      } else if (j < m && (i == n || at(i, j + 1) > at(i + 1, j))) {
        middle.push_back('+'), ++j;
      } else {
        middle.push_back('-'), ++i;
      }
    }
  } else {
    middle.assign(n, '-');
    middle.insert(middle.end(), m, '+');
  }

  std::vector<Edit> edits;
  size_t i = 0, j = 0;
  auto push = [&](char kind) {
    edits.push_back({kind, kind == '+' ? &b[j] : &a[i], i, j});
    if (kind != '+') ++i;
    if (kind != '-') ++j;
  };
  for (size_t k = 0; k < pre; ++k) push(' ');
  for (char kind : middle) push(kind);
  for (size_t k = 0; k < suf; ++k) push(' ');
  return edits;
}

std::string range(size_t before, size_t count) {
  size_t start = count == 0 ? before : before + 1;
  return count == 1 ? std::to_string(start) : std::to_string(start) + "," + std::to_string(count);
}

}  // namespace

std::string unifiedDiff(const std::string& before, const std::string& after, const std::string& fromLabel,
                        const std::string& toLabel) {
  if (before == after) return {};
  auto a = splitLines(before), b = splitLines(after);
  auto edits = diffLines(a, b);
  constexpr size_t kContext = 3;

  std::string out = "--- " + fromLabel + "\n+++ " + toLabel + "\n";
  size_t i = 0;
  while (i < edits.size()) {
    if (edits[i].kind == ' ') {
      ++i;
      continue;
    }
    size_t start = i >= kContext ? i - kContext : 0;
    size_t last = i;
    size_t j = i;
    for (; j < edits.size(); ++j) {
      if (edits[j].kind != ' ') last = j;
      else if (j - last > 2 * kContext) break;
    }
    size_t end = std::min(edits.size(), last + kContext + 1);
    size_t oldCount = 0, newCount = 0;
    for (size_t k = start; k < end; ++k) {
      oldCount += edits[k].kind != '+';
      newCount += edits[k].kind != '-';
    }
    out += "@@ -" + range(edits[start].oldBefore, oldCount) + " +" + range(edits[start].newBefore, newCount) + " @@\n";
    for (size_t k = start; k < end; ++k) {
      out += edits[k].kind;
      out += *edits[k].line;
      if (edits[k].line->empty() || edits[k].line->back() != '\n') out += "\n\\ No newline at end of file\n";
    }
    i = end;
  }
  return out;
}

}  // namespace membrane::format
