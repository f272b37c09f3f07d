// `membranec fmt`: the canonical layout, comment placement, idempotence and
// meaning preservation (the token sequence never changes), over hand-written
// cases and every policy file in the repository that parses.
#include "format/formatter.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "MembraneLexer.h"
#include "antlr4-runtime.h"
#include "frontend_test_support.h"

namespace membrane {
namespace {

namespace fs = std::filesystem;

// Formats text that must parse.
std::string fmt(const std::string& text) {
  std::string errors;
  auto out = format::formatPolicy(text, &errors);
  EXPECT_TRUE(out.has_value()) << errors;
  return out.value_or("<syntax errors>");
}

// Every token but whitespace, as "TYPE:text", comments with trailing blanks
// dropped from each line: what formatting must not change.
std::vector<std::string> tokens(const std::string& src) {
  antlr4::ANTLRInputStream input(src);
  grammar::MembraneLexer lexer(&input);
  std::vector<std::string> out;
  for (auto t = lexer.nextToken(); t->getType() != antlr4::Token::EOF; t = lexer.nextToken()) {
    if (t->getType() == grammar::MembraneLexer::WS) continue;
    std::string text = t->getText();
    if (t->getChannel() != antlr4::Token::DEFAULT_CHANNEL) {
      std::string trimmed;
      std::istringstream lines(text);
      bool first = true;
      for (std::string line; std::getline(lines, line); first = false) {
        size_t end = line.find_last_not_of(" \t\r");
        if (!first) trimmed += '\n';
        trimmed += end == std::string::npos ? "" : line.substr(0, end + 1);
      }
      text = trimmed;
    }
    out.push_back(std::to_string(t->getType()) + ":" + text);
  }
  return out;
}

void expectStable(const std::string& name, const std::string& text) {
  SCOPED_TRACE(name);
  std::string once = fmt(text);
  EXPECT_EQ(fmt(once), once) << "not idempotent";
  EXPECT_EQ(tokens(once), tokens(text)) << "tokens changed";
  EXPECT_TRUE(testing::compile(once)->diags.errorCount() == testing::compile(text)->diags.errorCount());
  if (!once.empty()) {
    EXPECT_EQ(once.back(), '\n');
  }
  EXPECT_EQ(once.find(" \n"), std::string::npos) << "trailing whitespace";
  EXPECT_EQ(once.find("\n\n\n"), std::string::npos) << "two blank lines";
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every *.policy under policies/ and the fuzz corpus that parses.
std::vector<std::pair<std::string, std::string>> repositoryPolicies() {
  std::vector<std::pair<std::string, std::string>> out;
  fs::path root = MEMBRANE_SOURCE_DIR;
  for (const char* dir : {"policies", "tests/fuzz/corpus"}) {
    std::vector<fs::path> found;
    for (const auto& e : fs::recursive_directory_iterator(root / dir))
      if (e.is_regular_file() && e.path().extension() == ".policy") found.push_back(e.path());
    std::sort(found.begin(), found.end());
    for (const auto& p : found) {
      std::string text = readFile(p);
      if (format::formatPolicy(text)) out.emplace_back(p.lexically_relative(root).string(), text);
    }
  }
  return out;
}

// ---- the repository ----------------------------------------------------------

TEST(FormatterRepository, IdempotentAndTokenPreservingOnEveryParsingFile) {
  auto files = repositoryPolicies();
  EXPECT_GE(files.size(), 13u);  // 8 shop policies and at least 5 corpus files
  for (const auto& [name, text] : files) expectStable(name, text);
}

TEST(FormatterRepository, ShippedPoliciesAreFormatted) {
  for (const auto& [name, text] : repositoryPolicies())
    if (name.rfind("policies/", 0) == 0) {
      EXPECT_EQ(fmt(text), text) << name;
    }
}

// The same programs laid out badly: all on one line, or one token per line.
TEST(FormatterRepository, StableUnderRelayout) {
  for (const auto& [name, text] : repositoryPolicies()) {
    antlr4::ANTLRInputStream input(text);
    grammar::MembraneLexer lexer(&input);
    std::string oneLine, perLine;
    bool lineComment = false;
    for (auto t = lexer.nextToken(); t->getType() != antlr4::Token::EOF; t = lexer.nextToken()) {
      if (t->getType() == grammar::MembraneLexer::WS) continue;
      lineComment |= t->getType() == grammar::MembraneLexer::LINE_COMMENT;
      oneLine += t->getText() + "  ";
      perLine += "\t" + t->getText() + "\r\n\n\n";
    }
    if (!lineComment) expectStable(name + " on one line", oneLine);
    expectStable(name + " one token per line", perLine);
    // Layout is decided by the tokens, not the input's line breaks (blank
    // lines aside, which per-line input has everywhere).
    if (!lineComment && text.find("/*") == std::string::npos && text.find("\n\n") == std::string::npos &&
        text.find(" with ") == std::string::npos) {
      EXPECT_EQ(fmt(oneLine), fmt(text)) << name;
    }
  }
}

// ---- layout ------------------------------------------------------------------

TEST(FormatterLayout, MessySpacingBecomesCanonical) {
  EXPECT_EQ(fmt("namespace   shop\npolicy api{selects {app=api}\n"
                "ingress{allow from pods{app=web}on tcp/80,tcp /{ 80 , 443 },udp/53 deny from world}"
                "  egress {\n\n\n}}"),
            "namespace shop\n"
            "\n"
            "policy api {\n"
            "  selects { app = api }\n"
            "  ingress {\n"
            "    allow from pods { app = web } on tcp/80, tcp/{80, 443}, udp/53\n"
            "    deny from world\n"
            "  }\n"
            "  egress {}\n"
            "}\n");
}

TEST(FormatterLayout, SelectorsAndRequirements) {
  EXPECT_EQ(fmt("selector s={app=web,tier!=data,env in(dev,\"prod\",),!legacy,k8s.io / role,v==1}\n"
                "selector e = {   }\nselector f={app notin ( a )}"),
            "selector s = { app = web, tier != data, env in (dev, \"prod\",), !legacy, k8s.io/role, v == 1 }\n"
            "selector e = {}\n"
            "selector f = { app notin (a) }\n");
}

TEST(FormatterLayout, PortsIcmpAndPeers) {
  EXPECT_EQ(fmt("ports p = tcp / { 8000 - 8099 , http , } , icmp/{ echo-request,8 }, icmpv6 / 128, any, sctp\n"),
            "ports p = tcp/{8000-8099, http,}, icmp/{echo-request, 8}, icmpv6/128, any, sctp\n");
  EXPECT_EQ(fmt("peers q = cidr 10.0.0.0/8 except ( 10.1.0.0/16 ,10.2.0.0/16 ), cidr fd00::/64 except fd00::/80,"
                "service db / api, namespace kube-system, namespaces {team=a}, pods s in namespace n, world\n"),
            "peers q = cidr 10.0.0.0/8 except (10.1.0.0/16, 10.2.0.0/16), cidr fd00::/64 except fd00::/80, "
            "service db/api, namespace kube-system, namespaces { team = a }, pods s in namespace n, world\n");
}

TEST(FormatterLayout, EmptySectionsAndPolicies) {
  EXPECT_EQ(fmt("policy a {\n  selects {}\n  ingress {\n\n  }\n  egress { }\n}\npolicy b { }"),
            "policy a {\n  selects {}\n  ingress {}\n  egress {}\n}\n\npolicy b {}\n");
}

TEST(FormatterLayout, KeywordsAsNamesAndLabelValues) {
  std::string canonical =
      "namespace namespace\n"
      "\n"
      "policy policy {\n"
      "  selects { role = ingress, tier in (from, to), allow }\n"
      "  mode audit\n"
      "  egress {\n"
      "    allow to pods { deny = allow } on tcp/{http, 80}\n"
      "    allow to deny\n"
      "    deny to \"world\" on tcp\n"
      "  }\n"
      "}\n";
  EXPECT_EQ(fmt("namespace namespace policy policy { selects { role = ingress , tier in(from,to), allow } mode audit "
                "egress { allow to pods {deny=allow} on tcp/{http,80} allow to deny deny to \"world\" on tcp } }"),
            canonical);
  EXPECT_EQ(fmt(canonical), canonical);
}

TEST(FormatterLayout, BlankLinesCollapsedAndPoliciesSeparated) {
  EXPECT_EQ(fmt("\n\n\nnamespace shop\n\n\n\nselector a = {}\nselector bb = {}\npolicy p {\n\n\n  selects a\n\n\n"
                "  ingress {\n\n    allow from world\n\n\n\n    allow from host\n\n  }\n\n}\nnamespace x\n\n\n\n"),
            "namespace shop\n"
            "\n"
            "selector a  = {}\n"
            "selector bb = {}\n"
            "\n"
            "policy p {\n"
            "  selects a\n"
            "\n"
            "  ingress {\n"
            "    allow from world\n"
            "\n"
            "    allow from host\n"
            "  }\n"
            "}\n"
            "\n"
            "namespace x\n");
}

TEST(FormatterLayout, DefinitionsAlignedInRuns) {
  EXPECT_EQ(fmt("selector frontend = { app = frontend }\nselector api = { app = api }\n"
                "peers cluster-dns = world\nports dns = udp/53\n\n"
                "peers payment-provider = cidr 198.19.200.0/24\n\n"
                "selector x = {} # trailing\nselector yy = {}\n"
                "# a comment line breaks the run\nselector zzz = {}\n"),
            "selector frontend    = { app = frontend }\n"
            "selector api         = { app = api }\n"
            "peers    cluster-dns = world\n"
            "ports    dns         = udp/53\n"
            "\n"
            "peers payment-provider = cidr 198.19.200.0/24\n"
            "\n"
            "selector x  = {} # trailing\n"
            "selector yy = {}\n"
            "# a comment line breaks the run\n"
            "selector zzz = {}\n");
}

TEST(FormatterLayout, TabsCrlfAndMissingFinalNewline) {
  EXPECT_EQ(fmt("policy p {\r\n\tselects { app = web }\r\n\tingress {\r\n\t\tallow from world # hi  \r\n\t}\r\n}"),
            "policy p {\n  selects { app = web }\n  ingress {\n    allow from world # hi\n  }\n}\n");
}

TEST(FormatterLayout, EmptyAndCommentOnlyFiles) {
  EXPECT_EQ(fmt(""), "");
  EXPECT_EQ(fmt(" \n\n\t\n"), "");
  EXPECT_EQ(fmt("\n\n# just a note   \n\n\n// and another\n\n"), "# just a note\n\n// and another\n");
}

TEST(FormatterLayout, ExtensionsKeepTheirTouchingTokens) {
  EXPECT_EQ(fmt("policy p { ingress { allow to world on tcp/80 with http {get \"/x\" {{nested}}\n  } } }"),
            "policy p {\n  ingress {\n    allow to world on tcp/80 with http {get \"/x\" {{nested}} }\n  }\n}\n");
}

TEST(FormatterLayout, SeparatorsInAnExtensionHugWhatTheyFollow) {
  EXPECT_EQ(fmt("policy p { egress { allow to world on udp/53 with dns {\n  \"a.b\"\n  , \"c.d\" ;\"e.f\" } } }"),
            "policy p {\n  egress {\n    allow to world on udp/53 with dns { \"a.b\", \"c.d\";\"e.f\" }\n  }\n}\n");
}

TEST(FormatterLayout, AProcessesClauseIsAStatementOnOneLineLikeAProcessBody) {
  const std::string canonical =
      "policy api {\n"
      "  selects { app = api }\n"
      "  processes { exe \"/usr/local/bin/api\", exe \"/usr/bin/python3.11\" } # who may connect\n"
      "  egress {\n"
      "    allow to world on tcp/443\n"
      "  }\n"
      "}\n";
  EXPECT_EQ(fmt("policy api { selects { app = api }\n processes {\n  exe \"/usr/local/bin/api\"\n  , exe "
                "\"/usr/bin/python3.11\" }  # who may connect\n egress { allow to world on tcp/443 } }"),
            canonical);
  EXPECT_EQ(fmt(canonical), canonical) << "round trip";
  expectStable("processes", "policy p {processes{exe \"/a\";exe \"/b\"}selects{}}\n");
  EXPECT_EQ(fmt("policy p {processes{exe \"/a\";exe \"/b\"}selects{}}\n"),
            "policy p {\n  processes {exe \"/a\";exe \"/b\"}\n  selects {}\n}\n")
      << "tokens that touched still touch";
}

// ---- comments ----------------------------------------------------------------

TEST(FormatterComments, AllThreeKindsStayInPlace) {
  std::string messy =
      "# file header\n"
      "// second header line\n"
      "namespace shop   # trailing hash\n"
      "/* block before policy */\n"
      "policy p {   // trailing slashes after brace\n"
      "      selects {}\n"
      "   # own line in policy, badly indented\n"
      "  ingress {   /* inline block */\n"
      "      allow from /* inside rule */ world   // end of rule\n"
      "        # before closing brace\n"
      "  }\n"
      "  egress { # nothing yet\n"
      "  }\n"
      "  /* multi-line\n"
      "       block,   \n"
      "     kept as written */\n"
      "}   # after policy\n"
      "# end of file\n";
  EXPECT_EQ(fmt(messy),
            "# file header\n"
            "// second header line\n"
            "namespace shop # trailing hash\n"
            "\n"
            "/* block before policy */\n"
            "policy p { // trailing slashes after brace\n"
            "  selects {}\n"
            "  # own line in policy, badly indented\n"
            "  ingress { /* inline block */\n"
            "    allow from /* inside rule */ world // end of rule\n"
            "    # before closing brace\n"
            "  }\n"
            "  egress { # nothing yet\n"
            "  }\n"
            "  /* multi-line\n"
            "       block,\n"
            "     kept as written */\n"
            "} # after policy\n"
            "# end of file\n");
  expectStable("comments", messy);
}

TEST(FormatterComments, LineCommentInsideARuleStartsAContinuationLine) {
  EXPECT_EQ(fmt("policy p { egress { allow to world # why\n on tcp/443, # https\n udp/53 } }"),
            "policy p {\n"
            "  egress {\n"
            "    allow to world # why\n"
            "        on tcp/443, # https\n"
            "        udp/53\n"
            "  }\n"
            "}\n");
  EXPECT_EQ(fmt("selector s = { app = web, # the app\n tier = front }\n"),
            "selector s = { app = web, # the app\n    tier = front }\n");
}

TEST(FormatterComments, BlankLinesAroundCommentsKeptOnceButNotAfterBrace) {
  EXPECT_EQ(fmt("policy p {\n\n\n  # first\n\n\n  selects {}\n\n  # last\n\n}\n\n\n# eof\n"),
            "policy p {\n  # first\n\n  selects {}\n\n  # last\n}\n\n# eof\n");
}

TEST(FormatterComments, CommentsThatLookLikeOperatorsAreNotMerged) {
  // A block comment right after `/` must keep a space, or `//` would start a line comment.
  std::string text = "ports p = tcp/ /* port */ 80\n";
  EXPECT_EQ(fmt(text), "ports p = tcp/ /* port */ 80\n");
  expectStable("slash comment", text);
}

// ---- errors ------------------------------------------------------------------

TEST(FormatterErrors, RefusesSyntaxErrorsWithCheckStyleDiagnostics) {
  std::string errors;
  EXPECT_FALSE(format::formatPolicy("policy broken {\n  selects { app = web\n  ingres {}\n}\n", &errors, "b.policy"));
  EXPECT_NE(errors.find("b.policy:3:3: error: expected `}` or `,`, found `ingres`"), std::string::npos) << errors;
  EXPECT_FALSE(format::formatPolicy("policy p { selects {} egress { allow to } }"));
  EXPECT_FALSE(format::formatPolicy("/* never closed\npolicy p {}"));
  EXPECT_FALSE(format::formatPolicy("policy \"unterminated {}\n"));
  EXPECT_FALSE(format::formatPolicy("selector a = { app = \"\xff\" }\n", &errors));
  EXPECT_NE(errors.find("UTF-8"), std::string::npos);
}

TEST(FormatterErrors, RefusesBlocksNestedTooDeepWithoutCrashing) {
  std::string errors;
  std::string deep = "policy p { selects {} ingress { allow from world with x " + std::string(70000, '{') +
                     std::string(70000, '}') + " } }\n";
  EXPECT_FALSE(format::formatPolicy(deep, &errors, "d.policy"));
  EXPECT_NE(errors.find("d.policy:1:119: error: blocks nest deeper than 64"), std::string::npos) << errors;
}

TEST(FormatterErrors, SemanticErrorsAreStillFormatted) {
  // fmt only needs the syntax; the checker's errors are `check`'s business.
  EXPECT_EQ(fmt("policy x{selects undefined}"), "policy x {\n  selects undefined\n}\n");
}

// ---- diff ----------------------------------------------------------------------

TEST(FormatterDiff, EqualTextsHaveNoDiff) { EXPECT_EQ(format::unifiedDiff("a\nb\n", "a\nb\n", "x", "y"), ""); }

TEST(FormatterDiff, OneHunkWithContext) {
  std::string before = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
  std::string after = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
  EXPECT_EQ(format::unifiedDiff(before, after, "a/f", "b/f"),
            "--- a/f\n+++ b/f\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
}

TEST(FormatterDiff, SeparateHunksAndInsertions) {
  std::string before;
  for (int i = 1; i <= 20; ++i) before += std::to_string(i) + "\n";
  std::string after = "0\n" + before;
  after.replace(after.find("\n15\n"), 4, "\n");
  EXPECT_EQ(format::unifiedDiff(before, after, "a", "b"),
            "--- a\n+++ b\n@@ -1,3 +1,4 @@\n+0\n 1\n 2\n 3\n@@ -12,7 +13,6 @@\n 12\n 13\n 14\n-15\n 16\n 17\n 18\n");
}

TEST(FormatterDiff, MissingFinalNewline) {
  EXPECT_EQ(format::unifiedDiff("a\nb", "a\nb\n", "x", "y"),
            "--- x\n+++ y\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n");
  EXPECT_EQ(format::unifiedDiff("", "a\n", "x", "y"), "--- x\n+++ y\n@@ -0,0 +1 @@\n+a\n");
}

}  // namespace
}  // namespace membrane
