// codegen/http_codegen.h without the kernel: the automaton the request
// decision walks (HttpAutomaton, by its reference walk) against the
// reference meaning of path patterns (names::httpPathMatches) and host
// patterns (names::dnsPatternMatches on features::http::hostOf's names),
// on random patterns and paths near their edges; the class tables' header
// limit; the L7 ports. The generated code itself is held to the evaluator
// in the kernel by tests/codegen/http_differential_test.cpp.
#include "codegen/http_codegen.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <set>

#include "cluster_test_support.h"
#include "codegen/artifact_writer.h"
#include "names/dns.h"
#include "names/http.h"

namespace membrane::testing {
namespace {

using codegen::HttpAutomaton;

bool bitSet(const std::vector<uint64_t>& words, size_t bit) { return (words[bit / 64] >> (bit % 64)) & 1; }

// What the request reader promises the automaton: only canonical paths of
// at most kHttpPathMaxBytes reach it (a request with another path is
// unreadable and never decided).
bool walked(const std::string& path) {
  return path.size() <= names::kHttpPathMaxBytes && names::httpPathCanonical(path);
}

// A host name as the reader leaves it, valid or not: the automaton must
// refuse what dnsPatternMatches refuses.
bool hostMatches(const std::string& pattern, const std::string& host) {
  auto parsed = names::parseDnsPattern(pattern);
  const auto& p = std::get<names::DnsPattern>(parsed);
  for (char c : host)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) return false;
  return !host.empty() && host.size() <= names::kDnsNameMaxChars && names::dnsPatternMatches(p, host);
}

TEST(HttpAutomaton, MatchesPathPatternsAsTheReferenceDoes) {
  const std::vector<std::string> segs = {"a", "ab", "api", "v1", "x.pdf", "*", "a*", "*b", "a*b", "*.pdf", "a*b*c", "%41"};
  const std::vector<std::string> words = {"a", "ab", "abc", "api", "v1", "x.pdf", ".pdf", "b", "acbc", "", "%41", "aXb"};
  std::mt19937_64 rng(7);
  auto below = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  size_t checked = 0, matched = 0;
  for (int round = 0; round < 200; ++round) {
    std::set<std::string> patterns;
    size_t n = 1 + below(6);
    while (patterns.size() < n) {
      std::string p;
      size_t k = below(4);
      for (size_t i = 0; i < k; ++i) p += "/" + segs[below(segs.size())];
      if (p.empty() || below(3) == 0) p += "/**";
      if (p == "/**/**") p = "/**";
      if (std::holds_alternative<names::HttpPathPattern>(names::parseHttpPathPattern(p))) patterns.insert(p);
    }
    std::vector<std::string> list(patterns.begin(), patterns.end());
    HttpAutomaton a = HttpAutomaton::build(list, {}, "test");
    for (int q = 0; q < 200; ++q) {
      std::string path;
      size_t k = below(5);
      for (size_t i = 0; i < k; ++i) path += "/" + words[below(words.size())];
      if (path.empty() || below(5) == 0) path += "/";
      if (!walked(path)) continue;
      auto bits = a.run(0, path);
      for (size_t i = 0; i < list.size(); ++i) {
        bool want = names::httpPathMatches(std::get<names::HttpPathPattern>(names::parseHttpPathPattern(list[i])), path);
        ASSERT_EQ(bitSet(bits, i), want) << "pattern " << list[i] << " path " << path;
        matched += want;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 10000u);
  EXPECT_GT(matched, checked / 20);
}

TEST(HttpAutomaton, MatchesHostPatternsAsTheReferenceDoes) {
  const std::vector<std::string> labels = {"a", "api", "api-1", "x_y", "*", "ap*", "*i", "a*1", "com", "shop"};
  const std::vector<std::string> hostLabels = {"a", "api", "api-1", "x_y", "com", "shop", "aq1", "", "A", "a:1", "b"};
  std::mt19937_64 rng(11);
  auto below = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  size_t checked = 0, matched = 0;
  for (int round = 0; round < 200; ++round) {
    std::set<std::string> patterns;
    size_t n = 1 + below(5);
    while (patterns.size() < n) {
      if (below(15) == 0) {
        patterns.insert("*");
        continue;
      }
      std::string p = labels[below(labels.size())];
      size_t k = below(3);
      for (size_t i = 0; i < k; ++i) p += "." + labels[below(labels.size())];
      if (std::holds_alternative<names::DnsPattern>(names::parseDnsPattern(p))) patterns.insert(p);
    }
    std::vector<std::string> list(patterns.begin(), patterns.end());
    // Host bits follow one path pattern's, as in a class's numbering.
    HttpAutomaton a = HttpAutomaton::build({"/x"}, list, "test");
    for (int q = 0; q < 200; ++q) {
      std::string host = hostLabels[below(hostLabels.size())];
      size_t k = below(4);
      for (size_t i = 0; i < k; ++i) host += "." + hostLabels[below(hostLabels.size())];
      auto bits = a.run(1, host);
      EXPECT_FALSE(bitSet(bits, 0)) << "a host set a path pattern's bit";
      for (size_t i = 0; i < list.size(); ++i) {
        bool want = hostMatches(list[i], host);
        ASSERT_EQ(bitSet(bits, 1 + i), want) << "pattern " << list[i] << " host " << host;
        matched += want;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 10000u);
  EXPECT_GT(matched, checked / 50);
}

TEST(HttpAutomaton, KeepsAThousandPathPatternsSmall) {
  std::vector<std::string> list;
  for (int i = 0; i < 1000; ++i)
    list.push_back(i % 2 ? "/api/v1/items" + std::to_string(i) + "/*" : "/static" + std::to_string(i) + "/**");
  std::sort(list.begin(), list.end());
  HttpAutomaton a = HttpAutomaton::build(list, {}, "test");
  EXPECT_LT(a.states(), 20000u);
  EXPECT_EQ(a.words, 16u);
  auto bits = a.run(0, "/api/v1/items7/42");
  size_t seven = std::lower_bound(list.begin(), list.end(), "/api/v1/items7/*") - list.begin();
  EXPECT_TRUE(bitSet(bits, seven));
  bits = a.run(0, "/api/v1/items7/42/x");
  EXPECT_FALSE(bitSet(bits, seven));
}

// The rules of x/a's class under `policy`, each given `http` when `pick` says.
ir::Program withHttp(const std::string& policy, const std::function<bool(const ir::Rule&)>& pick,
                     const ir::HttpCondition& http) {
  XyzCluster cluster(policy);
  EXPECT_TRUE(cluster.ok());
  ir::Program program = cluster.ir();
  for (auto& cls : program.classes)
    for (auto* dp : {&cls.ingress, &cls.egress})
      for (auto& r : dp->rules)
        if (pick(r)) r.conditions.push_back(http);
  return program;
}

const ir::HttpCondition kGet{{ir::HttpRequestMatch{"GET", "/api/*", "", {}}}};

TEST(HttpTables, ListTheL7PortsOfEachDirectionInTheManifest) {
  ir::Program program = withHttp(
      "namespace x\npolicy p {\n  selects { pod = a }\n  ingress {\n"
      "    allow from pods { pod = b } on tcp/8080, tcp/{9000-9010}, udp/53\n"
      "    allow from pods { pod = c } on tcp/7000\n  }\n"
      "  egress {\n    deny to pods { pod = b } on tcp/80\n  }\n}\n",
      [](const ir::Rule&) { return true; }, kGet);
  artifacts::Manifest m = codegen::describeArtifacts(program);
  const artifacts::ClassEntry& a = m.classes.at(0);
  EXPECT_EQ(a.l7.httpEgress, (std::vector<artifacts::PortSpan>{{80, 80}}));
  EXPECT_EQ(a.l7.httpIngress,
            (std::vector<artifacts::PortSpan>{{7000, 7000}, {8080, 8080}, {9000, 9010}}));
  EXPECT_TRUE(m.classes.back().l7.empty()) << "the open class has no http rules";
}

TEST(HttpTables, RefuseAClassNamingMoreThanSixteenHeadersNamingItsRules) {
  ir::HttpCondition many;
  for (int i = 0; i < 17; ++i)
    many.requests.push_back({"", "", "", {ir::HttpHeaderMatch{"x-h" + std::to_string(100 + i), std::nullopt}}});
  ir::Program program = withHttp(
      "namespace x\npolicy p {\n  selects { pod = a }\n  ingress {\n    allow from pods { pod = b } on tcp/8080\n  }\n}\n",
      [](const ir::Rule&) { return true; }, many);
  try {
    codegen::HttpTables tables(program.classes.at(0));
    FAIL() << "17 header names accepted";
  } catch (const std::runtime_error& e) {
    std::string rule = std::to_string(program.classes.at(0).ingress.rules.at(0).id);
    EXPECT_EQ(std::string(e.what()), "class " + std::to_string(program.classes.at(0).id) + "'s http rules (" + rule +
                                         ") name 17 distinct headers; the datapath reads at most 16 per class");
  }
  many.requests.pop_back();
  program = withHttp(
      "namespace x\npolicy p {\n  selects { pod = a }\n  ingress {\n    allow from pods { pod = b } on tcp/8080\n  }\n}\n",
      [](const ir::Rule&) { return true; }, many);
  codegen::HttpTables tables(program.classes.at(0));
  EXPECT_EQ(tables.headers().size(), 16u);
  EXPECT_EQ(tables.headers().front(), "x-h100");
}

}  // namespace
}  // namespace membrane::testing
