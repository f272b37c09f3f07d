// `membranec lint`: every check with a case that fires (exact id and
// file:line:col) and one that must not; suppressions; --enable/--disable;
// exit codes; the SARIF, JSON and GitHub renderings.
#include "lint/lint.h"

#include <gtest/gtest.h>

#include "names/http.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "features/dns/dns.h"
#include "pipeline/pipeline.h"
#include "inventory/inventory.h"
#include "evaluator/evaluator.h"
#include "lint/render.h"

namespace membrane::lint {
namespace {

using nlohmann::json;

std::string shopInventory() {
  return std::string(MEMBRANE_SOURCE_DIR) + "/policies/shop/inventory.json";
}

struct Linted {
  std::unique_ptr<pipeline::Compilation> c;
  Result result;
  // "file:line:col: ID" per finding, in order.
  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    for (const auto& f : result.findings) out.push_back(c->sources.describe(f.range.begin) + ": " + f.check);
    return out;
  }
  bool has(const std::string& where) const {
    auto v = ids();
    return std::find(v.begin(), v.end(), where) != v.end();
  }
  size_t count(const std::string& id) const {
    return std::count_if(result.findings.begin(), result.findings.end(), [&](const Finding& f) { return f.check == id; });
  }
  const Finding* find(const std::string& where) const {
    for (const auto& f : result.findings)
      if (c->sources.describe(f.range.begin) + ": " + f.check == where) return &f;
    return nullptr;
  }
  std::string dump() const {
    std::string s;
    for (const auto& f : result.findings)
      s += c->sources.describe(f.range.begin) + ": " + f.check + " " + f.message + " | " + f.hint + "\n";
    return s;
  }
};

Linted lintText(const std::string& text, bool withInventory = false, Options options = {}) {
  Linted l;
  l.c = std::make_unique<pipeline::Compilation>();
  if (withInventory) {
    std::string error;
    EXPECT_TRUE(inventory::loadInventoryFile(shopInventory(), l.c->inventory, &error)) << error;
  }
  pipeline::runText({{"t.policy", text}}, *l.c);
  std::ostringstream diags;
  l.c->diags.print(diags, false);
  EXPECT_FALSE(l.c->diags.hasErrors()) << diags.str();
  l.result = lint(*l.c, options, withInventory);
  return l;
}

// Only the given checks, so each test sees its own findings.
Options only(std::initializer_list<const char*> ids) {
  Options o;
  for (const auto& c : catalogue()) o.disable.insert(c.id);
  for (const char* id : ids) {
    o.disable.erase(id);
    o.enable.insert(id);
  }
  return o;
}

// ---- MB101 redundant-rule --------------------------------------------------------

TEST(LintRedundant, DuplicateRuleReportsTheLaterOne) {
  auto l = lintText(
      "namespace shop\n"
      "policy p {\n"
      "  selects { app = api }\n"
      "  ingress {\n"
      "    allow from pods { app = web } on tcp/80\n"
      "    allow from pods { app = web } on tcp/80\n"
      "  }\n"
      "}\n",
      false, only({"MB101"}));
  EXPECT_EQ(l.ids(), std::vector<std::string>{"t.policy:6:5: MB101"}) << l.dump();
  ASSERT_EQ(l.result.findings[0].related.size(), 1u);
  EXPECT_EQ(l.result.findings[0].related[0].range.begin.line, 5u);
}

TEST(LintRedundant, CoveredByTheUnionOfRangesAndPorts) {
  // Neither /17 covers the /16 alone, nor either port range the whole.
  auto l = lintText(
      "policy p {\n"
      "  selects {}\n"
      "  egress {\n"
      "    allow to cidr 198.18.0.0/17 on tcp/80-85\n"
      "    allow to cidr 198.18.128.0/17 on tcp/80-90\n"
      "    allow to cidr 198.18.0.0/17 on tcp/86-90\n"
      "    allow to cidr 198.18.0.0/16 on tcp/80-90\n"
      "  }\n"
      "}\n",
      false, only({"MB101"}));
  EXPECT_EQ(l.ids(), std::vector<std::string>{"t.policy:7:5: MB101"}) << l.dump();
}

TEST(LintRedundant, BroaderRuleInABroaderPolicy) {
  auto l = lintText(
      "namespace shop\n"
      "policy narrow {\n"
      "  selects { app = api, tier = backend }\n"
      "  ingress { allow from pods { app = web, version = v2 } on tcp/8080 }\n"
      "}\n"
      "policy wide {\n"
      "  selects { app = api }\n"
      "  ingress { allow from cluster on tcp }\n"
      "}\n",
      false, only({"MB101"}));
  EXPECT_EQ(l.ids(), std::vector<std::string>{"t.policy:4:13: MB101"}) << l.dump();
}

TEST(LintRedundant, WorldIsCoveredByBothWholeAddressSpaces) {
  // `world` is an outside address; 0.0.0.0/0 and ::/0 together match every
  // address. The CIDR rules are not redundant: they also match endpoints.
  auto l = lintText(
      "policy p {\n"
      "  selects {}\n"
      "  ingress {\n"
      "    allow from cidr 0.0.0.0/0 on tcp/443\n"
      "    allow from world on tcp/443\n"
      "    allow from cidr ::/0 on tcp/443\n"
      "  }\n"
      "}\n",
      false, only({"MB101"}));
  EXPECT_EQ(l.ids(), std::vector<std::string>{"t.policy:5:5: MB101"}) << l.dump();
}

TEST(LintRedundant, DoesNotFireWhenSomethingIsLeftUncovered) {
  auto l = lintText(
      "namespace shop\n"
      "policy a {\n"
      "  selects { app = api }\n"
      "  ingress {\n"
      // a pod selector is not covered by a narrower one, nor a CIDR by world
      "    allow from pods { app = web }\n"
      "    allow from pods { app = web, tier = x }\n"
      "    allow from world on tcp/80\n"
      "    allow from cidr 198.51.100.0/24 on tcp/80\n"
      // ports: 84-88 is not covered by 80-85 and 87-90
      "    allow from host on tcp/80-85\n"
      "    allow from host on tcp/87-90\n"
      "    allow from host on tcp/84-88\n"
      // an egress named port is resolved through each rule's own peers
      "  }\n"
      "  egress {\n"
      "    allow to pods { app = db } on tcp/postgres\n"
      "    allow to cluster on tcp/postgres\n"
      "  }\n"
      "}\n"
      // disjoint policies: the same rule is not redundant
      "policy b {\n"
      "  selects { app = other }\n"
      "  ingress { allow from pods { app = web } }\n"
      "}\n"
      // an enforcing rule is not covered by an audit one
      "policy c {\n"
      "  selects { app = api }\n"
      "  mode audit\n"
      "  ingress { allow from cidr 198.51.100.0/23 on tcp/80 }\n"
      "}\n",
      false, only({"MB101"}));
  // Only the one with `tier = x` is covered.
  EXPECT_EQ(l.ids(), std::vector<std::string>{"t.policy:6:5: MB101"}) << l.dump();
}

TEST(LintRedundant, IngressNamedPortsCoverEachOther) {
  auto l = lintText(
      "namespace shop\n"
      "policy p {\n"
      "  selects { app = api }\n"
      "  ingress {\n"
      "    allow from cluster on tcp/http\n"
      "    allow from pods { app = frontend } on tcp/http\n"
      "  }\n"
      "}\n",
      false, only({"MB101"}));
  EXPECT_EQ(l.ids(), std::vector<std::string>{"t.policy:6:5: MB101"}) << l.dump();
}

TEST(LintRedundant, KnownEndpointsDecideWithAnInventory) {
  // 198.18.1.20/31 is exactly the addresses of api-0 and api-1. With the
  // inventory, a peer there is one of them, another endpoint, or the host,
  // never `world`, so `cluster` covers the CIDR rule; without it, the range
  // may be outside addresses and the CIDR rule stays.
  std::string text =
      "namespace shop\n"
      "policy p {\n"
      "  selects { app = postgres }\n"
      "  ingress {\n"
      "    allow from cluster on tcp/5432\n"
      "    allow from cidr 198.18.1.20/31 on tcp/5432\n"
      "  }\n"
      "}\n";
  auto without = lintText(text, false, only({"MB101"}));
  EXPECT_TRUE(without.ids().empty()) << without.dump();
  auto with = lintText(text, true, only({"MB101"}));
  EXPECT_EQ(with.ids(), std::vector<std::string>{"t.policy:6:5: MB101"}) << with.dump();
  // .22 and .23 belong to no endpoint: a /30 stays.
  std::string wider = text;
  wider.replace(wider.find("/31"), 3, "/30");
  auto notCovered = lintText(wider, true, only({"MB101"}));
  EXPECT_TRUE(notCovered.ids().empty()) << notCovered.dump();
}

// ---- MB102 dead-allow ------------------------------------------------------------

TEST(LintDeadAllow, DenyInABroaderPolicyOverridesTheAllow) {
  auto l = lintText(
      "namespace shop\n"
      "policy base {\n"
      "  selects {}\n"
      "  ingress { deny from cidr 198.51.100.0/23 }\n"
      "}\n"
      "policy api {\n"
      "  selects { app = api }\n"
      "  ingress {\n"
      "    allow from cidr 198.51.100.0/24 on tcp/443\n"
      "    allow from cidr 198.51.0.0/16 on tcp/443\n"
      "  }\n"
      "}\n",
      false, only({"MB102"}));
  EXPECT_EQ(l.ids(), std::vector<std::string>{"t.policy:9:5: MB102"}) << l.dump();
  ASSERT_EQ(l.result.findings[0].related.size(), 1u);
  EXPECT_EQ(l.result.findings[0].related[0].range.begin.line, 4u);
}

TEST(LintDeadAllow, DoesNotFireForNarrowerOrAuditDenies) {
  auto l = lintText(
      "namespace shop\n"
      "policy narrow {\n"
      "  selects { app = api, tier = x }\n"
      "  ingress { deny from world }\n"
      "}\n"
      "policy trial {\n"
      "  selects { app = api }\n"
      "  mode audit\n"
      "  ingress { deny from world }\n"
      "}\n"
      "policy api {\n"
      "  selects { app = api }\n"
      "  ingress {\n"
      "    allow from world on tcp/443\n"
      "    deny from world on tcp/1-442\n"
      "  }\n"
      "}\n",
      false, only({"MB102"}));
  EXPECT_TRUE(l.ids().empty()) << l.dump();
}

// ---- MB103, MB104, MB105: against the inventory ---------------------------------

TEST(LintInventory, PeerMatchingNothingWithAHint) {
  auto l = lintText(
      "namespace shop\n"
      "policy p {\n"
      "  selects { app = api }\n"
      "  ingress {\n"
      "    allow from pods { app = frontnd } on tcp/80\n"
      "    allow from pods { app = frontend } on tcp/80\n"
      "    allow from namespace shpo\n"
      "  }\n"
      "}\n",
      true, only({"MB103"}));
  EXPECT_EQ(l.ids(), (std::vector<std::string>{"t.policy:5:16: MB103", "t.policy:7:16: MB103"})) << l.dump();
  EXPECT_NE(l.result.findings[0].hint.find("did you mean `frontend`?"), std::string::npos);
  EXPECT_NE(l.result.findings[1].hint.find("did you mean `shop`?"), std::string::npos);
}

TEST(LintInventory, PolicySelectingNothing) {
  auto l = lintText(
      "namespace shop\n"
      "policy ghost {\n"
      "  selects { app = gohst }\n"
      "  ingress {}\n"
      "}\n"
      "policy real {\n"
      "  selects { app = api }\n"
      "  ingress {}\n"
      "}\n",
      true, only({"MB104"}));
  EXPECT_EQ(l.ids(), std::vector<std::string>{"t.policy:3:11: MB104"}) << l.dump();
}

TEST(LintInventory, UnknownLabelKeyWithDidYouMean) {
  auto l = lintText(
      "namespace shop\n"
      "selector web = { ap = frontend }\n"
      "policy p {\n"
      "  selects web\n"
      "  ingress {\n"
      "    allow from pods { app = api, !canary } in namespaces { purpose = monitoring }\n"
      "    allow from namespaces { app = api }\n"
      "    allow from pods { tier, !tierr }\n"
      "  }\n"
      "}\n",
      true, only({"MB105"}));
  EXPECT_EQ(l.ids(), (std::vector<std::string>{"t.policy:2:18: MB105", "t.policy:7:29: MB105",
                                               "t.policy:8:29: MB105"}))
      << l.dump();
  EXPECT_EQ(l.result.findings[0].hint, "did you mean `app`?");
  EXPECT_EQ(l.result.findings[1].message, "no namespace of the inventory has label key 'app'");
  EXPECT_EQ(l.result.findings[2].hint, "did you mean `tier`?");  // `!tierr`: reported only for the typo
}

TEST(LintInventory, NotRunWithoutAnInventory) {
  auto l = lintText(
      "policy p {\n  selects { nope = x }\n  ingress { allow from pods { nope = y } }\n}\n", false,
      only({"MB103", "MB104", "MB105"}));
  EXPECT_TRUE(l.ids().empty()) << l.dump();
  EXPECT_EQ(l.result.notRun, (std::vector<std::string>{"MB103", "MB104", "MB105"}));
}

// ---- MB106, MB107, MB112: exposure ------------------------------------------------

TEST(LintExposure, BroadAllows) {
  auto l = lintText(
      "policy p {\n"
      "  selects {}\n"
      "  ingress {\n"
      "    allow from world\n"
      "    allow from all on tcp, udp/53\n"
      "    allow from world on tcp/443\n"
      "    allow from cluster\n"
      "    deny from world\n"
      "  }\n"
      "  egress { allow to cidr 0.0.0.0/0 except 10.0.0.0/8 on any }\n"
      "}\n"
      "policy trial {\n  selects {}\n  mode audit\n  ingress { allow from world }\n}\n",
      false, only({"MB106"}));
  EXPECT_EQ(l.ids(), (std::vector<std::string>{"t.policy:4:16: MB106", "t.policy:5:16: MB106",
                                               "t.policy:10:21: MB106"}))
      << l.dump();
  EXPECT_EQ(l.result.findings[1].message, "allow rule opens every tcp port from `all`");
}

TEST(LintExposure, SensitivePortsFromTheInternet) {
  auto l = lintText(
      "policy p {\n"
      "  selects {}\n"
      "  ingress {\n"
      "    allow from world on tcp/22\n"
      "    allow from cidr ::/0 on tcp/5000-6000\n"
      "    allow from cidr 198.51.100.0/24 on tcp/22\n"
      "    allow from pods { app = api } on tcp/5432\n"
      "    allow from world on tcp/{80, 443}\n"
      "  }\n"
      "  egress { allow to world on tcp/5432 }\n"
      "}\n",
      false, only({"MB107"}));
  EXPECT_EQ(l.ids(), (std::vector<std::string>{"t.policy:4:25: MB107", "t.policy:5:29: MB107"})) << l.dump();
  EXPECT_EQ(l.result.findings[0].severity, Severity::Error);
  EXPECT_EQ(l.result.findings[1].message,
            "allow rule exposes ports 5432 (PostgreSQL), 5900 (VNC), 5984 (CouchDB) to `cidr ::/0`");
  EXPECT_EQ(l.result.exitCode(false), 1);
}

TEST(LintExposure, UnrestrictedPortsIsOffByDefault) {
  std::string text = "policy p {\n  selects {}\n  ingress {\n    allow from pods { app = a }\n"
                     "    allow from pods { app = b } on tcp/80\n  }\n}\n";
  auto off = lintText(text);
  EXPECT_EQ(off.count("MB112"), 0u) << off.dump();
  Options on;
  on.enable.insert("MB112");
  auto l = lintText(text, false, on);
  EXPECT_EQ(l.ids(), std::vector<std::string>{"t.policy:4:5: MB112"}) << l.dump();
  EXPECT_EQ(l.result.findings[0].severity, Severity::Note);
  EXPECT_EQ(l.result.exitCode(true), 0);  // notes never fail
}

// ---- MB108 .. MB111: structure -----------------------------------------------------

TEST(LintStructure, IneffectiveExcepts) {
  auto l = lintText(
      "peers nets = cidr 198.51.100.0/24 except (198.51.100.0/25, 198.51.100.128/25)\n"
      "policy p {\n"
      "  selects {}\n"
      "  egress {\n"
      "    allow to nets\n"
      "    allow to cidr 198.51.0.0/16 except (198.51.0.0/17, 198.51.3.0/24)\n"
      "    allow to cidr 198.52.0.0/16 except (198.52.1.0/24, 198.52.2.0/24)\n"
      "  }\n"
      "}\n",
      false, only({"MB108"}));
  EXPECT_EQ(l.ids(), (std::vector<std::string>{"t.policy:1:19: MB108", "t.policy:6:56: MB108"})) << l.dump();
}

TEST(LintStructure, OverlappingPorts) {
  auto l = lintText(
      "ports web = tcp/80, tcp/{443, 80}\n"
      "ports tls = tcp/443\n"
      "policy p {\n"
      "  selects {}\n"
      "  ingress {\n"
      "    allow from world on tcp/{8000-8100, 8080}\n"
      "    allow from world on tcp, tcp/443\n"
      "    allow from world on web, tls\n"
      "    allow from world on tcp/80, any\n"
      "    allow from world on icmp/{8, echo-request}\n"
      "    allow from world on tcp/80, udp/80, tcp/{81, 82-90}\n"
      "  }\n"
      "}\n",
      false, only({"MB109"}));
  EXPECT_EQ(l.ids(), (std::vector<std::string>{"t.policy:1:31: MB109", "t.policy:6:41: MB109",
                                               "t.policy:7:34: MB109", "t.policy:8:30: MB109",
                                               "t.policy:9:33: MB109", "t.policy:10:34: MB109"}))
      << l.dump();
}

TEST(LintStructure, UnusedDefinitions) {
  auto l = lintText(
      "selector used = { app = a }\n"
      "selector only-by-unused = { app = b }\n"
      "peers unused-peers = pods only-by-unused\n"
      "ports unused-ports = tcp/80\n"
      "policy p { selects used ingress {} }\n",
      false, only({"MB110"}));
  EXPECT_EQ(l.ids(), (std::vector<std::string>{"t.policy:2:10: MB110", "t.policy:3:7: MB110",
                                               "t.policy:4:7: MB110"}))
      << l.dump();
  EXPECT_EQ(l.result.findings[0].message,
            "selector definition 'only-by-unused' is only used by unused definition 'unused-peers'");
}

TEST(LintStructure, AuditPolicy) {
  auto l = lintText("policy a {\n  selects {}\n  mode audit\n  ingress {}\n}\n"
                    "policy b {\n  selects {}\n  mode enforce\n  egress {}\n}\n",
                    false, only({"MB111"}));
  EXPECT_EQ(l.ids(), std::vector<std::string>{"t.policy:3:8: MB111"}) << l.dump();
}

// ---- suppressions --------------------------------------------------------------------

TEST(LintSuppressions, SameLineAndLineBeforeWithReasons) {
  auto l = lintText(
      "policy a {\n"
      "  selects {}\n"
      "  # membrane-lint: disable MB111 -- trial until 2027-01\n"
      "  # (a plain comment in between is fine)\n"
      "\n"
      "  mode audit\n"
      "  ingress {}\n"
      "}\n"
      "policy gateway {\n"
      "  selects {}\n"
      "  ingress {\n"
      "    allow from world  // membrane-lint: disable MB106, MB112 -- public ingress gateway\n"
      "  }\n"
      "}\n",
      false, only({"MB001", "MB002", "MB106", "MB111"}));
  // Used suppressions with reasons are neither malformed nor unused; MB112
  // did not run, so its suppression is not reported as unused.
  EXPECT_TRUE(l.ids().empty()) << l.dump();
  ASSERT_EQ(l.result.suppressed.size(), 2u);
  EXPECT_EQ(l.result.suppressed[0].check, "MB111");
  EXPECT_EQ(*l.result.suppressed[0].suppressedBecause, "trial until 2027-01");
  EXPECT_EQ(l.result.suppressed[1].check, "MB106");
  EXPECT_EQ(*l.result.suppressed[1].suppressedBecause, "public ingress gateway");
}

TEST(LintSuppressions, SuppressesAFindingOnAContinuationLine) {
  // The finding points into the rule's second line; a suppression before the
  // rule applies to all of it.
  auto l = lintText(
      "policy a {\n"
      "  selects {}\n"
      "  ingress {\n"
      "    # membrane-lint: disable MB106 -- load balancer health checks come from anywhere\n"
      "    allow from host,\n"
      "               world\n"
      "  }\n"
      "}\n",
      false, only({"MB106"}));
  EXPECT_TRUE(l.ids().empty()) << l.dump();
  EXPECT_EQ(l.result.suppressed.size(), 1u);
}

TEST(LintSuppressions, MalformedAndUnusedSuppressionsAreReported) {
  auto l = lintText(
      "policy a {\n"
      "  selects {}\n"
      "  # membrane-lint: disable MB111\n"
      "  mode audit\n"
      "  # membrane-lint: disable MB1O6 -- typo in the id\n"
      "  ingress {}\n"
      "  # membrane-lint: disable MB101 -- nothing is redundant here\n"
      "  egress {}\n"
      "  # membrane-lint: enable MB101 -- wrong verb\n"
      "}\n",
      false, only({"MB001", "MB002", "MB101", "MB111"}));
  EXPECT_EQ(l.ids(), (std::vector<std::string>{"t.policy:3:3: MB001", "t.policy:4:8: MB111",
                                               "t.policy:5:3: MB001", "t.policy:7:3: MB002",
                                               "t.policy:9:3: MB001"}))
      << l.dump();
  EXPECT_EQ(l.find("t.policy:5:3: MB001")->hint, "did you mean `MB106`?");
}

TEST(LintSuppressions, NoUnusedReportForChecksThatDidNotRun) {
  std::string text =
      "namespace shop\n"
      "policy a {\n"
      "  # membrane-lint: disable MB104 -- deployed next sprint\n"
      "  selects { app = later }\n"
      "  ingress {}\n"
      "}\n";
  auto without = lintText(text, false, only({"MB002", "MB104"}));
  EXPECT_TRUE(without.ids().empty()) << without.dump();
  auto with = lintText(text, true, only({"MB002", "MB104"}));
  EXPECT_TRUE(with.ids().empty()) << with.dump();
  EXPECT_EQ(with.result.suppressed.size(), 1u);
  auto disabled = lintText(text, true, only({"MB002"}));
  EXPECT_TRUE(disabled.ids().empty()) << disabled.dump();
}

TEST(LintSuppressions, MarkersInsideStringsAreNotComments) {
  auto l = lintText("policy a {\n  selects { note = \"x\" }\n  mode audit # membrane-lint: disable MB111 -- demo\n"
                    "  ingress {}\n}\n",
                    false, only({"MB002", "MB111"}));
  EXPECT_TRUE(l.ids().empty()) << l.dump();
}

// ---- options and exit codes ------------------------------------------------------------

TEST(LintOptions, EnableDisableAndUnknownIds) {
  Options o;
  o.disable.insert("MB111");
  auto l = lintText("policy a {\n  selects {}\n  mode audit\n  ingress {}\n}\n", false, o);
  EXPECT_EQ(l.count("MB111"), 0u);
  o.disable = {"audit-policy"};  // names work too
  EXPECT_EQ(validate(o), "");
  o.disable = {"MB1111"};
  EXPECT_EQ(validate(o),
            "unknown check 'MB1111'; did you mean `MB111`? (the checks are listed in docs/lint.md and `membranec lint "
            "--help`)");
  o.disable = {"MB101"};
  o.enable = {"mb101"};
  EXPECT_EQ(validate(o), "check MB101 is both enabled and disabled");
}

TEST(LintOptions, WerrorTurnsWarningsIntoFailure) {
  auto l = lintText("policy a {\n  selects {}\n  mode audit\n  ingress {}\n}\n");
  EXPECT_EQ(l.result.warnings, 1u);
  EXPECT_EQ(l.result.errors, 0u);
  EXPECT_EQ(l.result.exitCode(false), 0);
  EXPECT_EQ(l.result.exitCode(true), 1);
  auto clean = lintText("policy a {\n  selects {}\n  ingress {}\n}\n");
  EXPECT_EQ(clean.result.exitCode(true), 0) << clean.dump();
}

// ---- MB113 dns-match-all, MB114 dns-name-not-looked-up -----------------------------

TEST(LintDns, AStarAloneIsReportedInAConditionAndAsANamePeer) {
  auto l = lintText(
      "policy p {\n"
      "  selects {}\n"
      "  egress {\n"
      "    allow to world on udp/53 with dns { \"*.example.com\", \"*\" }\n"
      "    allow to dns \"*\" on tcp/443\n"
      "  }\n"
      "}\n",
      false, only({"MB113"}));
  EXPECT_EQ(l.ids(), (std::vector<std::string>{"t.policy:4:58: MB113", "t.policy:5:14: MB113"})) << l.dump();
}

TEST(LintDns, ANameNoDnsRuleLetsTheEndpointsLookUpIsReported) {
  auto l = lintText(
      "namespace shop\n"
      "policy resolver {\n"
      "  selects {}\n"
      "  egress {\n"
      "    allow to world on udp/53 with dns { \"*.stripe.com\", \"api-*.example.com\" }\n"
      "  }\n"
      "}\n"
      "policy api {\n"
      "  selects { app = api }\n"
      "  egress {\n"
      "    allow to dns \"api.stripe.com\", \"api-eu*.example.com\", \"a.b.stripe.com\" on tcp/443\n"
      "  }\n"
      "}\n"
      "policy other-namespace {\n"
      "  namespace ops\n"
      "  selects {}\n"
      "  egress {\n"
      "    allow to dns \"api.stripe.com\" on tcp/443\n"
      "  }\n"
      "}\n",
      false, only({"MB114"}));
  ASSERT_EQ(l.ids(), (std::vector<std::string>{"t.policy:11:14: MB114", "t.policy:18:14: MB114"})) << l.dump();
  EXPECT_NE(l.result.findings[0].message.find("\"a.b.stripe.com\""), std::string::npos)
      << "'*' covers one label: a.b.stripe.com is never learned; the other two names are";
  EXPECT_NE(l.result.findings[1].message.find("\"api.stripe.com\""), std::string::npos)
      << "the resolver policy does not apply to namespace ops";
}

// ---- HTTP rules and MB101/MB102, MB115 http-request-shadowed, MB116 http-rule-restricts-nothing ----

TEST(LintHttp, RulesWithHttpConditionsNeitherAreJudgedNorCoverOthersForRedundancy) {
  // The http allow matches only GETs: the plain allow is not redundant, and
  // the http deny (which denies only DELETEs) does not make it dead.
  auto l = lintText(
      "policy p {\n"
      "  selects {}\n"
      "  ingress {\n"
      "    allow from world on tcp/8080 with http { GET }\n"
      "    allow from world on tcp/8080\n"
      "    deny from world on tcp/8080 with http { DELETE }\n"
      "  }\n"
      "}\n",
      false, only({"MB101", "MB102"}));
  EXPECT_EQ(l.ids(), std::vector<std::string>{}) << l.dump();
}

TEST(LintHttp, AnItemAnEarlierItemOrRuleAlreadyMatchesIsShadowed) {
  auto l = lintText(
      "policy p {\n"
      "  selects {}\n"
      "  ingress {\n"
      "    allow from world on tcp/8080 with http { GET \"/api/*\"; GET \"/api/v1\" header \"x-k\" }\n"
      "    allow from world on tcp/8080 with http { \"/static/**\" host \"*.example.com\"; POST \"/api/v1\" }\n"
      "    allow from world on tcp/8080 with http { GET \"/static/css/*\" host \"www.example.com\" }\n"
      "    allow from world on tcp/9090 with http { GET \"/api/v1\" }\n"
      "    deny from world on tcp/8080 with http { GET \"/api/v1\" }\n"
      "    allow from world on tcp/8080 with http { GET \"/api/v1/x\"; GET header \"X-K\" = \"v\" }\n"
      "  }\n"
      "}\n",
      false, only({"MB115"}));
  // Line 4's second item (covered by "/api/*"), line 6 (by line 5's first
  // item). Not line 7 (other port), 8 (deny), 9 ("/api/*" is one segment;
  // no earlier item requires no more than X-K).
  EXPECT_EQ(l.ids(), (std::vector<std::string>{"t.policy:4:60: MB115", "t.policy:6:46: MB115"})) << l.dump();
  ASSERT_EQ(l.result.findings.size(), 2u);
  EXPECT_NE(l.result.findings[0].message.find("`GET \"/api/*\"`"), std::string::npos) << l.dump();
}

TEST(LintHttp, AnHttpRuleAPlainAllowAlreadyOpensRestrictsNothing) {
  auto l = lintText(
      "policy p {\n"
      "  selects {}\n"
      "  ingress {\n"
      "    allow from world on tcp/8080 with http { GET }\n"
      "    allow from cidr 198.19.0.0/16 on tcp/9090 with http { GET }\n"
      "    allow from world on tcp/8000-8100\n"
      "    allow from cidr 198.19.1.0/24 on tcp/9090\n"
      "  }\n"
      "}\n",
      false, only({"MB116"}));
  // Line 4 is opened by line 6; line 5's peer is wider than line 7's.
  EXPECT_EQ(l.ids(), (std::vector<std::string>{"t.policy:4:5: MB116"})) << l.dump();
}

// ---- process rules: MB101/MB102, MB117, MB118, MB119 ----------------------------

TEST(LintProcess, AProcessRuleCoversOnlyProcessRulesWithFewerExecutables) {
  // Line 4 allows only the server's calls: the plain allow on line 5 is not
  // redundant (it lets every executable). Line 7 lists the executables of
  // line 6 and more: line 6 is redundant; line 7 is not.
  auto l = lintText(
      "policy p {\n"
      "  selects {}\n"
      "  egress {\n"
      "    allow to world on tcp/5432 with process { exe \"/opt/app/server\" }\n"
      "    allow to world on tcp/5432\n"
      "    allow to world on tcp/6432 with process { exe \"/opt/app/server\" }\n"
      "    allow to world on tcp/6432 with process { exe \"/opt/app/server\", exe \"/usr/bin/psql\" }\n"
      "  }\n"
      "}\n",
      false, only({"MB101", "MB102"}));
  EXPECT_EQ(l.ids(), (std::vector<std::string>{"t.policy:6:5: MB101"})) << l.dump();
}

TEST(LintProcess, AProcessRuleADenyAlwaysOverridesIsDead) {
  auto l = lintText(
      "policy p {\n"
      "  selects {}\n"
      "  egress {\n"
      "    allow to world on tcp/5432 with process { exe \"/opt/app/server\" }\n"
      "    deny to world on tcp\n"
      "  }\n"
      "}\n",
      false, only({"MB102"}));
  EXPECT_EQ(l.ids(), (std::vector<std::string>{"t.policy:4:5: MB102"})) << l.dump();
}

TEST(LintProcess, AProcessRuleAPlainAllowAlreadyOpensRestrictsNothing) {
  auto l = lintText(
      "policy p {\n"
      "  selects {}\n"
      "  egress {\n"
      "    allow to world on tcp/5432 with process { exe \"/opt/app/server\" }\n"
      "    allow to world on tcp/5000-6000\n"
      "    allow to world on tcp/7432 with process { exe \"/opt/app/server\" }\n"
      "    allow to cidr 198.19.0.0/16 on tcp/7432\n"
      "  }\n"
      "}\n",
      false, only({"MB101", "MB118"}));
  // Line 4 is opened by line 5; line 7 opens only part of line 6's world.
  EXPECT_EQ(l.ids(), (std::vector<std::string>{"t.policy:4:5: MB118"})) << l.dump();
  const Finding* f = l.find("t.policy:4:5: MB118");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->message,
            "this process rule restricts nothing: allow rules without a process condition already allow "
            "every connection it matches, for every executable");
  ASSERT_EQ(f->related.size(), 1u);
  EXPECT_EQ(l.c->sources.describe(f->related[0].range.begin), "t.policy:5:5");
}

TEST(LintProcess, AnExecutableInAWorldWritableDirectoryIsReportedAtItsPath) {
  auto l = lintText(
      "policy p {\n"
      "  selects {}\n"
      "  egress {\n"
      "    allow to world on tcp/1 with process { exe \"/opt/app/server\", exe \"/tmp/server\" }\n"
      "    allow to world on tcp/2 with process { exe \"/var/tmp/x\"; exe \"/dev/shm/y\" }\n"
      "    allow to world on tcp/3 with process { exe \"/tmpfiles/z\", exe \"/var/tmpx\", exe \"/opt/tmp/a\" }\n"
      "  }\n"
      "}\n",
      false, only({"MB117"}));
  EXPECT_EQ(l.ids(), (std::vector<std::string>{"t.policy:4:71: MB117", "t.policy:5:48: MB117", "t.policy:5:66: MB117"}))
      << l.dump();
  EXPECT_EQ(l.find("t.policy:4:71: MB117")->message,
            "\"/tmp/server\" is under /tmp/, where anyone in the pod can create a file: whatever is put there may "
            "connect");
}

TEST(LintProcess, AnInterpreterIsReportedButNotAFileNamedLikeOne) {
  auto l = lintText(
      "policy p {\n"
      "  selects {}\n"
      "  egress {\n"
      "    allow to world on tcp/1 with process { exe \"/usr/bin/python3.11\", exe \"/bin/sh\", exe \"/usr/bin/node\" "
      "}\n"
      "    allow to world on tcp/2 with process { exe \"/opt/app/python-api\", exe \"/usr/bin/shellcheck\", exe "
      "\"/opt/python3/server\" }\n"
      "  }\n"
      "}\n",
      false, only({"MB119"}));
  EXPECT_EQ(l.ids(), (std::vector<std::string>{"t.policy:4:48: MB119", "t.policy:4:75: MB119", "t.policy:4:90: MB119"}))
      << l.dump();
}

TEST(LintProcess, TheClausesPathsAreCheckedLikeARulesAndAnchoredAtTheClause) {
  auto l = lintText(
      "policy p {\n"
      "  selects {}\n"
      "  processes { exe \"/tmp/server\", exe \"/usr/bin/python3\", exe \"/opt/app/server\" }\n"
      "}\n",
      false, only({"MB117", "MB119"}));
  EXPECT_EQ(l.ids(), (std::vector<std::string>{"t.policy:3:19: MB117", "t.policy:3:38: MB119"})) << l.dump();
  EXPECT_EQ(l.find("t.policy:3:38: MB119")->message,
            "\"/usr/bin/python3\" is an interpreter: the executable of every script it runs (and of `-c` code) is "
            "the interpreter, so the clause lets any of them connect");
  EXPECT_EQ(l.c->sources.describe(l.find("t.policy:3:19: MB117")->anchor.begin), "t.policy:3:3");
}

// MB120: web-0 and web-1 (app=web) list their executables; other-0
// (app=other) does not.
Linted lintWithExecutables(const std::string& text, const char* web1Executables = "[\"/usr/local/bin/api\"]") {
  Linted l;
  l.c = std::make_unique<pipeline::Compilation>();
  std::string inventory = std::string(R"({"endpoints": [
      {"name": "web-0", "namespace": "h", "labels": {"app": "web"},
       "executables": ["/usr/local/bin/api", "/usr/bin/python3.11", "/usr/local/bin/api"]},
      {"name": "web-1", "namespace": "h", "labels": {"app": "web"}, "executables": )") +
                          web1Executables + R"(},
      {"name": "other-0", "namespace": "h", "labels": {"app": "other"}}]})";
  std::string error;
  EXPECT_TRUE(inventory::loadInventoryText("inventory.json", inventory, l.c->inventory, &error)) << error;
  pipeline::runText({{"t.policy", text}}, *l.c);
  std::ostringstream diags;
  l.c->diags.print(diags, false);
  EXPECT_FALSE(l.c->diags.hasErrors()) << diags.str();
  l.result = lint(*l.c, only({"MB120"}), true);
  return l;
}

TEST(LintProcess, AnExecutableTheInventoryListsForNoSelectedEndpointIsReportedAtItsPath) {
  auto l = lintWithExecutables(
      "namespace h\n"
      "policy web {\n"
      "  selects { app = web }\n"
      "  processes { exe \"/usr/local/bin/api\", exe \"/usr/local/bin/apj\", exe \"/usr/bin/python3.11\" }\n"
      "  egress {\n"
      "    allow to world on tcp/443 with process { exe \"/usr/bin/python3.11\", exe \"/usr/bin/curl\" }\n"
      "  }\n"
      "}\n");
  EXPECT_EQ(l.ids(), (std::vector<std::string>{"t.policy:4:45: MB120", "t.policy:6:77: MB120"})) << l.dump();
  const Finding* typo = l.find("t.policy:4:45: MB120");
  EXPECT_EQ(typo->message,
            "\"/usr/local/bin/apj\" is not among the executables the inventory lists for the 2 endpoints the policy "
            "selects: it matches no call there");
  EXPECT_EQ(typo->hint, "did you mean \"/usr/local/bin/api\"?");
}

TEST(LintProcess, AnExecutableListedForOneSelectedEndpointIsNotReported) {
  auto l = lintWithExecutables(
      "namespace h\npolicy web {\n  selects { app = web }\n  processes { exe \"/usr/bin/python3.11\" }\n}\n",
      "[]");
  EXPECT_TRUE(l.ids().empty()) << l.dump();
}

TEST(LintProcess, WithoutTheInventorysExecutablesThereIsNoFinding) {
  // other-0 lists none: it may run anything. A policy selecting it and web
  // pods alike is not judged either.
  auto l = lintWithExecutables(
      "namespace h\n"
      "policy other {\n  selects { app = other }\n  processes { exe \"/nowhere\" }\n}\n"
      "policy all {\n  selects {}\n  processes { exe \"/usr/local/bin/api\", exe \"/nowhere\" }\n}\n"
      "policy none {\n  selects { app = absent }\n  processes { exe \"/nowhere\" }\n}\n");
  EXPECT_TRUE(l.ids().empty()) << l.dump();
  auto withoutInventory = lintText("policy p {\n  selects {}\n  processes { exe \"/nowhere\" }\n}\n", false,
                                   only({"MB120"}));
  EXPECT_TRUE(withoutInventory.ids().empty());
  EXPECT_EQ(withoutInventory.result.notRun, (std::vector<std::string>{"MB120"}));
}

TEST(LintHttp, PathPatternCoverageIsSound) {
  using names::httpPathPatternCovers;
  EXPECT_TRUE(httpPathPatternCovers("/**", "/a/*"));
  EXPECT_TRUE(httpPathPatternCovers("/a/*", "/a/b"));
  EXPECT_TRUE(httpPathPatternCovers("/a/*", "/a/b*"));
  EXPECT_TRUE(httpPathPatternCovers("/a/*.pdf", "/a/x.pdf"));
  EXPECT_TRUE(httpPathPatternCovers("/a/**", "/a"));
  EXPECT_TRUE(httpPathPatternCovers("/a/**", "/a/b/**"));
  EXPECT_TRUE(httpPathPatternCovers("/a/**", "/a/*/c"));
  EXPECT_FALSE(httpPathPatternCovers("/a/*", "/a/b/c"));
  EXPECT_FALSE(httpPathPatternCovers("/a/*", "/a/**")) << "the inner reaches below one segment";
  EXPECT_FALSE(httpPathPatternCovers("/a/**", "/**"));
  EXPECT_FALSE(httpPathPatternCovers("/a/b*", "/a/*")) << "'*' matches what 'b*' does not";
  EXPECT_FALSE(httpPathPatternCovers("/a/x.pdf", "/a/*.pdf"));
  EXPECT_FALSE(httpPathPatternCovers("/a", "/a/"));
  EXPECT_FALSE(httpPathPatternCovers("/a/b", "/a"));
}

TEST(LintDns, CoverageBetweenPatternsIsLabelByLabel) {
  using features::dns::covers;
  EXPECT_TRUE(covers("*", "a.b"));
  EXPECT_TRUE(covers("*.example.com", "api.example.com"));
  EXPECT_TRUE(covers("*.example.com", "api-*.example.com"));
  EXPECT_TRUE(covers("api-*.example.com", "api-eu*.example.com"));
  EXPECT_FALSE(covers("api-eu*.example.com", "api-*.example.com"));
  EXPECT_FALSE(covers("*.example.com", "example.com"));
  EXPECT_FALSE(covers("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(covers("*.example.com", "*"));
  EXPECT_TRUE(covers("a.example.com", "a.example.com"));
}

TEST(LintCatalogue, IdsAreUniqueAndDocumented) {
  std::set<std::string> ids, names;
  for (const auto& c : catalogue()) {
    EXPECT_TRUE(ids.insert(c.id).second) << c.id;
    EXPECT_TRUE(names.insert(c.name).second) << c.name;
    EXPECT_FALSE(c.explanation.empty());
    EXPECT_FALSE(c.fix.empty());
  }
}

// ---- the shipped example ------------------------------------------------------------------

TEST(LintShop, LintsCleanWithItsJustifiedSuppression) {
  for (bool inv : {false, true}) {
    auto c = std::make_unique<pipeline::Compilation>();
    std::vector<std::string> inventory;
    if (inv) inventory.push_back(shopInventory());
    pipeline::run({{std::string(MEMBRANE_SOURCE_DIR) + "/policies/shop"}, inventory}, *c);
    ASSERT_EQ(c->outcome(), pipeline::Outcome::Ok);
    Options all;
    all.enable.insert("MB112");
    auto r = lint(*c, all, inv);
    std::string dump;
    for (const auto& f : r.findings) dump += c->sources.describe(f.range.begin) + " " + f.check + " " + f.message + "\n";
    EXPECT_TRUE(r.findings.empty()) << dump;
    ASSERT_EQ(r.suppressed.size(), 1u);
    EXPECT_EQ(r.suppressed[0].check, "MB111");
  }
}

// ---- renderings -------------------------------------------------------------------------------

const char* kFindings =
    "policy a {\n"
    "  selects {}\n"
    "  mode audit\n"
    "  ingress {}\n"
    "}\n"
    "policy b {\n"
    "  selects {}\n"
    "  ingress {\n"
    "    allow from world on tcp/22\n"
    "    allow from world on tcp/22 # membrane-lint: disable MB101 -- kept: \"100%\", see ticket\n"
    "  }\n"
    "}\n";

TEST(LintRender, SarifIsStructurallyValid) {
  auto l = lintText(kFindings);
  ASSERT_EQ(l.result.findings.size(), 3u) << l.dump();  // MB111, MB107 twice
  RenderOptions o;
  // The file was named "t.policy", relative to the current directory.
  o.root = std::filesystem::current_path().string();
  o.toolVersion = "0.1.0";
  json doc = json::parse(renderSarif(*l.c, l.result, o));
  EXPECT_EQ(doc["version"], "2.1.0");
  EXPECT_TRUE(doc["$schema"].get<std::string>().find("sarif") != std::string::npos);
  ASSERT_EQ(doc["runs"].size(), 1u);
  const json& run = doc["runs"][0];
  const json& rules = run["tool"]["driver"]["rules"];
  ASSERT_EQ(rules.size(), catalogue().size());
  for (const auto& rule : rules) {
    for (const char* key : {"id", "name", "shortDescription", "fullDescription", "help", "defaultConfiguration"})
      EXPECT_TRUE(rule.contains(key)) << rule.dump() << " lacks " << key;
    EXPECT_FALSE(rule["shortDescription"]["text"].get<std::string>().empty());
    EXPECT_FALSE(rule["help"]["text"].get<std::string>().empty());
    std::string level = rule["defaultConfiguration"]["level"];
    EXPECT_TRUE(level == "error" || level == "warning" || level == "note") << level;
  }
  const json& results = run["results"];
  ASSERT_EQ(results.size(), 3u);  // the suppressed MB101 is left out
  for (const auto& res : results) {
    size_t index = res["ruleIndex"];
    ASSERT_LT(index, rules.size());
    EXPECT_EQ(rules[index]["id"], res["ruleId"]);
    EXPECT_EQ(res["level"], rules[index]["defaultConfiguration"]["level"]);
    EXPECT_FALSE(res["message"]["text"].get<std::string>().empty());
    const json& loc = res["locations"][0]["physicalLocation"];
    std::string uri = loc["artifactLocation"]["uri"];
    EXPECT_EQ(uri.find("file:"), std::string::npos) << uri;
    EXPECT_NE(uri.front(), '/') << uri;
    // A relative uri names its base, and the run declares that base as an absolute directory URI.
    std::string base = loc["artifactLocation"]["uriBaseId"];
    ASSERT_TRUE(run["originalUriBaseIds"].contains(base)) << base;
    std::string baseUri = run["originalUriBaseIds"][base]["uri"];
    EXPECT_EQ(baseUri.rfind("file:///", 0), 0u) << baseUri;
    EXPECT_EQ(baseUri.back(), '/') << baseUri;
    EXPECT_GE(loc["region"]["startLine"].get<int>(), 1);
    EXPECT_GE(loc["region"]["startColumn"].get<int>(), 1);
    EXPECT_GT(loc["region"]["endColumn"].get<int>(), loc["region"]["startColumn"].get<int>());
  }
  EXPECT_EQ(results[0]["ruleId"], "MB111");
  EXPECT_EQ(results[0]["locations"][0]["physicalLocation"]["region"]["startLine"], 3);
  EXPECT_EQ(results[0]["locations"][0]["physicalLocation"]["region"]["startColumn"], 8);
  EXPECT_EQ(results[0]["locations"][0]["physicalLocation"]["region"]["endColumn"], 13);
  EXPECT_EQ(results[1]["ruleId"], "MB107");
  EXPECT_EQ(results[1]["level"], "error");
}

TEST(LintRender, RelativePaths) {
  EXPECT_EQ(relativePath("/work/repo/policies/a.policy", "/work/repo"), "policies/a.policy");
  EXPECT_EQ(relativePath("/work/repo/policies/../x/a.policy", "/work/repo/"), "x/a.policy");
  EXPECT_EQ(relativePath("/elsewhere/a.policy", "/work/repo"), "/elsewhere/a.policy");
}

TEST(LintRender, GithubWorkflowCommandsAreEscaped) {
  EXPECT_EQ(githubEscapeData("100% done\r\nnext"), "100%25 done%0D%0Anext");
  EXPECT_EQ(githubEscapeProperty("a:b,c%"), "a%3Ab%2Cc%25");
  auto l = lintText(kFindings);
  RenderOptions o;
  o.root = std::filesystem::current_path().string();
  std::string out = renderGithub(*l.c, l.result, o);
  std::istringstream lines(out);
  std::string line;
  std::vector<std::string> all;
  while (std::getline(lines, line)) all.push_back(line);
  ASSERT_EQ(all.size(), 3u) << out;
  EXPECT_EQ(all[0].rfind("::warning file=t.policy,line=3,col=8,endColumn=13,title=MB111::policy 'default/a' is in audit mode", 0),
            0u)
      << all[0];
  EXPECT_NE(all[0].find("%0Ahint: switch it"), std::string::npos) << all[0];
  EXPECT_EQ(all[1].rfind("::error file=t.policy,line=9,col=25,", 0), 0u) << all[1];
}

TEST(LintRender, JsonAndHuman) {
  auto l = lintText(kFindings);
  RenderOptions o;
  json doc = json::parse(renderJson(*l.c, l.result, o));
  EXPECT_EQ(doc["version"], 1);
  ASSERT_EQ(doc["findings"].size(), 3u);
  EXPECT_EQ(doc["findings"][0]["check"], "MB111");
  EXPECT_EQ(doc["findings"][0]["file"], "t.policy");
  EXPECT_EQ(doc["findings"][0]["line"], 3);
  EXPECT_EQ(doc["findings"][0]["column"], 8);
  ASSERT_EQ(doc["suppressed"].size(), 1u);
  EXPECT_EQ(doc["suppressed"][0]["check"], "MB101");
  EXPECT_EQ(doc["suppressed"][0]["reason"], "kept: \"100%\", see ticket");
  EXPECT_EQ(doc["summary"]["errors"], 2);
  EXPECT_EQ(doc["notRun"], json::array({"MB103", "MB104", "MB105", "MB120"}));

  std::string human = renderHuman(*l.c, l.result, o);
  EXPECT_NE(human.find("t.policy:3:8: warning: policy 'default/a' is in audit mode: it reports connections it would deny but "
                       "denies nothing [MB111 audit-policy]\n    mode audit\n         ^~~~~\n"),
            std::string::npos)
      << human;
  EXPECT_NE(human.find("lint: 2 errors, 1 warning in 1 file (1 suppressed); not run without an inventory (-i): "
                       "MB103, MB104, MB105, MB120\n"),
            std::string::npos)
      << human;
}


// ---- MB101/MB102 against the reference evaluator ---------------------------------------
//
// Random policies over the shop inventory: deleting every rule lint calls
// redundant or dead must change no verdict of the evaluator, for every
// endpoint, direction, peer (each endpoint address, the host, outside
// addresses) and probed protocol/port. And lint must find something in a
// good share of the runs, or the property says nothing.
namespace {

struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  size_t pick(size_t n) { return static_cast<size_t>(next() % n); }
  template <class T>
  const T& of(const std::vector<T>& v) { return v[pick(v.size())]; }
};

std::string randomPolicies(Rng& rng) {
  static const std::vector<std::string> kSelects = {"{}", "{ app = api }", "{ tier = data }",
                                                    "{ app = api, tier = backend }", "{ app in (api, frontend) }"};
  static const std::vector<std::string> kPeers = {
      "pods { app = api }", "pods { tier = data }", "pods { app in (api, frontend) }", "pods {}",
      "namespaces { purpose = monitoring }", "namespace ops", "world", "cluster", "host", "all",
      "cidr 198.18.1.0/24", "cidr 198.18.0.0/16 except 198.18.1.0/25", "cidr 198.18.1.20/31", "cidr 0.0.0.0/0",
      "cidr 2001:2::/48", "pods { role = backup } in namespace ops"};
  static const std::vector<std::string> kPorts = {"", " on tcp/80", " on tcp/80-90", " on tcp/85", " on udp/53",
                                                  " on tcp", " on tcp/{80, 443}", " on icmp/echo-request",
                                                  " on tcp/http", " on tcp/80, udp/53"};
  std::string text = "namespace shop\n";
  size_t policies = 2 + rng.pick(2);
  for (size_t p = 0; p < policies; ++p) {
    text += "policy p" + std::to_string(p) + " {\n  selects " + rng.of(kSelects) + "\n";
    if (rng.pick(5) == 0) text += "  mode audit\n";
    switch (rng.pick(6)) {
      case 0: text += "  clusterwide\n"; break;
      case 1: text += "  namespace ops\n"; break;
      default: break;
    }
    for (const char* dir : {"ingress", "egress"}) {
      text += std::string("  ") + dir + " {\n";
      size_t rules = 2 + rng.pick(4);
      for (size_t r = 0; r < rules; ++r) {
        std::string peers = rng.of(kPeers);
        if (rng.pick(3) == 0) peers += ", " + rng.of(kPeers);
        text += std::string("    ") + (rng.pick(4) == 0 ? "deny" : "allow") + (dir[0] == 'i' ? " from " : " to ") +
                peers + rng.of(kPorts) + "\n";
      }
      text += "  }\n";
    }
    text += "}\n";
  }
  return text;
}

// Tier policies (docs/language.md, "Tiers") around one ordinary policy:
// rules whose order decides, of every action.
std::string randomTierPolicies(Rng& rng) {
  static const std::vector<std::string> kSelects = {"{}", "{ app = api }", "{ tier = data }", "{ app in (api, frontend) }"};
  static const std::vector<std::string> kIn = {"", " in namespace shop", " in namespaces { purpose = monitoring }"};
  static const std::vector<std::string> kPeers = {
      "pods { app = api }", "pods {}", "namespaces { purpose = monitoring }", "namespace ops", "world", "cluster",
      "all", "cidr 198.18.1.0/24", "cidr 198.18.1.20/31", "cidr 0.0.0.0/0"};
  static const std::vector<std::string> kPorts = {"", " on tcp/80", " on tcp/80-90", " on tcp/85", " on udp/53",
                                                  " on tcp"};
  std::string text = "namespace shop\npolicy ordinary {\n  selects " + rng.of(kSelects) +
                     "\n  ingress {\n    allow from pods {} on tcp/80\n  }\n}\n";
  size_t policies = 2 + rng.pick(3);
  for (size_t p = 0; p < policies; ++p) {
    bool admin = p + 1 < policies || rng.pick(2) == 0;
    text += "policy t" + std::to_string(p) + " {\n  clusterwide\n";
    text += admin ? "  tier admin priority " + std::to_string(1 + rng.pick(2)) + "\n" : std::string("  tier baseline\n");
    text += "  selects " + rng.of(kSelects) + rng.of(kIn) + "\n";
    for (const char* dir : {"ingress", "egress"}) {
      text += std::string("  ") + dir + " {\n";
      size_t rules = 1 + rng.pick(4);
      for (size_t r = 0; r < rules; ++r) {
        size_t a = rng.pick(admin ? 3 : 2);
        text += std::string("    ") + (a == 0 ? "allow" : a == 1 ? "deny" : "pass") + (dir[0] == 'i' ? " from " : " to ") +
                rng.of(kPeers) + rng.of(kPorts) + "\n";
      }
      text += "  }\n";
    }
    text += "}\n";
  }
  return text;
}

// Every verdict the evaluator gives for the probes, as one string.
std::string verdicts(const pipeline::Compilation& c) {
  const ir::Program& ir = *c.ir;
  std::vector<net::Address> outside;
  for (const char* a : {"198.18.1.5", "198.18.1.200", "198.18.1.22", "198.18.2.1", "198.18.0.1", "10.0.0.1",
                        "2001:2::99", "2001:3::1"})
    outside.push_back(*net::Address::parse(a));
  std::vector<ir::Traffic> traffic;
  for (uint16_t port : {79, 80, 85, 86, 90, 91, 443, 8080, 5432}) traffic.push_back({ir::kTCP, port});
  for (uint16_t port : {53, 54}) traffic.push_back({ir::kUDP, port});
  for (uint16_t type : {0, 8}) traffic.push_back({ir::kICMP, type});
  traffic.push_back({47, 0});
  std::vector<ir::Peer> peers;
  for (const auto& e : ir.endpoints)
    for (const auto& a : e.addresses) peers.push_back(ir::Peer::endpoint(ir.identity(e.identity), a));
  peers.push_back(ir::Peer::host());
  for (const auto& a : outside) {
    peers.push_back(ir::Peer::world(a));
    peers.push_back(ir::Peer::host(a));
  }
  std::string out;
  for (const auto& subject : ir.endpoints)
    for (auto dir : {ir::Direction::Ingress, ir::Direction::Egress})
      for (const auto& peer : peers)
        for (const auto& t : traffic) {
          auto v = ir::evaluate(ir, subject, dir, peer, t);
          out += v.allowed ? (v.auditWouldDeny ? 'w' : 'a') : 'd';
        }
  return out;
}

// Lints `runs` policy sets from `generate` with only `checks`, deletes the
// lines of every finding and expects no verdict of the evaluator to change.
struct Flagged {
  size_t runsWithFindings = 0, rules = 0;
};
Flagged deleteFlaggedRules(Rng& rng, std::string (*generate)(Rng&), Options checks, size_t runs) {
  Flagged out;
  for (size_t run = 0; run < runs; ++run) {
    std::string text = generate(rng);
    auto l = lintText(text, true, checks);
    if (!l.c->ir) continue;
    std::set<uint32_t> lines;
    for (const auto& f : l.result.findings) lines.insert(f.range.begin.line);
    if (lines.empty()) continue;
    ++out.runsWithFindings;
    out.rules += lines.size();
    std::string pruned;
    std::istringstream in(text);
    std::string line;
    for (uint32_t n = 1; std::getline(in, line); ++n)
      if (!lines.count(n)) pruned += line + "\n";
    auto after = std::make_unique<pipeline::Compilation>();
    std::string error;
    if (!inventory::loadInventoryFile(shopInventory(), after->inventory, &error)) {
      ADD_FAILURE() << error;
      return out;
    }
    pipeline::runText({{"t.policy", pruned}}, *after);
    if (!after->ir) {
      ADD_FAILURE() << "the pruned policies do not compile:\n" << pruned;
      return out;
    }
    if (verdicts(*l.c) != verdicts(*after)) {
      ADD_FAILURE() << "run " << run << ": deleting what lint flagged changed verdicts; lint flagged\n"
                    << l.dump() << "in\n"
                    << text;
      return out;
    }
  }
  return out;
}

}  // namespace

TEST(LintShadowingProperty, DeletingFlaggedRulesChangesNoVerdict) {
  Rng rng{0x9E3779B97F4A7C15ull};
  constexpr size_t kRuns = 120;
  Flagged f = deleteFlaggedRules(rng, randomPolicies, only({"MB101", "MB102"}), kRuns);
  EXPECT_GE(f.runsWithFindings, kRuns / 4) << "the random policies rarely have redundant rules: the test is too weak";
  std::cout << "[          ] " << f.rules << " rules flagged in " << f.runsWithFindings << " of " << kRuns
            << " random policy sets; deleting them changed no verdict\n";
}

TEST(LintShadowingProperty, DeletingTierRulesMB121FlagsChangesNoVerdict) {
  Rng rng{0xC2B2AE3D27D4EB4Full};
  constexpr size_t kRuns = 120;
  Flagged f = deleteFlaggedRules(rng, randomTierPolicies, only({"MB121"}), kRuns);
  EXPECT_GE(f.runsWithFindings, kRuns / 4) << "the random tiers rarely shadow a rule: the test is too weak";
  std::cout << "[          ] " << f.rules << " tier rules flagged in " << f.runsWithFindings << " of " << kRuns
            << " random policy sets; deleting them changed no verdict\n";
}

TEST(LintTiers, ATierRuleEarlierRulesOfItsTierAlwaysMatchFirstNeverDecides) {
  // Line 6 (priority 10, every endpoint) matches all of line 14's
  // connections first: whatever its action, line 14 never decides. The
  // ordinary policy's deny covers line 15's connections, but the admin tier
  // decides before it: no finding there, and none of MB101/MB102 for tier rules.
  auto l = lintText(
      "policy guard {\n"
      "  clusterwide\n"
      "  tier admin priority 10\n"
      "  selects {}\n"
      "  ingress {\n"
      "    deny from namespaces { purpose = monitoring }\n"
      "  }\n"
      "}\n"
      "policy guard-api {\n"
      "  clusterwide\n"
      "  tier admin priority 20\n"
      "  selects { app = api }\n"
      "  ingress {\n"
      "    allow from namespaces { purpose = monitoring } on tcp/8080\n"
      "    allow from world on tcp/443\n"
      "  }\n"
      "}\n"
      "namespace shop\n"
      "policy p { selects {} ingress { deny from world } }\n",
      false, only({"MB101", "MB102", "MB121"}));
  EXPECT_EQ(l.ids(), (std::vector<std::string>{"t.policy:14:5: MB121"})) << l.dump();
  // Earlier only by priority: with guard-api first, nothing is shadowed.
  auto swapped = lintText(
      "policy guard { clusterwide tier admin priority 30 selects {}\n"
      "  ingress { deny from namespaces { purpose = monitoring } } }\n"
      "policy guard-api { clusterwide tier admin priority 20 selects { app = api }\n"
      "  ingress { allow from namespaces { purpose = monitoring } on tcp/8080 } }\n",
      false, only({"MB121"}));
  EXPECT_TRUE(swapped.ids().empty()) << swapped.dump();
}

TEST(LintTiers, SelectorsUsedOnlyForSubjectNamespacesOrNodesAreUsedAndCheckedAsSuch) {
  // `mon` only narrows a subject's namespaces, `workers` only names nodes:
  // neither is unused (MB110). `purpse` is no namespace label key (MB105);
  // node labels are not held to pod labels, and the shop inventory lists
  // no nodes to hold them to.
  auto l = lintText(
      "selector mon = { purpse = monitoring }\n"
      "selector workers = { node-role = worker }\n"
      "policy guard {\n"
      "  clusterwide\n"
      "  tier admin priority 1\n"
      "  selects {} in namespaces mon\n"
      "  egress { deny to nodes workers }\n"
      "}\n",
      true, only({"MB105", "MB110"}));
  EXPECT_EQ(l.ids(), (std::vector<std::string>{"t.policy:1:18: MB105"})) << l.dump();
  const Finding* f = l.find("t.policy:1:18: MB105");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->message, "no namespace of the inventory has label key 'purpse'");
}

}  // namespace
}  // namespace membrane::lint
