// The process rule kind as a module (compiler/features/process/): what the
// checker accepts and refuses where it is written, what lowering keeps, the
// reference meaning the socket hooks and packet programs are held to
// (docs/process.md) — a call decided by its executable, a packet allowed
// only on sockets such calls opened — and its printing.
#include "features/process/process.h"

#include <gtest/gtest.h>

#include "evaluator/evaluator.h"
#include "frontend_test_support.h"
#include "inventory/inventory.h"
#include "ir_print/ir_json.h"

namespace membrane::features::process {
namespace {

std::string egress(const std::string& rules) { return "policy p {\n  selects {}\n  egress {\n" + rules + "  }\n}\n"; }

// The diagnostics without their hints and notes.
testing::Lines messages(const pipeline::Compilation& c) {
  testing::Lines out;
  for (const auto& line : testing::diagnostics(c)) out.push_back(line.substr(0, line.find(" | ")));
  return out;
}

// ---- checking -----------------------------------------------------------------

TEST(FeaturesProcess, ExecutablesAreCheckedInSourceOrderSeparatedByCommasOrSemicolons) {
  auto c = testing::compile(
      egress("    allow to world on tcp/5432 with process { exe \"/usr/bin/python3\", exe \"/opt/app/server\"; "
             "exe \"/opt/app/server\" }\n"));
  ASSERT_TRUE(c->checked) << testing::rendered(*c);
  const Checked* condition = c->checked->policies.at(0).rules.at(0).condition<Checked>();
  ASSERT_NE(condition, nullptr);
  std::vector<std::string> written;
  for (const auto& e : condition->executables) written.push_back(e.path);
  EXPECT_EQ(written, (std::vector<std::string>{"/usr/bin/python3", "/opt/app/server", "/opt/app/server"}));
  EXPECT_EQ(c->sources.describe(condition->executables[1].range.begin), "a.policy:4:75") << "at its string";
}

TEST(FeaturesProcess, ABadPathIsReportedAtItsOffendingByte) {
  auto c =
      testing::compile(egress("    allow to world on tcp/1 with process { exe \"opt/app\" }\n"
                              "    allow to world on tcp/2 with process { exe \"/opt/../app\" }\n"
                              "    allow to world on tcp/3 with process { exe \"/opt//app\" }\n"
                              "    allow to world on tcp/4 with process { exe \"/opt/app/\" }\n"
                              "    allow to world on tcp/5 with process { exe \"/opt/\tapp\" }\n"
                              "    allow to world on tcp/6 with process { exe \"/opt/./app\" }\n"
                              "    allow to world on tcp/7 with process { exe \"/\" }\n"));
  EXPECT_FALSE(c->checked);
  EXPECT_EQ(messages(*c),
            (testing::Lines{
                "a.policy:4:49: error: executable \"opt/app\" is not an absolute path (it must start with '/')",
                "a.policy:5:54: error: executable \"/opt/../app\" has a '..' component (write the path without it)",
                "a.policy:6:54: error: executable \"/opt//app\" has an empty component ('//')",
                "a.policy:7:57: error: executable \"/opt/app/\" ends with '/' (a directory, not a file)",
                "a.policy:8:54: error: executable \"/opt/\tapp\" holds a control character",
                "a.policy:9:54: error: executable \"/opt/./app\" has a '.' component (write the path without it)",
                "a.policy:10:49: error: executable \"/\" is the root directory, not a file"}))
      << testing::rendered(*c);
}

TEST(FeaturesProcess, EveryBadPathOfOneConditionIsReported) {
  auto c =
      testing::compile(egress("    allow to world on tcp/1 with process { exe \"a\", exe \"/b/\", exe \"/ok\" }\n"));
  EXPECT_FALSE(c->checked);
  EXPECT_EQ(messages(*c),
            (testing::Lines{"a.policy:4:49: error: executable \"a\" is not an absolute path (it must start with '/')",
                            "a.policy:4:60: error: executable \"/b/\" ends with '/' (a directory, not a file)"}));
}

TEST(FeaturesProcess, AMalformedBodyIsReportedAtItsToken) {
  auto c =
      testing::compile(egress("    allow to world on tcp/1 with process { }\n"
                              "    allow to world on tcp/2 with process { exe }\n"
                              "    allow to world on tcp/3 with process { \"/opt/app\" }\n"
                              "    allow to world on tcp/4 with process { exe /opt/app }\n"
                              "    allow to world on tcp/5 with process { exe \"/a\" exe \"/b\" }\n"
                              "    allow to world on tcp/6 with process { path \"/a\" }\n"));
  EXPECT_FALSE(c->checked);
  EXPECT_EQ(
      messages(*c),
      (testing::Lines{"a.policy:4:29: error: `with process { }` names no executable",
                      "a.policy:5:44: error: `exe` needs the executable's path",
                      "a.policy:6:44: error: expected `exe \"PATH\"` in `with process { ... }`, found `\"/opt/app\"`",
                      "a.policy:7:48: error: expected the executable's path as a quoted string after `exe`, found `/`",
                      "a.policy:8:53: error: expected `,` or `;` between executables, found `exe`",
                      "a.policy:9:44: error: expected `exe \"PATH\"` in `with process { ... }`, found `path`"}))
      << testing::rendered(*c);
}

TEST(FeaturesProcess, MisplacedProcessConditionsAreErrorsAtTheCondition) {
  auto c = testing::compile(
      "policy p {\n  selects {}\n  ingress {\n"
      "    allow from world on tcp/80 with process { exe \"/a\" }\n  }\n  egress {\n"
      "    deny to world on tcp/80 with process { exe \"/a\" }\n"
      "    allow to world on tcp/80 with process { exe \"/a\" } with process { exe \"/b\" }\n"
      "    allow to world on tcp/80 with http { GET \"/\" } with process { exe \"/a\" }\n"
      "    allow to world on udp/53 with process { exe \"/a\" } with dns { \"a.example.com\" }\n  }\n}\n");
  EXPECT_FALSE(c->checked);
  auto lines = testing::diagnostics(*c);
  EXPECT_EQ(messages(*c),
            (testing::Lines{"a.policy:4:32: error: `with process` is for egress rules",
                            "a.policy:7:29: error: `with process` is for allow rules",
                            "a.policy:8:56: error: a rule has at most one `with process { ... }`",
                            "a.policy:9:52: error: a rule cannot have both `with process` and `with http` yet",
                            "a.policy:10:30: error: a rule cannot have both `with process` and `with dns` yet"}))
      << testing::rendered(*c);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_NE(lines[2].find("note a.policy:8:30: the first one is here"), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find("note a.policy:9:30: the other condition is here"), std::string::npos) << lines[3];
}

TEST(FeaturesProcess, AProcessRuleNamingAProtocolOtherThanTcpOrUdpIsAnErrorAtThatProtocol) {
  auto c = testing::compile(egress("    allow to world on tcp/80, icmp/echo-request with process { exe \"/a\" }\n"
                                   "    allow to world with process { exe \"/a\" }\n"));
  EXPECT_EQ(messages(*c), (testing::Lines{"a.policy:4:31: error: a rule with `with process` covers TCP and UDP only"}))
      << testing::rendered(*c);
}

// Rules of different policies meet in a class: an http rule and a process
// rule in one direction of the same endpoints is an error at the process
// rule, the http rule in a note (not a code generation failure without a
// location).
TEST(FeaturesProcess, HttpAndProcessRulesInOneDirectionOfOneEndpointAreAnErrorAtTheProcessRule) {
  pipeline::Compilation c;
  std::string error;
  ASSERT_TRUE(inventory::loadInventoryText(
      "inventory.json",
      R"({"endpoints": [{"name": "a", "namespace": "default", "labels": {"app": "a"}, "addresses": ["198.18.0.1"]}]})",
      c.inventory, &error))
      << error;
  pipeline::runText({{"a.policy", "policy web {\n  selects { app = a }\n  egress {\n"
                                   "    allow to world on tcp/80 with http { GET \"/\" }\n  }\n}\n"
                                   "policy db {\n  selects { app = a }\n  egress {\n"
                                   "    allow to world on tcp/5432 with process { exe \"/a\" }\n  }\n}\n"}},
                    c);
  auto lines = testing::diagnostics(c);
  ASSERT_EQ(lines.size(), 1u) << testing::rendered(c);
  EXPECT_EQ(lines[0].substr(0, lines[0].find(" | ")),
            "a.policy:10:5: error: rule `allow to world on tcp/5432 with process { exe \"/a\" }` of policy default/db "
            "has a process condition, and rule `allow to world on tcp/80 with http { GET \"/\" }` of policy "
            "default/web an http condition, for the same endpoints (default/a)");
  EXPECT_NE(lines[0].find("note a.policy:4:5: the http rule is here"), std::string::npos) << lines[0];
}

// ---- lowering -----------------------------------------------------------------

TEST(FeaturesProcess, LoweringSortsThePathsAndMergesDuplicates) {
  Checked checked;
  for (const char* p : {"/usr/bin/python3", "/opt/app/server", "/usr/bin/python3", "/opt/app/a"})
    checked.executables.push_back({p, {}});
  EXPECT_EQ(lower(checked).executables,
            (std::vector<std::string>{"/opt/app/a", "/opt/app/server", "/usr/bin/python3"}));

  auto c =
      testing::compile(egress("    allow to world on tcp/5432 with process { exe \"/b\", exe \"/a\", exe \"/b\" }\n"));
  ASSERT_TRUE(c->checked) << testing::rendered(*c);
  const Checked* written = c->checked->policies.at(0).rules.at(0).condition<Checked>();
  ASSERT_NE(written, nullptr);
  EXPECT_EQ(lower(*written).executables, (std::vector<std::string>{"/a", "/b"}));
}

// ---- meaning ------------------------------------------------------------------

ir::Rule rule(uint32_t id, ir::Action action) {
  ir::Rule r;
  r.id = id;
  r.action = action;
  r.peer.world = true;
  r.conditions = {ir::L4Condition{{{ir::kTCP, {{5432, 5432}}}}}};
  return r;
}

ir::Rule processRule(uint32_t id, std::vector<std::string> executables) {
  ir::Rule r = rule(id, ir::Action::Allow);
  r.conditions.push_back(ir::ProcessCondition{std::move(executables)});
  return r;
}

ir::Traffic call(const std::string& executable, uint16_t port = 5432) {
  ir::Traffic t{ir::kTCP, port};
  t.executable = executable;
  return t;
}

TEST(FeaturesProcess, ACallMatchesWhenItsExecutableIsListedAndAPacketAlways) {
  ir::ProcessCondition c{{"/opt/app/server", "/usr/bin/python3"}};
  EXPECT_TRUE(matches(c, call("/opt/app/server")));
  EXPECT_TRUE(matches(c, call("/usr/bin/python3")));
  EXPECT_FALSE(matches(c, call("/usr/bin/curl")));
  EXPECT_FALSE(matches(c, call("/opt/app/server2"))) << "a path, not a prefix";
  EXPECT_FALSE(matches(c, call("/opt/app"))) << "nor a directory of it";
  EXPECT_TRUE(matches(c, ir::Traffic{ir::kTCP, 5432})) << "a packet stands for the calls the hooks allowed";
}

class ProcessEvaluation : public ::testing::Test {
 protected:
  ir::DirectionPolicy policy;
  ir::Peer world = ir::Peer::world(*net::Address::parse("198.19.1.1"));
  void SetUp() override {
    policy.enforced = true;
    policy.rules = {processRule(1, {"/opt/app/server"}), processRule(2, {"/usr/bin/python3"})};
  }
};

TEST_F(ProcessEvaluation, ACallIsAllowedByTheRuleListingItsExecutableAndDeniedOtherwise) {
  auto server = ir::evaluate(policy, world, call("/opt/app/server"));
  EXPECT_TRUE(server.allowed);
  EXPECT_EQ(server.rule, 1u);
  EXPECT_FALSE(server.needsProcess) << "a call's verdict is final";
  auto python = ir::evaluate(policy, world, call("/usr/bin/python3"));
  EXPECT_TRUE(python.allowed);
  EXPECT_EQ(python.rule, 2u);
  auto curl = ir::evaluate(policy, world, call("/usr/bin/curl"));
  EXPECT_FALSE(curl.allowed);
  EXPECT_EQ(curl.reason, ir::Reason::DefaultDeny);
  EXPECT_FALSE(ir::evaluate(policy, world, call("/opt/app/server", 5433)).allowed) << "the ports still apply";
}

TEST_F(ProcessEvaluation, APacketOnlyProcessRulesAllowNeedsAnApprovedSocket) {
  auto packet = ir::evaluate(policy, world, ir::Traffic{ir::kTCP, 5432});
  EXPECT_TRUE(packet.allowed);
  EXPECT_EQ(packet.reason, ir::Reason::AllowedByRule);
  EXPECT_EQ(packet.rule, 1u) << "the lowest-numbered allow, as for any packet";
  EXPECT_TRUE(packet.needsProcess);
  EXPECT_FALSE(ir::evaluate(policy, world, ir::Traffic{ir::kTCP, 80}).needsProcess) << "denied: nothing to need";
}

TEST_F(ProcessEvaluation, APlainAllowBesideAProcessRuleNeedsNoExecutable) {
  ir::Rule plain = rule(3, ir::Action::Allow);
  policy.rules.push_back(plain);
  auto packet = ir::evaluate(policy, world, ir::Traffic{ir::kTCP, 5432});
  EXPECT_TRUE(packet.allowed);
  EXPECT_FALSE(packet.needsProcess) << "rule 3 allows every socket's packets";
  auto curl = ir::evaluate(policy, world, call("/usr/bin/curl"));
  EXPECT_TRUE(curl.allowed) << "and every executable's call";
  EXPECT_EQ(curl.rule, 3u);

  ir::Rule otherPort = rule(4, ir::Action::Allow);
  otherPort.conditions = {ir::L4Condition{{{ir::kTCP, {{80, 80}}}}}};
  policy.rules = {processRule(1, {"/opt/app/server"}), otherPort};
  EXPECT_TRUE(ir::evaluate(policy, world, ir::Traffic{ir::kTCP, 5432}).needsProcess)
      << "a plain allow of another port changes nothing";
}

TEST_F(ProcessEvaluation, ADenyRuleWinsOverAProcessRule) {
  policy.rules.push_back(rule(3, ir::Action::Deny));
  auto packet = ir::evaluate(policy, world, ir::Traffic{ir::kTCP, 5432});
  EXPECT_FALSE(packet.allowed);
  EXPECT_EQ(packet.reason, ir::Reason::DeniedByRule);
  EXPECT_EQ(packet.rule, 3u);
  EXPECT_FALSE(packet.needsProcess);
  auto server = ir::evaluate(policy, world, call("/opt/app/server"));
  EXPECT_FALSE(server.allowed) << "even for a listed executable";
  EXPECT_EQ(server.rule, 3u);
}

TEST_F(ProcessEvaluation, AProcessRuleOfAnAuditPolicyDecidesNothing) {
  policy.enforced = false;
  policy.audited = true;
  for (auto& r : policy.rules) r.audit = true;
  auto packet = ir::evaluate(policy, world, ir::Traffic{ir::kTCP, 5432});
  EXPECT_TRUE(packet.allowed);
  EXPECT_EQ(packet.reason, ir::Reason::NoPolicy);
  EXPECT_FALSE(packet.needsProcess);
  auto curl = ir::evaluate(policy, world, call("/usr/bin/curl"));
  EXPECT_TRUE(curl.allowed);
  EXPECT_TRUE(curl.auditWouldDeny) << "audit mode reports the call it would refuse";
}

// ---- printing -----------------------------------------------------------------

TEST(FeaturesProcess, TheIrPrintsTheExecutablesAsJsonAndAsWritten) {
  ir::Rule r = processRule(4, {"/opt/app/server", "/usr/bin/python3"});
  EXPECT_EQ(describe(r), " with process { exe \"/opt/app/server\", exe \"/usr/bin/python3\" }");
  nlohmann::json j = nlohmann::json::object();
  printJson(r, j);
  EXPECT_EQ(j, nlohmann::json::parse(R"({"process": {"executables": ["/opt/app/server", "/usr/bin/python3"]}})"));
  auto full = ir::toJson(r);
  EXPECT_EQ(full["process"]["executables"], nlohmann::json({"/opt/app/server", "/usr/bin/python3"}));

  ir::Rule plain = rule(5, ir::Action::Allow);
  EXPECT_EQ(describe(plain), "");
  nlohmann::json none = nlohmann::json::object();
  printJson(plain, none);
  EXPECT_FALSE(none.contains("process"));
}

TEST(FeaturesProcess, OnlyTheSocketCallHooksEnforceIt) {
  EXPECT_TRUE(enforceableBy(ProgramKind::SockAddr));
  EXPECT_FALSE(enforceableBy(ProgramKind::Tc));
  EXPECT_FALSE(enforceableBy(ProgramKind::CgroupSkb));
}

}  // namespace
}  // namespace membrane::features::process
