// The front end: policy text → AST, and the syntax errors users see.
//
// Locations are asserted exactly as `membranec` prints them: "file:line:col",
// 1-based, with the column counted in BYTES of the UTF-8 source (so a
// two-byte `é` earlier on the line moves the column by two). That matches
// what editors that jump to byte columns (and clang/gcc diagnostics) expect.
#include "frontend/parser.h"

#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "MembraneLexer.h"
#include "antlr4-runtime.h"
#include "pipeline/pipeline.h"
#include "frontend_test_support.h"
// This file replaces operator new for the whole test binary (heap_peak.h).
#define MEMBRANE_COUNT_HEAP
#include "heap_peak.h"

namespace membrane {
namespace {

using namespace membrane::testing;


std::string_view text(const pipeline::Compilation& c, const SourceRange& r) { return c.sources.slice(r); }

// Token type names for a lexed string, hidden channel dropped.
std::vector<std::string> lex(const std::string& src) {
  antlr4::ANTLRInputStream input(src);
  grammar::MembraneLexer lexer(&input);
  std::vector<std::string> out;
  for (auto tok = lexer.nextToken(); tok->getType() != antlr4::Token::EOF; tok = lexer.nextToken()) {
    if (tok->getChannel() != antlr4::Token::DEFAULT_CHANNEL) continue;
    std::string name(lexer.getVocabulary().getSymbolicName(tok->getType()));
    out.push_back((name.empty() ? "'" + tok->getText() + "'" : name + ":" + tok->getText()));
  }
  return out;
}

// ---- valid input ---------------------------------------------------------

constexpr const char* kShop = R"(namespace shop

selector web = { app = web }
ports http = tcp/{80, 443}, udp/8000-8080
peers lab = cidr 198.18.0.0/15 except 198.18.4.0/24

policy api {
  selects { app = api, tier in (backend, core) }
  ingress {
    allow from pods web on http
    deny from lab
  }
  egress {
    allow to pods { app = db } in namespace data on tcp/5432
  }
}
)";

TEST(Parser, ValidFileBuildsExpectedAst) {
  auto c = compile(kShop);
  ASSERT_TRUE(c->diags.all().empty()) << rendered(*c);
  ASSERT_EQ(c->ast.files.size(), 1u);
  const ast::File& f = c->ast.files[0];

  ASSERT_EQ(f.selectors.size(), 1u);
  EXPECT_EQ(f.selectors[0].name.text, "web");
  EXPECT_EQ(text(*c, f.selectors[0].range), "selector web = { app = web }");
  ASSERT_EQ(f.ports.size(), 1u);
  EXPECT_EQ(f.ports[0].name.text, "http");
  ASSERT_EQ(f.ports[0].items.size(), 2u);
  EXPECT_EQ(f.ports[0].items[1].protocol, ast::Protocol::UDP);
  ASSERT_EQ(f.ports[0].items[1].ports.size(), 1u);
  EXPECT_EQ(f.ports[0].items[1].ports[0].first, 8000u);
  EXPECT_EQ(f.ports[0].items[1].ports[0].last, 8080u);
  ASSERT_EQ(f.peers.size(), 1u);
  ASSERT_EQ(f.peers[0].peers.size(), 1u);
  const auto* cidr = std::get_if<ast::CidrPeer>(&f.peers[0].peers[0].value);
  ASSERT_NE(cidr, nullptr);
  EXPECT_EQ(cidr->prefix, "198.18.0.0/15");
  ASSERT_EQ(cidr->except.size(), 1u);
  EXPECT_EQ(cidr->except[0].text, "198.18.4.0/24");
  EXPECT_EQ(c->sources.describe(cidr->except[0].range.begin), "a.policy:5:39");

  ASSERT_EQ(f.policies.size(), 1u);
  const ast::Policy& p = f.policies[0];
  EXPECT_EQ(p.name.text, "api");
  EXPECT_EQ(p.fileNamespace, "shop");
  EXPECT_FALSE(p.ns);
  EXPECT_FALSE(p.clusterwide);
  EXPECT_EQ(c->sources.describe(p.range.begin), "a.policy:7:1");
  EXPECT_EQ(c->sources.describe(p.name.range.begin), "a.policy:7:8");
  EXPECT_EQ(p.name.range.length, 3u);

  ASSERT_TRUE(p.selects);
  ASSERT_EQ(p.selects->requirements.size(), 2u);
  const auto& tier = p.selects->requirements[1];
  EXPECT_EQ(tier.req.key, "tier");
  EXPECT_EQ(tier.req.op, labels::Op::In);
  EXPECT_EQ(tier.req.values, (std::vector<std::string>{"backend", "core"}));
  EXPECT_EQ(c->sources.describe(tier.range.begin), "a.policy:8:24");
  EXPECT_EQ(text(*c, tier.range), "tier in (backend, core)");
  EXPECT_EQ(text(*c, p.selects->range), "{ app = api, tier in (backend, core) }");

  ASSERT_EQ(p.sections.size(), 2u);
  EXPECT_EQ(p.sections[0].direction, ast::Direction::Ingress);
  EXPECT_EQ(c->sources.describe(p.sections[0].range.begin), "a.policy:9:3");
  EXPECT_EQ(text(*c, p.sections[0].range), "ingress");
  ASSERT_EQ(p.sections[0].rules.size(), 2u);
  const ast::Rule& allow = p.sections[0].rules[0];
  EXPECT_EQ(allow.action, ast::Action::Allow);
  EXPECT_TRUE(allow.fromKeyword);
  EXPECT_EQ(c->sources.describe(allow.range.begin), "a.policy:10:5");
  EXPECT_EQ(allow.range.length, 27u);
  EXPECT_EQ(text(*c, allow.range), "allow from pods web on http");
  EXPECT_EQ(text(*c, allow.dirRange), "from");
  ASSERT_EQ(allow.peers.size(), 1u);
  const auto* pods = std::get_if<ast::PodsPeer>(&allow.peers[0].value);
  ASSERT_NE(pods, nullptr);
  ASSERT_TRUE(pods->pods.ref);
  EXPECT_EQ(pods->pods.ref->text, "web");
  EXPECT_FALSE(pods->ns);
  ASSERT_EQ(allow.l4.size(), 1u);
  ASSERT_TRUE(allow.l4[0].ref);
  EXPECT_EQ(allow.l4[0].ref->text, "http");
  const ast::Rule& deny = p.sections[0].rules[1];
  EXPECT_EQ(deny.action, ast::Action::Deny);
  EXPECT_TRUE(deny.l4.empty());
  EXPECT_NE(std::get_if<ast::Name>(&deny.peers[0].value), nullptr);

  EXPECT_EQ(p.sections[1].direction, ast::Direction::Egress);
  const ast::Rule& out = p.sections[1].rules[0];
  EXPECT_FALSE(out.fromKeyword);
  EXPECT_EQ(text(*c, out.range), "allow to pods { app = db } in namespace data on tcp/5432");
  const auto* dbPods = std::get_if<ast::PodsPeer>(&out.peers[0].value);
  ASSERT_NE(dbPods, nullptr);
  ASSERT_TRUE(dbPods->ns);
  EXPECT_EQ(dbPods->ns->kind, ast::NamespaceRef::Kind::ByName);
  EXPECT_EQ(dbPods->ns->name.text, "data");
  EXPECT_EQ(c->sources.describe(dbPods->ns->name.range.begin), "a.policy:14:45");
  ASSERT_EQ(out.l4.size(), 1u);
  EXPECT_EQ(out.l4[0].protocol, ast::Protocol::TCP);
  EXPECT_EQ(out.l4[0].ports[0].first, 5432u);
  EXPECT_EQ(text(*c, out.l4[0].range), "tcp/5432");
}

TEST(Parser, EmptyFileIsValid) {
  auto c = compile("");
  EXPECT_TRUE(c->diags.all().empty());
  ASSERT_EQ(c->ast.files.size(), 1u);
  EXPECT_TRUE(c->ast.files[0].policies.empty());
}

TEST(Parser, AllThreeCommentKinds) {
  auto c = compile(
      "# hash comment\n"
      "// slash comment\n"
      "/* block\n"
      "   comment spanning lines { } policy */ policy p { /* inline */ selects {} # trailing\n"
      "  ingress { allow from world } // end\n"
      "}\n"
      "# last line, no newline");
  ASSERT_TRUE(c->diags.all().empty()) << rendered(*c);
  ASSERT_EQ(c->ast.files[0].policies.size(), 1u);
  const auto& p = c->ast.files[0].policies[0];
  EXPECT_EQ(p.name.text, "p");
  // The block comment's lines are counted: `policy` is on line 4 after it.
  EXPECT_EQ(c->sources.describe(p.range.begin), "a.policy:4:41");
  ASSERT_EQ(p.sections.size(), 1u);
  EXPECT_EQ(text(*c, p.sections[0].rules[0].range), "allow from world");
}

TEST(Parser, KeywordsAreAcceptedAsLabelKeysAndValues) {
  auto c = compile(
      "policy p {\n"
      "  selects { role = ingress, policy in (allow, deny, from), mode, !namespace, tcp != any }\n"
      "}\n");
  // No syntax error (a warning for the empty policy is fine).
  ASSERT_FALSE(c->diags.hasErrors()) << rendered(*c);
  const auto& reqs = c->ast.files[0].policies[0].selects->requirements;
  ASSERT_EQ(reqs.size(), 5u);
  EXPECT_EQ(reqs[0].req.key, "role");
  EXPECT_EQ(reqs[0].req.op, labels::Op::Equals);
  EXPECT_EQ(reqs[0].req.values, std::vector<std::string>{"ingress"});
  EXPECT_EQ(reqs[1].req.key, "policy");
  EXPECT_EQ(reqs[1].req.values, (std::vector<std::string>{"allow", "deny", "from"}));
  EXPECT_EQ(reqs[2].req.key, "mode");
  EXPECT_EQ(reqs[2].req.op, labels::Op::Exists);
  EXPECT_EQ(reqs[3].req.key, "namespace");
  EXPECT_EQ(reqs[3].req.op, labels::Op::DoesNotExist);
  EXPECT_EQ(reqs[4].req.key, "tcp");
  EXPECT_EQ(reqs[4].req.op, labels::Op::NotEquals);
  EXPECT_EQ(reqs[4].req.values, std::vector<std::string>{"any"});
}

TEST(Parser, LabelKeysWithPrefixSourceAndQuotedValues) {
  auto c = compile(
      "policy p {\n"
      "  selects { app.kubernetes.io/name = web, k8s:app = api, version = \"1.2\", port == 8080 }\n"
      "  ingress {}\n"
      "}\n");
  ASSERT_TRUE(c->diags.all().empty()) << rendered(*c);
  const auto& reqs = c->ast.files[0].policies[0].selects->requirements;
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_EQ(reqs[0].req.key, "app.kubernetes.io/name");
  EXPECT_EQ(text(*c, reqs[0].range), "app.kubernetes.io/name = web");
  EXPECT_EQ(reqs[1].req.key, "k8s:app");
  EXPECT_EQ(reqs[2].req.values, std::vector<std::string>{"1.2"}) << "quotes are stripped";
  EXPECT_EQ(reqs[3].req.op, labels::Op::Equals) << "`==` is the same as `=`";
  EXPECT_EQ(reqs[3].req.values, std::vector<std::string>{"8080"});
}

TEST(Parser, LexerAddressesAndNames) {
  EXPECT_EQ(lex("198.18.0.0/15 198.19.0.1"),
            (std::vector<std::string>{"ADDRESS:198.18.0.0/15", "ADDRESS:198.19.0.1"}));
  EXPECT_EQ(lex("2001:2::/48 2001:2::1 ::1 ::ffff:198.18.0.1"),
            (std::vector<std::string>{"ADDRESS:2001:2::/48", "ADDRESS:2001:2::1", "ADDRESS:::1",
                                      "ADDRESS:::ffff:198.18.0.1"}));
  // One colon is not an address: Cilium-style label sources stay names.
  EXPECT_EQ(lex("k8s:app io.cilium.k8s:policy-name"),
            (std::vector<std::string>{"NAME:k8s:app", "NAME:io.cilium.k8s:policy-name"}));
  EXPECT_EQ(lex("tcp/8080-8090 icmpv6"),
            (std::vector<std::string>{"TCP:tcp", "'/'", "NUMBER:8080", "'-'", "NUMBER:8090", "ICMPV6:icmpv6"}));
}

TEST(Parser, CidrPeersWithIpv6AndExceptList) {
  auto c = compile(
      "policy p {\n"
      "  selects {}\n"
      "  egress {\n"
      "    allow to cidr 2001:2::/48 except (2001:2:0:1::/64, 2001:2:0:2::/64,)\n"
      "  }\n"
      "}\n");
  ASSERT_TRUE(c->diags.all().empty()) << rendered(*c);
  const auto& rule = c->ast.files[0].policies[0].sections[0].rules[0];
  const auto* cidr = std::get_if<ast::CidrPeer>(&rule.peers[0].value);
  ASSERT_NE(cidr, nullptr);
  EXPECT_EQ(cidr->prefix, "2001:2::/48");
  EXPECT_EQ(c->sources.describe(cidr->prefixRange.begin), "a.policy:4:19");
  EXPECT_EQ(cidr->prefixRange.length, 11u);
  ASSERT_EQ(cidr->except.size(), 2u);
  EXPECT_EQ(cidr->except[1].text, "2001:2:0:2::/64");
}

TEST(Parser, PortSetsAndIcmpTypes) {
  auto c = compile(
      "policy p {\n"
      "  selects {}\n"
      "  ingress {\n"
      "    allow from world on tcp/{80, 443}, udp/{53, 5000-5100, dns,}, sctp, icmp/{echo-request, 3}, any\n"
      "  }\n"
      "}\n");
  ASSERT_TRUE(c->diags.all().empty()) << rendered(*c);
  const auto& l4 = c->ast.files[0].policies[0].sections[0].rules[0].l4;
  ASSERT_EQ(l4.size(), 5u);
  EXPECT_EQ(l4[0].protocol, ast::Protocol::TCP);
  ASSERT_EQ(l4[0].ports.size(), 2u);
  EXPECT_EQ(l4[0].ports[0].first, 80u);
  EXPECT_EQ(l4[0].ports[0].last, 80u);
  EXPECT_EQ(l4[0].ports[1].first, 443u);
  EXPECT_EQ(text(*c, l4[0].ports[1].range), "443");
  EXPECT_EQ(text(*c, l4[0].range), "tcp/{80, 443}");
  EXPECT_EQ(l4[1].protocol, ast::Protocol::UDP);
  ASSERT_EQ(l4[1].ports.size(), 3u);
  EXPECT_EQ(l4[1].ports[1].first, 5000u);
  EXPECT_EQ(l4[1].ports[1].last, 5100u);
  EXPECT_EQ(l4[1].ports[2].name, "dns");
  EXPECT_EQ(l4[2].protocol, ast::Protocol::SCTP);
  EXPECT_TRUE(l4[2].ports.empty());
  EXPECT_EQ(l4[3].protocol, ast::Protocol::ICMP);
  ASSERT_EQ(l4[3].ports.size(), 2u);
  EXPECT_EQ(l4[3].ports[0].name, "echo-request");
  EXPECT_EQ(l4[3].ports[1].first, 3u);
  EXPECT_EQ(l4[4].protocol, ast::Protocol::Any);
}

TEST(Parser, OtherPeerForms) {
  auto c = compile(
      "policy p {\n"
      "  clusterwide\n"
      "  mode audit\n"
      "  selects {}\n"
      "  egress {\n"
      "    allow to namespaces { team = a }, namespace kube-system, world, cluster, host, all\n"
      "    allow to pods {} in namespaces {}\n"
      "  }\n"
      "}\n");
  ASSERT_TRUE(c->diags.all().empty()) << rendered(*c);
  const auto& p = c->ast.files[0].policies[0];
  EXPECT_TRUE(p.clusterwide);
  EXPECT_EQ(text(*c, p.clusterwideRange), "clusterwide");
  ASSERT_TRUE(p.mode);
  EXPECT_EQ(p.mode->text, "audit");
  const auto& peers = p.sections[0].rules[0].peers;
  ASSERT_EQ(peers.size(), 6u);
  const auto* byLabels = std::get_if<ast::NamespaceRef>(&peers[0].value);
  ASSERT_NE(byLabels, nullptr);
  EXPECT_EQ(byLabels->kind, ast::NamespaceRef::Kind::BySelector);
  EXPECT_EQ(byLabels->selector.requirements.at(0).req.key, "team");
  const auto* byName = std::get_if<ast::NamespaceRef>(&peers[1].value);
  ASSERT_NE(byName, nullptr);
  EXPECT_EQ(byName->kind, ast::NamespaceRef::Kind::ByName);
  EXPECT_EQ(byName->name.text, "kube-system");
  EXPECT_EQ(std::get<ast::Entity>(peers[2].value), ast::Entity::World);
  EXPECT_EQ(std::get<ast::Entity>(peers[3].value), ast::Entity::Cluster);
  EXPECT_EQ(std::get<ast::Entity>(peers[4].value), ast::Entity::Host);
  EXPECT_EQ(std::get<ast::Entity>(peers[5].value), ast::Entity::All);
  EXPECT_EQ(text(*c, peers[1].range), "namespace kube-system");
}

TEST(Parser, NodesPeerTakesASelectorAndNodesStaysALabelWord) {
  EXPECT_EQ(lex("nodes"), std::vector<std::string>{"NODES:nodes"});
  auto c = compile(
      "selector workers = { nodes = nodes }\n"
      "policy p {\n"
      "  selects { role in (nodes, pods), nodes }\n"
      "  egress {\n"
      "    allow to nodes { kubernetes.io/os = linux, !nodes }, nodes workers, pods { nodes }\n"
      "  }\n"
      "}\n");
  // No syntax error; the nodes peers match no node (no inventory): warnings.
  ASSERT_FALSE(c->diags.hasErrors()) << rendered(*c);
  const auto& p = c->ast.files[0].policies[0];
  EXPECT_EQ(p.selects->requirements.at(0).req.values, (std::vector<std::string>{"nodes", "pods"}));
  EXPECT_EQ(p.selects->requirements.at(1).req.key, "nodes");
  EXPECT_EQ(c->ast.files[0].selectors.at(0).body.requirements.at(0).req.values, std::vector<std::string>{"nodes"});
  const auto& peers = p.sections[0].rules[0].peers;
  ASSERT_EQ(peers.size(), 3u);
  const auto* inline_ = std::get_if<ast::NodesPeer>(&peers[0].value);
  ASSERT_NE(inline_, nullptr);
  ASSERT_EQ(inline_->nodes.requirements.size(), 2u);
  EXPECT_EQ(inline_->nodes.requirements[0].req.key, "kubernetes.io/os");
  EXPECT_EQ(inline_->nodes.requirements[1].req.key, "nodes");
  EXPECT_EQ(inline_->nodes.requirements[1].req.op, labels::Op::DoesNotExist);
  EXPECT_EQ(text(*c, peers[0].range), "nodes { kubernetes.io/os = linux, !nodes }");
  const auto* named = std::get_if<ast::NodesPeer>(&peers[1].value);
  ASSERT_NE(named, nullptr);
  ASSERT_TRUE(named->nodes.ref);
  EXPECT_EQ(named->nodes.ref->text, "workers");
  const auto* pods = std::get_if<ast::PodsPeer>(&peers[2].value);
  ASSERT_NE(pods, nullptr);
  EXPECT_EQ(pods->pods.requirements.at(0).req.key, "nodes");
}

TEST(Parser, FileNamespaceAppliesToFollowingPolicies) {
  auto c = compile(
      "policy a { selects {} ingress {} }\n"
      "namespace one\n"
      "policy b { selects {} ingress {} }\n"
      "namespace two\n"
      "policy c { namespace three selects {} ingress {} }\n");
  ASSERT_TRUE(c->diags.all().empty()) << rendered(*c);
  const auto& ps = c->ast.files[0].policies;
  ASSERT_EQ(ps.size(), 3u);
  EXPECT_EQ(ps[0].fileNamespace, "default");
  EXPECT_EQ(ps[1].fileNamespace, "one");
  EXPECT_EQ(ps[2].fileNamespace, "two");
  ASSERT_TRUE(ps[2].ns);
  EXPECT_EQ(ps[2].ns->text, "three");
}

// ---- syntax errors -----------------------------------------------------

TEST(Parser, MisspeltSectionKeywordGetsDidYouMean) {
  auto c = compile(
      "policy p {\n"
      "  selects {}\n"
      "  ingres {\n"
      "    allow from world\n"
      "  }\n"
      "}\n");
  EXPECT_EQ(diagnostics(*c),
            std::vector<std::string>{"a.policy:3:3: error: expected `}`, `namespace`, `clusterwide`, `selects`, "
                                     "`mode`, `processes`, `ingress`, `egress` or `tier`, found `ingres` | hint: did you mean `ingress`?"});
  EXPECT_FALSE(c->checked) << "no checking after a syntax error";
  EXPECT_TRUE(c->ast.files.empty()) << "never a half-built AST";
}

TEST(Parser, MisspeltTopLevelKeyword) {
  auto c = compile("\n  polcy p {\n    selects {}\n  }\n");
  EXPECT_EQ(diagnostics(*c),
            std::vector<std::string>{"a.policy:2:3: error: expected end of file, `namespace`, `selector`, `ports`, "
                                     "`peers` or `policy`, found `polcy` | hint: did you mean `policy`?"});
}

TEST(Parser, MisspeltRuleKeyword) {
  auto c = compile("policy p {\n  selects {}\n  egress {\n    alow to world\n  }\n}\n");
  ASSERT_EQ(c->diags.all().size(), 1u) << rendered(*c);
  const auto& d = c->diags.all()[0];
  EXPECT_EQ(c->sources.describe(d.range.begin), "a.policy:4:5");
  EXPECT_EQ(d.range.length, 4u);
  EXPECT_EQ(d.message, "expected `}`, `allow`, `deny` or `pass`, found `alow`");
  EXPECT_EQ(d.hint, "did you mean `allow`?");
}

TEST(Parser, NoHintWhenNothingIsClose) {
  auto c = compile("policy p {\n  selects {}\n  frobnicate\n}\n");
  ASSERT_EQ(c->diags.all().size(), 1u) << rendered(*c);
  EXPECT_EQ(c->sources.describe(c->diags.all()[0].range.begin), "a.policy:3:3");
  EXPECT_EQ(c->diags.all()[0].hint, "");
}

TEST(Parser, MissingClosingBraceAtEndOfFile) {
  auto c = compile("policy p {\n  selects {}\n  ingress {\n    allow from world\n  }\n");
  ASSERT_EQ(c->diags.all().size(), 1u) << rendered(*c);
  const auto& d = c->diags.all()[0];
  // Reported just past the last thing written (line 5, after `}`), so the
  // printed source line is not an empty one.
  EXPECT_EQ(c->sources.describe(d.range.begin), "a.policy:5:4");
  EXPECT_EQ(d.range.length, 0u);
  EXPECT_EQ(d.message, "expected `}`, `namespace`, `clusterwide`, `selects`, `mode`, `processes`, `ingress`, "
                       "`egress` or `tier`, found end of file");
}

TEST(Parser, MissingClosingBraceWithoutFinalNewline) {
  auto c = compile("policy p {\n  selects { app = web");
  ASSERT_EQ(c->diags.all().size(), 1u) << rendered(*c);
  const auto& d = c->diags.all()[0];
  EXPECT_EQ(c->sources.describe(d.range.begin), "a.policy:2:22");
  EXPECT_NE(d.message.find("found end of file"), std::string::npos) << d.message;
  EXPECT_EQ(d.message.rfind("expected ", 0), 0u) << d.message;
}

TEST(Parser, UnterminatedStringHasHint) {
  auto c = compile("policy p {\n  selects { app = \"web }\n  ingress {}\n}\n");
  ASSERT_EQ(c->diags.all().size(), 1u) << rendered(*c);
  const auto& d = c->diags.all()[0];
  EXPECT_EQ(c->sources.describe(d.range.begin), "a.policy:2:19");
  EXPECT_EQ(d.message, "expected a number, a name or a string, found `\"`");
  EXPECT_EQ(d.hint, "strings must end on the same line");
}

TEST(Parser, StrayCharacter) {
  auto c = compile("policy p {\n  selects { app = web; }\n}\n");
  ASSERT_EQ(c->diags.all().size(), 1u) << rendered(*c);
  EXPECT_EQ(oneLine(*c, c->diags.all()[0]), "a.policy:2:22: error: expected `}` or `,`, found `;`");
}

TEST(Parser, OneErrorPerItemNoCascade) {
  // Several things are wrong inside one policy; only the first is reported,
  // ANTLR's recovery fallout for the rest of the item is not.
  auto c = compile(
      "policy p {\n"
      "  selects { app = }\n"
      "  ingress { allow frm world on tcp/ }\n"
      "  egres { }\n"
      "}\n");
  EXPECT_EQ(diagnostics(*c), std::vector<std::string>{
                                 "a.policy:2:19: error: expected a number, a name or a string, found `}`"});
}

TEST(Parser, ErrorsInTwoPoliciesAreBothReported) {
  auto c = compile(
      "policy a {\n"
      "  selects {}\n"
      "  ingres { allow from world }\n"
      "}\n"
      "\n"
      "policy b {\n"
      "  selects {}\n"
      "  egress { allow to world on tcp/80, }\n"
      "}\n");
  auto ds = diagnostics(*c);
  ASSERT_EQ(ds.size(), 2u) << rendered(*c);
  EXPECT_EQ(ds[0].substr(0, 30), "a.policy:3:3: error: expected ");
  EXPECT_NE(ds[0].find("found `ingres` | hint: did you mean `ingress`?"), std::string::npos) << ds[0];
  EXPECT_EQ(ds[1].substr(0, 31), "a.policy:8:38: error: expected ") << ds[1];
  EXPECT_NE(ds[1].find("found `}`"), std::string::npos) << ds[1];
}

TEST(Parser, ErrorsInTwoFilesAreBothReported) {
  auto c = compile(Files{{"a.policy", "selector = { app = a }\n"}, {"b.policy", "ports p = tcp/\n"}});
  auto ds = diagnostics(*c);
  ASSERT_EQ(ds.size(), 2u) << rendered(*c);
  EXPECT_EQ(ds[0], "a.policy:1:10: error: expected a name or a string, found `=`");
  // `tcp/` must be followed by a port: the error is just past `tcp/`.
  EXPECT_EQ(ds[1], "b.policy:1:15: error: expected `{`, a number, a name or a string, found end of file");
}

TEST(Parser, NonAsciiBeforeErrorGivesByteColumns) {
  // `é` and `→` are 2 and 3 bytes. ANTLR counts code points; the reported
  // line and column are in bytes of the file, on this line and after earlier
  // non-ASCII lines.
  auto c = compile(
      "# Politique réseau → équipe API ☕\n"
      "policy p {\n"
      "  selects {} /* é */ ingres { }\n"
      "}\n");
  ASSERT_EQ(c->diags.all().size(), 1u) << rendered(*c);
  const auto& d = c->diags.all()[0];
  // "  selects {} /* é */ " is 22 bytes (21 characters), so `ingres` starts at byte column 23.
  EXPECT_EQ(c->sources.describe(d.range.begin), "a.policy:3:23");
  EXPECT_EQ(d.range.length, 6u);
  EXPECT_EQ(c->sources.slice(d.range), "ingres");
  EXPECT_EQ(d.hint, "did you mean `ingress`?");
}

TEST(Parser, NonAsciiOutsideCommentIsAnError) {
  auto c = compile("policy p {\n  selects { app = café }\n}\n");
  ASSERT_EQ(c->diags.all().size(), 1u) << rendered(*c);
  const auto& d = c->diags.all()[0];
  // `caf` is a name; the `é` (2 bytes) that follows is a stray character.
  EXPECT_EQ(c->sources.describe(d.range.begin), "a.policy:2:22");
  EXPECT_EQ(c->sources.slice(d.range), "é");
}

TEST(Parser, InvalidUtf8IsAnErrorNotACrash) {
  // A Latin-1 `é` (byte 0xE9) in a comment: reported at that byte, not thrown.
  auto c = compile("policy p {\n  selects {} # caf\xe9\n  ingress {}\n}\n");
  EXPECT_EQ(diagnostics(*c), std::vector<std::string>{"a.policy:2:19: error: policy files must be UTF-8 | hint: "
                                                      "this byte is not valid UTF-8; save the file as UTF-8"});
  EXPECT_FALSE(c->checked);
  // A truncated sequence at the very end of the file.
  auto end = compile("policy p { selects {} }\n# \xe2\x86");
  ASSERT_EQ(end->diags.all().size(), 1u);
  EXPECT_EQ(end->sources.describe(end->diags.all()[0].range.begin), "a.policy:2:3");
}

TEST(Parser, RenderedErrorShowsLineAndCaret) {
  auto c = compile("policy p {\n  selects {}\n  ingres {\n  }\n}\n");
  EXPECT_EQ(rendered(*c),
            "a.policy:3:3: error: expected `}`, `namespace`, `clusterwide`, `selects`, `mode`, `processes`, "
            "`ingress`, `egress` or `tier`, found `ingres`\n"
            "    ingres {\n"
            "    ^~~~~~\n"
            "hint: did you mean `ingress`?\n");
}

TEST(Parser, RenderedCaretKeepsTabs) {
  auto c = compile("policy p {\n\tselects {}\n\tegres {}\n}\n");
  std::string out = rendered(*c);
  EXPECT_NE(out.find("a.policy:3:2: error: "), std::string::npos) << out;
  EXPECT_NE(out.find("\n  \tegres {}\n  \t^~~~~\n"), std::string::npos) << out;
}

TEST(Parser, DuplicateSelectsIsReportedByTheFrontEnd) {
  auto c = compile("policy p {\n  selects { app = a }\n  selects { tier = b }\n  ingress {}\n}\n");
  EXPECT_EQ(diagnostics(*c), std::vector<std::string>{"a.policy:3:3: error: policy 'p' has more than one `selects` | "
                                                      "hint: combine the requirements into one selector"});
  EXPECT_FALSE(c->checked);
}

// ---- nesting -------------------------------------------------------------

// `with` bodies nest braces freely and the parser recursed once per level:
// 70,000 levels overflowed the stack. The depth is checked on the tokens,
// before parsing, and reported at the first `{` past the limit.
TEST(Parser, BlocksNestedPastTheLimitAreAnErrorNotACrash) {
  constexpr size_t kLevels = 70000;
  // `policy p {` and `ingress {` are levels 1 and 2, the extension's braces 3 on.
  std::string text = "policy p {\n  selects {}\n  ingress {\n    allow from world with x " +
                     std::string(kLevels, '{') + std::string(kLevels, '}') + "\n  }\n}\n";
  auto c = compile(text);
  size_t column = std::string("    allow from world with x ").size() + (frontend::kMaxNesting - 2) + 1;
  EXPECT_EQ(diagnostics(*c), Lines{"a.policy:4:" + std::to_string(column) + ": error: blocks nest deeper than 64 | "
                                   "hint: policies need a few levels; look for a `}` missing further up"});
  EXPECT_FALSE(c->checked);
}

TEST(Parser, NestingUpToTheLimitParses) {
  std::string text = "policy p {\n  selects {}\n  ingress {\n    allow from world with x " +
                     std::string(frontend::kMaxNesting - 2, '{') + std::string(frontend::kMaxNesting - 2, '}') +
                     "\n  }\n}\n";
  auto c = compile(text);
  // Parsed: the checker is what refuses the extension.
  EXPECT_EQ(diagnostics(*c), Lines{"a.policy:4:22: error: `with x` rules are not supported yet | hint: membrane "
                                   "enforces L3/L4, DNS (`with dns`), HTTP (`with http`) and "
                                   "executables (`with process`) today"});
}

// Unclosed braces count too: ANTLR's recovery from 4,000 of them took
// seconds (quadratic in the depth); now it never starts.
TEST(Parser, UnclosedBracesPastTheLimitAreOneError) {
  auto c = compile("policy p {\n  selects {}\n  ingress {\n    allow from world with x " + std::string(4000, '{'));
  ASSERT_EQ(c->diags.all().size(), 1u) << rendered(*c);
  EXPECT_EQ(c->diags.all()[0].message, "blocks nest deeper than 64");
}

// Braces in strings and comments are not blocks.
TEST(Parser, BracesInStringsAndCommentsDoNotNest) {
  std::string braces(200, '{');
  auto c = compile("# " + braces + "\n/* " + braces + " */\npolicy p { selects { app = \"" + braces +
                   "\" } ingress {} }\n");
  // The string is no valid label value, but it parses.
  ASSERT_EQ(c->diags.all().size(), 1u) << rendered(*c);
  EXPECT_EQ(c->diags.all()[0].message.rfind("invalid label value", 0), 0u) << rendered(*c);
}

// ---- memory -----------------------------------------------------------------

// 100 MB of whitespace peaked at 2.2 GB: ANTLR's UTF-8 to UTF-32 conversion
// (std::wstring_convert) leaves its buffer five times too large, 20 bytes per
// input byte. Parsing now costs the exact UTF-32 copy (4 bytes per byte) and
// the tokens, and whitespace and comments are not kept as tokens.
TEST(Parser, ParsingTakesAFewBytesOfHeapPerByteOfWhitespace) {
  SourceManager sources;
  DiagnosticEngine diags(sources);
  const size_t size = 8 << 20;
  FileId id = sources.add("w.policy", "policy p { selects {} ingress {} }\n" + std::string(size, ' ') +
                                          "\n# comment\n" + std::string(size / 2, '\n'));
  size_t before = testing::resetHeapPeak();
  ASSERT_TRUE(frontend::parseFile(id, sources, diags));
  size_t used = testing::heapPeak.load() - before;
  EXPECT_LT(used, 6 * sources.text(id).size()) << "peak heap " << used << " bytes for " << sources.text(id).size();
}

TEST(Parser, ParsingTakesAFewBytesOfHeapPerByteOfComments) {
  SourceManager sources;
  DiagnosticEngine diags(sources);
  std::string text = "policy p { selects {} ingress {} }\n";
  while (text.size() < (4u << 20)) text += "# c\n";
  FileId id = sources.add("c.policy", text);
  size_t before = testing::resetHeapPeak();
  ASSERT_TRUE(frontend::parseFile(id, sources, diags));
  size_t used = testing::heapPeak.load() - before;
  EXPECT_LT(used, 6 * text.size()) << "peak heap " << used << " bytes for " << text.size();
}

TEST(Parser, ParseFileDirectly) {
  SourceManager sources;
  DiagnosticEngine diags(sources);
  FileId id = sources.add("x.policy", "selector s = {}\n");
  auto f = frontend::parseFile(id, sources, diags);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->id, id);
  ASSERT_EQ(f->selectors.size(), 1u);
  EXPECT_TRUE(f->selectors[0].body.requirements.empty());

  FileId bad = sources.add("y.policy", "selector s = \n");
  EXPECT_FALSE(frontend::parseFile(bad, sources, diags));
  EXPECT_EQ(diags.errorCount(), 1u);
}

}  // namespace
}  // namespace membrane
