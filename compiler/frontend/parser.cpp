#include "frontend/parser.h"

#include <set>

#include "MembraneLexer.h"
#include "MembraneParser.h"
#include "antlr4-runtime.h"
#include "frontend/ast_builder.h"
#include "frontend/input_stream.h"
#include "support/utf8.h"

namespace membrane::frontend {

namespace {

using P = grammar::MembraneParser;

// How an expected token reads in a message: keywords and punctuation quoted,
// token classes by what they are.
std::string describeToken(const antlr4::dfa::Vocabulary& vocab, size_t type) {
  switch (type) {
    case antlr4::Token::EOF: return "end of file";
    case P::NAME: return "a name";
    case P::NUMBER: return "a number";
    case P::ADDRESS: return "an address or prefix";
    case P::STRING: return "a string";
  }
  std::string lit = vocab.getLiteralName(type);
  if (lit.size() >= 2 && lit.front() == '\'') return "`" + lit.substr(1, lit.size() - 2) + "`";
  return vocab.getDisplayName(type);
}

class DiagnosticErrorListener : public antlr4::BaseErrorListener {
 public:
  DiagnosticErrorListener(const BuildContext& ctx) : ctx_(ctx) {}

  void syntaxError(antlr4::Recognizer* recognizer, antlr4::Token* offending, size_t line,
                   size_t col, const std::string& antlrMessage, std::exception_ptr) override {
    ++errors_;
    // After a syntax error, ANTLR's recovery often trips over the rest of the
    // same item; report again only from the next top-level item on.
    if (suppressing_) return;
    suppressing_ = true;
    lastErrorToken_ = offending ? offending->getTokenIndex() : SIZE_MAX;
    SourceRange where;
    if (offending) {
      where = ctx_.rangeOf(offending, offending);
      if (offending->getType() == antlr4::Token::EOF) {
        // Point just past the last thing written, not at an empty last line.
        const std::string& text = ctx_.sources.text(ctx_.file);
        size_t end = text.find_last_not_of(" \t\r\n");
        uint32_t at = end == std::string::npos ? 0 : static_cast<uint32_t>(end + 1);
        where = SourceRange{ctx_.sources.locate(ctx_.file, at), 0};
      }
    } else {
      where.begin = ctx_.sources.locate(ctx_.file, 0);
      where.begin.line = static_cast<uint32_t>(line);
      where.begin.column = static_cast<uint32_t>(col + 1);
    }
    // One error per position: ANTLR's recovery can report the same spot twice.
    if (!reported_.insert(where.begin.offset).second) return;

    auto* parser = dynamic_cast<antlr4::Parser*>(recognizer);
    if (!parser || !offending) {
      ctx_.diags.error(where, antlrMessage);
      return;
    }
    const auto& vocab = parser->getVocabulary();
    std::vector<std::string> expected;
    std::vector<std::string> keywordsExpected;
    bool nameExpected = false;
    for (size_t t : parser->getExpectedTokens().toList()) {
      if (t == P::NAME) nameExpected = true;
      std::string lit = vocab.getLiteralName(t);
      if (lit.size() > 2 && std::isalpha(static_cast<unsigned char>(lit[1])))
        keywordsExpected.push_back(lit.substr(1, lit.size() - 2));
      expected.push_back(describeToken(vocab, t));
    }
    // When any word would do, listing every keyword is noise.
    if (nameExpected) {
      std::vector<std::string> compact;
      for (auto& e : expected)
        if (e.empty() || e[0] != '`' || !std::isalpha(static_cast<unsigned char>(e[1]))) compact.push_back(e);
      expected = compact;
    }

    std::string found = offending->getType() == antlr4::Token::EOF ? "end of file"
                                                                   : "`" + offending->getText() + "`";
    std::string message;
    if (expected.empty()) {
      message = "unexpected " + found;
    } else if (expected.size() > 10) {
      message = "unexpected " + found;
    } else {
      message = "expected ";
      for (size_t i = 0; i < expected.size(); ++i) {
        if (i) message += i + 1 == expected.size() ? " or " : ", ";
        message += expected[i];
      }
      message += ", found " + found;
    }
    std::string hint;
    if (offending->getType() == P::NAME && !nameExpected) {
      std::string guess = closestMatch(offending->getText(), keywordsExpected);
      if (!guess.empty()) hint = "did you mean `" + guess + "`?";
    }
    if (hint.empty() && offending->getType() == P::OTHER && offending->getText() == "\"")
      hint = "strings must end on the same line";
    if (hint.empty() && offending->getText() == "/") {
      const std::string& text = ctx_.sources.text(ctx_.file);
      uint32_t next = where.begin.offset + 1;
      if (next < text.size() && text[next] == '*') hint = "this `/*` comment is never closed with `*/`";
    }
    ctx_.diags.error(where, message, hint);
  }

  size_t errors() const { return errors_; }

  // A top-level item that starts after the last error: errors from here on
  // are new ones, not fallout.
  void itemStarted(antlr4::ParserRuleContext* item) {
    if (suppressing_ && item->getStart() && item->getStart()->getTokenIndex() > lastErrorToken_ &&
        lastErrorToken_ != SIZE_MAX)
      suppressing_ = false;
  }

 private:
  bool suppressing_ = false;
  size_t lastErrorToken_ = 0;
  const BuildContext& ctx_;
  size_t errors_ = 0;
  std::set<uint32_t> reported_;
};

// The lexer's tokens without the hidden channel. The parser never looks at
// whitespace and comments (the formatter lexes for itself), and every token
// kept costs about 150 bytes: half of a typical file's tokens are whitespace,
// all of a file of comments.
class DefaultChannelOnly : public antlr4::TokenSource {
 public:
  explicit DefaultChannelOnly(antlr4::Lexer& lexer) : lexer_(lexer) {}
  std::unique_ptr<antlr4::Token> nextToken() override {
    for (;;) {
      auto t = lexer_.nextToken();
      if (t->getChannel() == antlr4::Token::DEFAULT_CHANNEL || t->getType() == antlr4::Token::EOF) return t;
    }
  }
  size_t getLine() const override { return lexer_.getLine(); }
  size_t getCharPositionInLine() override { return lexer_.getCharPositionInLine(); }
  antlr4::CharStream* getInputStream() override { return lexer_.getInputStream(); }
  std::string getSourceName() override { return lexer_.getSourceName(); }
  antlr4::TokenFactory<antlr4::CommonToken>* getTokenFactory() override { return lexer_.getTokenFactory(); }

 private:
  antlr4::Lexer& lexer_;
};

// The parser descends once per nested `{` (the bodies of `with NAME { ... }`
// nest freely), so 70,000 of them overflowed the stack, and ANTLR's error
// recovery costs the square of the depth at each error. Real policies nest
// four or five levels; the lexed tokens are checked before parsing, so the
// parser never sees a deeper file. Returns false (reported at the first `{`
// past the limit) when the file nests too deep.
bool nestingWithinLimit(antlr4::CommonTokenStream& tokens, const BuildContext& ctx) {
  tokens.fill();
  size_t depth = 0;
  for (antlr4::Token* t : tokens.getTokens()) {
    if (t->getStopIndex() != t->getStartIndex()) continue;
    std::string text = t->getText();
    if (text == "}" && depth > 0) --depth;
    if (text != "{" || ++depth <= kMaxNesting) continue;
    ctx.diags.error(ctx.rangeOf(t, t), "blocks nest deeper than " + std::to_string(kMaxNesting),
                    "policies need a few levels; look for a `}` missing further up");
    return false;
  }
  return true;
}

class ItemListener : public antlr4::tree::ParseTreeListener {
 public:
  explicit ItemListener(DiagnosticErrorListener& errors) : errors_(errors) {}
  void visitTerminal(antlr4::tree::TerminalNode*) override {}
  void visitErrorNode(antlr4::tree::ErrorNode*) override {}
  void enterEveryRule(antlr4::ParserRuleContext* ctx) override {
    // By rule index, not dynamic_cast: this runs for every rule of every file.
    if (ctx->getRuleIndex() == P::RuleItem) errors_.itemStarted(ctx);
  }
  void exitEveryRule(antlr4::ParserRuleContext*) override {}

 private:
  DiagnosticErrorListener& errors_;
};

}  // namespace

std::optional<ast::File> parseFile(FileId file, const SourceManager& sources, DiagnosticEngine& diags) {
  const std::string& text = sources.text(file);
  if (size_t bad = firstInvalidUtf8(text); bad != std::string::npos) {
    diags.error(SourceRange{sources.locate(file, static_cast<uint32_t>(bad)), 1}, "policy files must be UTF-8",
                "this byte is not valid UTF-8; save the file as UTF-8");
    return std::nullopt;
  }
  OffsetMap offsets(text);
  BuildContext ctx{file, sources, diags, offsets};

  Utf8InputStream input(text);
  grammar::MembraneLexer lexer(&input);
  DefaultChannelOnly visible(lexer);
  antlr4::CommonTokenStream tokens(&visible);
  grammar::MembraneParser parser(&tokens);
  DiagnosticErrorListener listener(ctx);
  lexer.removeErrorListeners();
  lexer.addErrorListener(&listener);
  if (!nestingWithinLimit(tokens, ctx)) return std::nullopt;
  parser.removeErrorListeners();
  parser.addErrorListener(&listener);
  ItemListener items(listener);
  parser.addParseListener(&items);

  auto* tree = parser.file();
  if (listener.errors() > 0) return std::nullopt;
  size_t before = diags.errorCount();
  ast::File result = buildAst(tree, ctx);
  if (diags.errorCount() > before) return std::nullopt;
  return result;
}

}  // namespace membrane::frontend
