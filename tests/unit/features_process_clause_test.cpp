// A policy's `processes { exe "PATH", ... }` clause (docs/process.md, "The
// `processes` clause"): how it parses and where the checker refuses it, how
// lowering restricts every egress allow rule of each class the policy
// selects (intersections, a class nothing else isolates, deny rules
// untouched), what lowering refuses, the evaluator's own reading of the
// clauses, and `membranec ir`'s printing.
#include <gtest/gtest.h>

#include "evaluator/evaluator.h"
#include "features/process/process.h"
#include "frontend_test_support.h"
#include "inventory/inventory.h"
#include "ir_print/ir_json.h"

namespace membrane::features::process {
namespace {

// The diagnostics without their hints (notes kept).
testing::Lines messages(const pipeline::Compilation& c) {
  testing::Lines out;
  for (const auto& line : testing::diagnostics(c)) {
    size_t hint = line.find(" | hint: ");
    if (hint == std::string::npos) {
      out.push_back(line);
      continue;
    }
    size_t note = line.find(" | note ", hint + 1);
    out.push_back(line.substr(0, hint) + (note == std::string::npos ? "" : line.substr(note)));
  }
  return out;
}

// Endpoints web-0 (app=web) and db-0 (app=db) in namespace h.
constexpr const char* kInventory = R"({"endpoints": [
  {"name": "web-0", "namespace": "h", "labels": {"app": "web"}, "addresses": ["198.18.0.1"]},
  {"name": "db-0", "namespace": "h", "labels": {"app": "db"}, "addresses": ["198.18.0.2"]}]})";

std::unique_ptr<pipeline::Compilation> lowered(const std::string& text) {
  auto c = std::make_unique<pipeline::Compilation>();
  std::string error;
  EXPECT_TRUE(inventory::loadInventoryText("inventory.json", kInventory, c->inventory, &error)) << error;
  pipeline::runText({{"a.policy", text}}, *c);
  return c;
}

const ir::EndpointClass& classOf(const pipeline::Compilation& c, const std::string& name) {
  const ir::Endpoint* e = c.ir->findEndpoint("h", name);
  EXPECT_TRUE(e && e->classIndex);
  return c.ir->classes.at(*e->classIndex);
}

std::vector<std::string> executablesOf(const ir::Rule& rule) {
  const auto* c = rule.condition<ir::ProcessCondition>();
  return c ? c->executables : std::vector<std::string>{"(none)"};
}

using Paths = std::vector<std::string>;

// ---- parsing and checking -------------------------------------------------------

TEST(ProcessClause, TheClauseIsCheckedByTheProcessKindAndKeptOnThePolicy) {
  auto c = testing::compile(
      "namespace h\n"
      "policy p {\n  selects { app = web }\n"
      "  processes { exe \"/usr/local/bin/api\", exe \"/usr/bin/python3.11\"; exe \"/usr/local/bin/api\" }\n"
      "  egress {}\n}\n");
  ASSERT_TRUE(c->checked) << testing::rendered(*c);
  const auto& clause = c->checked->policies.at(0).processes;
  ASSERT_TRUE(clause);
  Paths written;
  for (const auto& e : clause->executables) written.push_back(e.path);
  EXPECT_EQ(written, (Paths{"/usr/local/bin/api", "/usr/bin/python3.11", "/usr/local/bin/api"}));
  EXPECT_EQ(c->sources.describe(clause->range.begin), "a.policy:4:3") << "the clause starts at its keyword";
  EXPECT_EQ(c->sources.describe(clause->executables[1].range.begin), "a.policy:4:45") << "each path at its string";
  EXPECT_EQ(lower(*clause).executables, (Paths{"/usr/bin/python3.11", "/usr/local/bin/api"}));
}

TEST(ProcessClause, AMalformedClauseIsReportedAtItsTokenInTheClausesWords) {
  auto c = testing::compile(
      "policy a {\n  selects {}\n  processes { }\n}\n"
      "policy b {\n  selects {}\n  processes { \"/opt/app\" }\n}\n"
      "policy c {\n  selects {}\n  processes { exe \"opt/app\" }\n}\n"
      "policy d {\n  selects {}\n  processes { exe \"/a\" exe \"/b\" }\n}\n"
      "policy e {\n  selects {}\n  processes { exe }\n}\n");
  EXPECT_FALSE(c->checked);
  EXPECT_EQ(messages(*c),
            (testing::Lines{
                "a.policy:3:3: error: `processes { }` names no executable",
                "a.policy:7:15: error: expected `exe \"PATH\"` in `processes { ... }`, found `\"/opt/app\"`",
                "a.policy:11:20: error: executable \"opt/app\" is not an absolute path (it must start with '/')",
                "a.policy:15:24: error: expected `,` or `;` between executables, found `exe`",
                "a.policy:19:15: error: `exe` needs the executable's path"}))
      << testing::rendered(*c);
}

TEST(ProcessClause, ASecondClauseInOnePolicyIsAnErrorAtTheSecond) {
  auto c = testing::compile("policy p {\n  selects {}\n  processes { exe \"/a\" }\n  processes { exe \"/b\" }\n}\n");
  EXPECT_FALSE(c->checked);
  EXPECT_EQ(testing::diagnostics(*c),
            (testing::Lines{"a.policy:4:3: error: policy 'p' has more than one `processes` | hint: list every "
                            "executable in one `processes { ... }`"}));
}

TEST(ProcessClause, AClauseInAnAuditModePolicyIsAnErrorAtTheClause) {
  auto c = testing::compile("policy p {\n  selects {}\n  mode audit\n  processes { exe \"/a\" }\n  egress {}\n}\n");
  EXPECT_FALSE(c->checked);
  EXPECT_EQ(messages(*c), (testing::Lines{"a.policy:4:3: error: a `processes` clause is not supported in an "
                                          "audit-mode policy yet | note a.policy:3:8: the policy is in audit mode "
                                          "here"}));
}

TEST(ProcessClause, APolicyWithOnlyAClauseRestrictsSomethingSoItIsNotWarnedAbout) {
  auto c = testing::compile("policy p {\n  selects {}\n  processes { exe \"/a\" }\n}\n");
  ASSERT_TRUE(c->checked);
  EXPECT_TRUE(testing::diagnostics(*c).empty()) << testing::rendered(*c);
}

TEST(ProcessClause, TheKeywordStillWorksAsALabelValueAndAName) {
  auto c = testing::compile(
      "selector processes = { role = processes }\n"
      "policy p {\n  selects processes\n  egress { allow to pods { processes = x } }\n}\n");
  ASSERT_TRUE(c->checked) << testing::rendered(*c);
  EXPECT_EQ(c->checked->policies.at(0).selects.str(), "{role = processes}");
}

// ---- lowering -------------------------------------------------------------------

TEST(ProcessClause, EveryEgressAllowRuleOfTheClassGetsTheClausesExecutables) {
  // Policy other has no clause, but selects web too: its rule is restricted
  // as well. Deny rules and ingress rules keep their conditions.
  auto c = lowered(
      "namespace h\n"
      "policy web {\n  selects { app = web }\n  processes { exe \"/b\", exe \"/a\" }\n"
      "  ingress { allow from world on tcp/80 }\n"
      "  egress {\n    allow to pods { app = db } on tcp/5432\n    deny to world on tcp/25\n  }\n}\n"
      "policy other {\n  selects { app = web }\n  egress {\n    allow to world on tcp/443\n  }\n}\n"
      "policy db {\n  selects { app = db }\n  egress {\n    allow to world on tcp/443\n  }\n}\n");
  ASSERT_FALSE(c->diags.hasErrors()) << testing::rendered(*c);
  const auto& web = classOf(*c, "web-0");
  ASSERT_EQ(web.egress.rules.size(), 3u);
  EXPECT_EQ(web.egress.rules[0].action, ir::Action::Deny);
  EXPECT_EQ(executablesOf(web.egress.rules[0]), (Paths{"(none)"})) << "deny rules are unchanged";
  // Allow rules by id: policies are numbered by key, h/other before h/web.
  EXPECT_EQ(web.egress.rules[1].policy, "h/other");
  EXPECT_EQ(executablesOf(web.egress.rules[1]), (Paths{"/a", "/b"})) << "the class is restricted, not the policy";
  EXPECT_EQ(web.egress.rules[2].policy, "h/web");
  EXPECT_EQ(executablesOf(web.egress.rules[2]), (Paths{"/a", "/b"}));
  EXPECT_EQ(executablesOf(web.ingress.rules.at(0)), (Paths{"(none)"})) << "egress only";
  ASSERT_EQ(web.egress.processClauses.size(), 1u);
  EXPECT_EQ(web.egress.processClauses[0].executables, (Paths{"/a", "/b"}));
  const ir::RuleInfo& info = c->ir->rules.at(web.egress.processClauses[0].rule);
  EXPECT_TRUE(info.clause);
  EXPECT_EQ(info.text, "processes { exe \"/b\", exe \"/a\" }");
  EXPECT_EQ(info.location, "a.policy:4:3");
  EXPECT_EQ(info.policy, "h/web");

  const auto& db = classOf(*c, "db-0");
  EXPECT_TRUE(db.egress.processClauses.empty());
  EXPECT_EQ(executablesOf(db.egress.rules.at(0)), (Paths{"(none)"})) << "a class the clause does not select";
}

TEST(ProcessClause, ARulesOwnProcessConditionKeepsTheExecutablesBothList) {
  auto c = lowered(
      "namespace h\n"
      "policy web {\n  selects { app = web }\n  processes { exe \"/a\", exe \"/b\" }\n"
      "  egress {\n    allow to world on tcp/443 with process { exe \"/b\", exe \"/c\" }\n  }\n}\n");
  ASSERT_FALSE(c->diags.hasErrors()) << testing::rendered(*c);
  EXPECT_EQ(executablesOf(classOf(*c, "web-0").egress.rules.at(0)), (Paths{"/b"}));
}

TEST(ProcessClause, SeveralClausesSelectingOneClassIntersect) {
  auto c = lowered(
      "namespace h\n"
      "policy one {\n  selects { app = web }\n  processes { exe \"/a\", exe \"/b\", exe \"/c\" }\n"
      "  egress {\n    allow to world on tcp/443\n  }\n}\n"
      "policy two {\n  selects {}\n  processes { exe \"/c\", exe \"/b\", exe \"/d\" }\n}\n");
  ASSERT_FALSE(c->diags.hasErrors()) << testing::rendered(*c);
  const auto& web = classOf(*c, "web-0");
  EXPECT_EQ(executablesOf(web.egress.rules.at(0)), (Paths{"/b", "/c"}));
  ASSERT_EQ(web.egress.processClauses.size(), 2u);
  EXPECT_EQ(web.egress.processClauses[1].executables, (Paths{"/b", "/c", "/d"})) << "each clause as written";
  // db-0 is selected by `two` alone, whose egress nothing else isolates.
  const auto& db = classOf(*c, "db-0");
  ASSERT_EQ(db.egress.rules.size(), 1u);
  EXPECT_EQ(executablesOf(db.egress.rules[0]), (Paths{"/b", "/c", "/d"}));
}

TEST(ProcessClause, AClassNothingElseIsolatesInEgressIsIsolatedByTheClause) {
  auto c = lowered(
      "namespace h\n"
      "policy web {\n  selects { app = web }\n  processes { exe \"/a\" }\n"
      "  ingress { allow from world on tcp/80 }\n}\n");
  ASSERT_FALSE(c->diags.hasErrors()) << testing::rendered(*c);
  const auto& web = classOf(*c, "web-0");
  EXPECT_TRUE(web.egress.enforced);
  ASSERT_EQ(web.egress.rules.size(), 1u);
  const ir::Rule& rule = web.egress.rules[0];
  EXPECT_EQ(rule.action, ir::Action::Allow);
  EXPECT_TRUE(rule.peer.all) << "the listed executables connect anywhere";
  EXPECT_EQ(rule.conditions.size(), 1u) << "any protocol and port";
  EXPECT_EQ(executablesOf(rule), (Paths{"/a"}));
  EXPECT_EQ(rule.id, web.egress.processClauses.at(0).rule) << "the clause is the rule's origin";
  EXPECT_EQ(c->ir->rules.at(rule.id).location, "a.policy:4:3");

  ir::Peer world = ir::Peer::world(*net::Address::parse("198.19.1.1"));
  ir::Traffic call{ir::kTCP, 443};
  call.executable = "/a";
  EXPECT_TRUE(ir::evaluate(web.egress, world, call).allowed);
  call.executable = "/usr/bin/curl";
  EXPECT_FALSE(ir::evaluate(web.egress, world, call).allowed);
  ir::Verdict packet = ir::evaluate(web.egress, world, ir::Traffic{ir::kUDP, 53});
  EXPECT_TRUE(packet.allowed);
  EXPECT_TRUE(packet.needsProcess) << "only on sockets the socket calls let through";
  EXPECT_FALSE(ir::evaluate(web.ingress, world, ir::Traffic{ir::kTCP, 81}).allowed) << "ingress as written";
}

TEST(ProcessClause, ClausesSharingNoExecutableAreAnErrorAtTheLaterClause) {
  auto c = lowered(
      "namespace h\n"
      "policy one {\n  selects { app = web }\n  processes { exe \"/a\" }\n}\n"
      "policy two {\n  selects {}\n  processes { exe \"/b\" }\n}\n");
  EXPECT_EQ(messages(*c),
            (testing::Lines{"a.policy:8:3: error: the `processes` clauses of policies h/one and h/two share no "
                            "executable: no egress connection of endpoints h/web-0 would be allowed | note "
                            "a.policy:4:3: the clause of policy h/one is here"}))
      << testing::rendered(*c);
}

TEST(ProcessClause, ARuleSharingNoExecutableWithTheClauseIsAnErrorAtTheRule) {
  auto c = lowered(
      "namespace h\n"
      "policy web {\n  selects { app = web }\n  processes { exe \"/a\" }\n}\n"
      "policy out {\n  selects { app = web }\n  egress {\n"
      "    allow to world on tcp/443 with process { exe \"/b\" }\n  }\n}\n");
  EXPECT_EQ(messages(*c),
            (testing::Lines{"a.policy:9:5: error: rule `allow to world on tcp/443 with process { exe \"/b\" }` of "
                            "policy h/out lets no executable connect from endpoints h/web-0: none of its `with "
                            "process` executables is in their `processes` clauses | note a.policy:4:3: the clause "
                            "of policy h/web is here"}))
      << testing::rendered(*c);
}

TEST(ProcessClause, AClauseMeetingAnHttpOrDnsRuleInEgressIsAnErrorAtTheClause) {
  auto c = lowered(
      "namespace h\n"
      "policy web {\n  selects { app = web }\n  processes { exe \"/a\" }\n}\n"
      "policy out {\n  selects { app = web }\n  egress {\n"
      "    allow to world on tcp/80 with http { GET \"/\" }\n"
      "    allow to world on udp/53 with dns { \"example.com\" }\n  }\n}\n");
  EXPECT_EQ(messages(*c),
            (testing::Lines{
                "a.policy:4:3: error: the `processes` clause of policy h/web and rule `allow to world on tcp/80 with "
                "http { GET \"/\" }` of policy h/out, with a http condition, apply to the same endpoints (h/web-0) | "
                "note a.policy:9:5: the http rule is here",
                "a.policy:4:3: error: the `processes` clause of policy h/web and rule `allow to world on udp/53 with "
                "dns { \"example.com\" }` of policy h/out, with a dns condition, apply to the same endpoints "
                "(h/web-0) | note a.policy:10:5: the dns rule is here"}))
      << testing::rendered(*c);
}

TEST(ProcessClause, AClassWhoseEgressOnlyAuditPoliciesIsolateIsAnError) {
  auto c = lowered(
      "namespace h\n"
      "policy web {\n  selects { app = web }\n  processes { exe \"/a\" }\n}\n"
      "policy watch {\n  selects { app = web }\n  mode audit\n  egress {}\n}\n");
  EXPECT_EQ(messages(*c), (testing::Lines{"a.policy:4:3: error: the egress of endpoints h/web-0 is restricted only "
                                          "by audit-mode policies: a `processes` clause cannot isolate it yet"}))
      << testing::rendered(*c);
}

TEST(ProcessClause, ErrorsAreReportedOncePerClassNotPerEndpoint) {
  auto c = std::make_unique<pipeline::Compilation>();
  std::string error;
  ASSERT_TRUE(inventory::loadInventoryText(
      "inventory.json",
      R"({"endpoints": [{"name": "web-0", "namespace": "h", "labels": {"app": "web"}},
                        {"name": "web-1", "namespace": "h", "labels": {"app": "web"}}]})",
      c->inventory, &error));
  pipeline::runText({{"a.policy", "namespace h\npolicy one {\n  selects {}\n  processes { exe \"/a\" }\n}\n"
                                  "policy two {\n  selects {}\n  processes { exe \"/b\" }\n}\n"}},
                    *c);
  EXPECT_EQ(c->diags.errorCount(), 1u) << testing::rendered(*c);
}

// ---- meaning --------------------------------------------------------------------

TEST(ProcessClause, TheEvaluatorRefusesACallAClauseDoesNotListWhateverTheRulesSay) {
  // The IR as lowering would not write it (a plain allow beside a clause):
  // the evaluator holds the clause itself, so the datapath, compiled from
  // the rules alone, is held to the clause by the differential test.
  ir::DirectionPolicy policy;
  policy.enforced = true;
  ir::Rule plain;
  plain.id = 1;
  plain.peer.world = true;
  ir::Rule deny;
  deny.id = 2;
  deny.action = ir::Action::Deny;
  deny.peer.world = true;
  deny.conditions = {ir::L4Condition{{{ir::kTCP, {{25, 25}}}}}};
  policy.rules = {deny, plain};
  policy.processClauses = {{7, {"/a", "/b"}}, {8, {"/b"}}};
  ir::Peer world = ir::Peer::world(*net::Address::parse("198.19.1.1"));
  auto call = [&](const std::string& exe, uint16_t port = 443) {
    ir::Traffic t{ir::kTCP, port};
    t.executable = exe;
    return ir::evaluate(policy, world, t);
  };
  EXPECT_TRUE(call("/b").allowed) << "listed by both clauses";
  ir::Verdict a = call("/a");
  EXPECT_FALSE(a.allowed) << "clause 8 does not list it";
  EXPECT_EQ(a.reason, ir::Reason::DefaultDeny);
  EXPECT_EQ(call("/a", 25).reason, ir::Reason::DeniedByRule) << "deny rules still deny";
  EXPECT_TRUE(ir::evaluate(policy, world, ir::Traffic{ir::kTCP, 443}).allowed) << "a packet carries no executable";
  EXPECT_TRUE(ir::allowedByClauses(policy, "/b"));
  EXPECT_FALSE(ir::allowedByClauses(policy, "/a"));
  EXPECT_TRUE(ir::allowedByClauses(ir::DirectionPolicy{}, "/a")) << "no clause, no restriction";
}

TEST(ProcessClause, TheEvaluatorIsolatesADirectionOnlyClausesRestrict) {
  // Lowering writes such a direction as enforced, with an allow rule of the
  // clause's; the evaluator reads the clauses alone the same way.
  ir::DirectionPolicy policy;
  policy.processClauses = {{3, {"/a"}}};
  ir::Peer world = ir::Peer::world(*net::Address::parse("198.19.1.1"));
  ir::Traffic t{ir::kUDP, 53};
  ir::Verdict packet = ir::evaluate(policy, world, t);
  EXPECT_TRUE(packet.allowed);
  EXPECT_TRUE(packet.needsProcess);
  EXPECT_EQ(packet.rule, 3u) << "the clause is the reason";
  t.executable = "/a";
  ir::Verdict listed = ir::evaluate(policy, world, t);
  EXPECT_TRUE(listed.allowed);
  EXPECT_FALSE(listed.needsProcess);
  t.executable = "/b";
  EXPECT_FALSE(ir::evaluate(policy, world, t).allowed);
}

TEST(ProcessClause, IntersectKeepsTheExecutablesBothConditionsList) {
  EXPECT_EQ(intersect({{"/a", "/b", "/c"}}, {{"/b", "/c", "/d"}}).executables, (Paths{"/b", "/c"}));
  EXPECT_TRUE(intersect({{"/a"}}, {{"/b"}}).executables.empty());
}

// ---- printing -------------------------------------------------------------------

TEST(ProcessClause, TheIrPrintsTheClausesOfAClassAndMarksTheirEntries) {
  auto c = lowered(
      "namespace h\npolicy web {\n  selects { app = web }\n  processes { exe \"/a\" }\n}\n");
  ASSERT_FALSE(c->diags.hasErrors()) << testing::rendered(*c);
  nlohmann::json j = ir::toJson(*c->ir);
  const auto& egress = j["classes"][0]["egress"];
  const std::string id = std::to_string(j["rules"][0]["id"].get<uint32_t>());
  EXPECT_EQ(egress["processClauses"], nlohmann::json::parse(R"([{"rule": )" + id + R"(, "executables": ["/a"]}])"));
  EXPECT_EQ(egress["rules"][0]["process"]["executables"], nlohmann::json({"/a"}));
  EXPECT_EQ(j["rules"][0]["clause"], true);
  EXPECT_EQ(j["rules"][0]["text"], "processes { exe \"/a\" }");
  std::string text = ir::toText(*c->ir);
  EXPECT_NE(text.find("    processes [" + id + "]: /a\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace membrane::features::process
