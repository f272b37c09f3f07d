// `membranec explain`: the verdicts of one connection, the deciding rule and
// why the others did not apply, on the x/y/z × a/b/c cluster of
// cluster_test_support.h; plus naming ends and ports.
#include "analysis/explain.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cluster_test_support.h"

namespace membrane::analysis {
namespace {

using membrane::testing::XyzCluster;

// Rules of x/a-in on lines 5-8, of x/b-out on line 12; audit on line 17.
const char* kPolicy = R"(namespace x
policy a-in {
  selects { pod = a }
  ingress {
    allow from pods { pod = b } on tcp/80
    allow from pods { pod = c } on tcp/{80, 443}
    deny from pods { pod = c } on tcp/443
    allow from pods { pod = b } on udp/53
  }
}
policy b-out {
  selects { pod = b }
  egress { allow to pods { pod = a } on tcp/80 }
}
policy a-audit {
  selects { pod = a }
  mode audit
  ingress { deny from pods { pod = b } on tcp/80 }
}
)";

struct Result {
  std::optional<Explanation> e;
  std::string error;
};

Result explain(const XyzCluster& c, const std::string& from, const std::string& to, const std::string& port) {
  Result r;
  auto t = parseTraffic(port, &r.error);
  if (!t) return r;
  auto src = resolveEnd(c.ir(), from, &r.error);
  if (!src) return r;
  auto dst = resolveEnd(c.ir(), to, &r.error);
  if (!dst) return r;
  r.e = explainFlow(c.ir(), &c.compilation().sources, *src, *dst, *t, &r.error);
  return r;
}

// "location status" per other rule, one a line.
std::string others(const SideExplanation& s) {
  std::string out;
  for (const auto& r : s.others) out += r.location + " " + statusName(r.status) + "\n";
  return out;
}

Result explainDns(const XyzCluster& c, const std::string& from, const std::string& to, const std::string& port,
                  const std::string& query, const std::vector<std::string>& learned) {
  Result r;
  auto t = parseTraffic(port, &r.error);
  if (!t) return r;
  if (!query.empty()) t->dns = ir::DnsMessage::query(*parseDnsName(query, &r.error));
  auto src = resolveEnd(c.ir(), from, &r.error);
  if (!src) return r;
  auto dst = resolveEnd(c.ir(), to, &r.error);
  if (!dst) return r;
  dst->learnedNames = learned;
  r.e = explainFlow(c.ir(), &c.compilation().sources, *src, *dst, *t, &r.error);
  return r;
}

TEST(ExplainVerdicts, AllowedWithDecidingRulesAndWhyNot) {
  XyzCluster c(kPolicy);
  ASSERT_TRUE(c.ok());
  Result r = explain(c, "x/b", "x/a", "tcp/80");
  ASSERT_TRUE(r.e) << r.error;
  EXPECT_TRUE(r.e->allowed);
  EXPECT_EQ(r.e->src, "x/b");
  EXPECT_EQ(r.e->dst, "x/a");
  ASSERT_TRUE(r.e->egress && r.e->ingress);
  ASSERT_TRUE(r.e->egress->deciding);
  EXPECT_EQ(r.e->egress->deciding->location, "t.policy:13:12");
  EXPECT_EQ(r.e->egress->policies, std::vector<std::string>{"x/b-out"});

  const SideExplanation& in = *r.e->ingress;
  EXPECT_EQ(in.verdict.reason, ir::Reason::AllowedByRule);
  ASSERT_TRUE(in.deciding);
  EXPECT_EQ(in.deciding->location, "t.policy:5:5");
  EXPECT_EQ(in.deciding->text, "allow from pods { pod = b } on tcp/80");
  // The snippet: the source line and where the caret goes.
  EXPECT_EQ(in.deciding->sourceLine, "    allow from pods { pod = b } on tcp/80");
  EXPECT_EQ(in.deciding->column, 5u);
  EXPECT_EQ(in.deciding->length, 37u);
  EXPECT_EQ(in.policies, (std::vector<std::string>{"x/a-audit", "x/a-in"}));
  // Deny rules first (the audit policy's has the lowest id), then allow rules.
  EXPECT_EQ(others(in),
            "t.policy:18:13 audit-only\n"
            "t.policy:7:5 peer-mismatch\n"
            "t.policy:6:5 peer-mismatch\n"
            "t.policy:8:5 protocol-mismatch\n");
  // The audit deny would have denied it.
  EXPECT_TRUE(in.verdict.auditWouldDeny);
  ASSERT_TRUE(in.audit);
  EXPECT_EQ(in.audit->location, "t.policy:18:13");
}

// Tiers (docs/language.md, "Tiers"): each rule's tier, the deciding tier,
// and the rules of the tiers that did not get to decide.
const char* kTierPolicy = R"(namespace x
policy a-in { selects { pod = a } ingress { allow from pods {} on tcp/80 } }
policy guard {
  clusterwide
  tier admin priority 5
  selects { pod = a } in namespace x
  ingress {
    deny from pods { pod = c } on tcp/80
    pass from pods { pod = b }
    deny from all on tcp/80
  }
}
policy default {
  clusterwide
  tier baseline
  selects {}
  ingress { deny from pods { pod = b } }
}
)";

TEST(ExplainTiers, TheAdminTierDecidesFirstAndLaterTiersAreNotReached) {
  XyzCluster c(kTierPolicy);
  ASSERT_TRUE(c.ok());
  Result r = explain(c, "x/c", "x/a", "tcp/80");
  ASSERT_TRUE(r.e) << r.error;
  EXPECT_FALSE(r.e->allowed);
  const SideExplanation& in = *r.e->ingress;
  ASSERT_TRUE(in.deciding);
  EXPECT_EQ(in.deciding->location, "t.policy:8:5");
  EXPECT_EQ(in.deciding->tier, ir::Tier::Admin);
  EXPECT_EQ(others(in),
            "t.policy:9:5 peer-mismatch\n"
            "t.policy:10:5 also-matches\n"
            "t.policy:2:45 not-reached\n"
            "t.policy:17:13 peer-mismatch\n");
  EXPECT_NE(renderExplanationText(*r.e).find("[guard, admin tier]"), std::string::npos) << renderExplanationText(*r.e);
}

TEST(ExplainTiers, APassHandsTheConnectionToTheOrdinaryPolicies) {
  XyzCluster c(kTierPolicy);
  ASSERT_TRUE(c.ok());
  Result r = explain(c, "x/b", "x/a", "tcp/80");
  ASSERT_TRUE(r.e) << r.error;
  EXPECT_TRUE(r.e->allowed);
  const SideExplanation& in = *r.e->ingress;
  ASSERT_TRUE(in.deciding);
  EXPECT_EQ(in.deciding->location, "t.policy:2:45");
  EXPECT_EQ(in.deciding->tier, ir::Tier::Network);
  // The baseline would deny x/b, but x/a's ordinary policy isolates it.
  EXPECT_EQ(others(in),
            "t.policy:8:5 peer-mismatch\n"
            "t.policy:9:5 passes\n"
            "t.policy:10:5 also-matches\n"
            "t.policy:17:13 not-reached\n");
  // Where nothing isolates the direction, the baseline decides after the pass.
  Result open = explain(c, "x/b", "x/c", "tcp/80");
  ASSERT_TRUE(open.e) << open.error;
  EXPECT_FALSE(open.e->allowed);
  ASSERT_TRUE(open.e->ingress->deciding);
  EXPECT_EQ(open.e->ingress->deciding->tier, ir::Tier::Baseline);
  auto json = nlohmann::json::parse(renderExplanationJson(*open.e));
  EXPECT_EQ(json["ingress"]["decidingRule"]["tier"], "baseline") << json.dump(2);
}

// Pod x/b may look up *.example.com through x/c, and connect to what
// api.example.com resolved to.
const char* kDnsPolicy = R"(namespace x
policy b-dns {
  selects { pod = b }
  egress {
    allow to pods { pod = c } on udp/53 with dns { "*.example.com" }
    allow to dns "api.example.com" on tcp/443
  }
}
)";

TEST(ExplainDns, AQueryForAnAllowedNameTeachesAndAnotherIsRefused) {
  XyzCluster c(kDnsPolicy);
  ASSERT_TRUE(c.ok());
  Result allowed = explainDns(c, "x/b", "x/c", "udp/53", "API.example.com.", {});
  ASSERT_TRUE(allowed.e) << allowed.error;
  EXPECT_TRUE(allowed.e->allowed);
  EXPECT_FALSE(allowed.e->refusedByName);
  EXPECT_EQ(allowed.e->traffic, "udp/53 query api.example.com");
  EXPECT_TRUE(allowed.e->egress->verdict.learnsDns);

  Result refused = explainDns(c, "x/b", "x/c", "udp/53", "api.example.org", {});
  ASSERT_TRUE(refused.e) << refused.error;
  EXPECT_FALSE(refused.e->allowed);
  EXPECT_TRUE(refused.e->refusedByName);
  ASSERT_FALSE(refused.e->egress->others.empty());
  EXPECT_EQ(refused.e->egress->others[0].status, RuleVerdict::Status::DnsMismatch);
  EXPECT_EQ(refused.e->egress->others[0].detail, "the query's name api.example.org is not in { \"*.example.com\" }");

  Result wrongResolver = explainDns(c, "x/b", "x/a", "udp/53", "api.example.com", {});
  ASSERT_TRUE(wrongResolver.e) << wrongResolver.error;
  EXPECT_FALSE(wrongResolver.e->allowed);
  EXPECT_FALSE(wrongResolver.e->refusedByName) << "no rule would allow it for any name: dropped";
}

TEST(ExplainDns, ANamePeerMatchesOnlyAnAddressLearnedForItsName) {
  XyzCluster c(kDnsPolicy);
  ASSERT_TRUE(c.ok());
  Result learned = explainDns(c, "x/b", "198.51.100.7", "tcp/443", "", {"api.example.com"});
  ASSERT_TRUE(learned.e) << learned.error;
  EXPECT_TRUE(learned.e->allowed);
  ASSERT_TRUE(learned.e->egress->deciding);
  EXPECT_EQ(learned.e->egress->deciding->text, "allow to dns \"api.example.com\" on tcp/443");

  Result unknown = explainDns(c, "x/b", "198.51.100.7", "tcp/443", "", {});
  ASSERT_TRUE(unknown.e) << unknown.error;
  EXPECT_FALSE(unknown.e->allowed);
  bool explained = false;
  for (const auto& o : unknown.e->egress->others)
    explained |= o.detail.find("no name was learned for it") != std::string::npos;
  EXPECT_TRUE(explained);

  Result other = explainDns(c, "x/b", "198.51.100.7", "tcp/443", "", {"www.example.com"});
  ASSERT_TRUE(other.e) << other.error;
  EXPECT_FALSE(other.e->allowed);
}

TEST(ExplainDns, NamesArePlainDnsNames) {
  std::string error;
  EXPECT_EQ(parseDnsName("Api.Example.COM.", &error), "api.example.com");
  EXPECT_FALSE(parseDnsName("*.example.com", &error));
  EXPECT_NE(error.find("is a pattern"), std::string::npos);
  EXPECT_FALSE(parseDnsName("a..b", &error));
}

// Pod x/a serves HTTP on tcp/8080 to x/b; nobody may DELETE; x/c reaches
// tcp/9090 without HTTP rules.
const char* kHttpPolicy = R"(namespace x
policy a-http {
  selects { pod = a }
  ingress {
    allow from pods { pod = b } on tcp/8080 with http {
      GET "/api/v1/products/*";
      POST "/api/v1/orders" header "Content-Type" = "application/json"
    }
    deny from all on tcp/8080 with http { DELETE }
    allow from pods { pod = c } on tcp/9090
  }
}
)";

Result explainRequest(const XyzCluster& c, const std::string& from, const std::string& port,
                      const std::string& request, const std::vector<std::string>& headers) {
  Result r;
  auto t = parseTraffic(port, &r.error);
  if (!t) return r;
  if (!request.empty()) {
    auto m = parseHttpRequest(request, headers, &r.error);
    if (!m) return r;
    t->http = *m;
  }
  auto src = resolveEnd(c.ir(), from, &r.error);
  auto dst = resolveEnd(c.ir(), "x/a", &r.error);
  if (!src || !dst) return r;
  r.e = explainFlow(c.ir(), &c.compilation().sources, *src, *dst, *t, &r.error);
  return r;
}

const RuleVerdict* otherAt(const SideExplanation& s, const std::string& location) {
  for (const auto& r : s.others)
    if (r.location == location) return &r;
  return nullptr;
}

TEST(ExplainHttp, AConnectionOnAnHttpPortSaysItsRequestsAreDecidedOneByOne) {
  XyzCluster c(kHttpPolicy);
  ASSERT_TRUE(c.ok());
  Result r = explainRequest(c, "x/b", "tcp/8080", "", {});
  ASSERT_TRUE(r.e) << r.error;
  EXPECT_TRUE(r.e->allowed);
  EXPECT_TRUE(r.e->ingress->inspectsHttp);
  const auto* deny = otherAt(*r.e->ingress, "t.policy:9:5");
  ASSERT_NE(deny, nullptr);
  EXPECT_EQ(deny->detail, "denies the requests it matches, never the connection: the socket layer reads each request");
  EXPECT_NE(renderExplanationText(*r.e).find("requests: read by the socket layer and decided one by one"),
            std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(renderExplanationJson(*r.e))["ingress"]["inspectsHttp"], true);

  Result plain = explainRequest(c, "x/c", "tcp/9090", "", {});
  ASSERT_TRUE(plain.e) << plain.error;
  EXPECT_FALSE(plain.e->ingress->inspectsHttp);
  EXPECT_EQ(nlohmann::json::parse(renderExplanationJson(*plain.e))["ingress"]["inspectsHttp"], false);
}

TEST(ExplainHttp, ARequestIsDecidedAndEachHttpRuleSaysWhichPartFailed) {
  XyzCluster c(kHttpPolicy);
  ASSERT_TRUE(c.ok());
  Result ok = explainRequest(c, "x/b", "tcp/8080", "GET /api/v1/products/42?x=1", {"Host: a"});
  ASSERT_TRUE(ok.e) << ok.error;
  EXPECT_TRUE(ok.e->allowed);
  EXPECT_EQ(ok.e->traffic, "tcp/8080 request GET /api/v1/products/42?x=1");
  ASSERT_TRUE(ok.e->ingress->deciding);
  EXPECT_EQ(ok.e->ingress->deciding->location, "t.policy:5:5");
  EXPECT_EQ(otherAt(*ok.e->ingress, "t.policy:9:5")->detail,
            "the request GET /api/v1/products/42?x=1 does not match DELETE: the method is GET, not DELETE");

  Result wrongType = explainRequest(c, "x/b", "tcp/8080", "POST /api/v1/orders", {"Content-Type: text/plain"});
  ASSERT_TRUE(wrongType.e) << wrongType.error;
  EXPECT_FALSE(wrongType.e->allowed);
  const auto* allow = otherAt(*wrongType.e->ingress, "t.policy:5:5");
  ASSERT_NE(allow, nullptr);
  EXPECT_EQ(allow->status, RuleVerdict::Status::HttpMismatch);
  EXPECT_EQ(std::string(statusName(allow->status)), "http-mismatch");
  EXPECT_EQ(allow->detail,
            "the request POST /api/v1/orders matches none of the rule's 2 request items: GET \"/api/v1/products/*\": "
            "the method is POST, not GET; POST \"/api/v1/orders\" header \"content-type\" = \"application/json\": "
            "header content-type is \"text/plain\", not \"application/json\"");

  Result twice = explainRequest(c, "x/b", "tcp/8080", "POST /api/v1/orders",
                                {"Content-Type: application/json", "content-type: application/json"});
  ASSERT_TRUE(twice.e) << twice.error;
  EXPECT_NE(otherAt(*twice.e->ingress, "t.policy:5:5")->detail.find("header content-type appears 2 times, not once"),
            std::string::npos);

  Result deleted = explainRequest(c, "x/b", "tcp/8080", "DELETE /api/v1/products/1", {});
  ASSERT_TRUE(deleted.e) << deleted.error;
  EXPECT_FALSE(deleted.e->allowed);
  ASSERT_TRUE(deleted.e->ingress->deciding);
  EXPECT_EQ(deleted.e->ingress->deciding->location, "t.policy:9:5");
}

TEST(ExplainHttp, ARequestWhosePathIsNotCanonicalIsUnreadableNotUnmatched) {
  XyzCluster c(kHttpPolicy);
  ASSERT_TRUE(c.ok());
  Result escaped = explainRequest(c, "x/b", "tcp/8080", "GET /%61pi/v1/products/1", {"Host: a"});
  ASSERT_TRUE(escaped.e) << escaped.error;
  EXPECT_FALSE(escaped.e->allowed);
  EXPECT_EQ(escaped.e->ingress->verdict.reason, ir::Reason::UnreadableRequest);
  EXPECT_EQ(escaped.e->traffic,
            "tcp/8080 (not an HTTP/1.x request membrane reads: a path that is not canonical: \"%61\" escapes 'a', "
            "which a canonical path writes as itself)");
  EXPECT_NE(renderExplanationText(*escaped.e).find("denied: not an HTTP/1.x request membrane reads"),
            std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(renderExplanationJson(*escaped.e))["ingress"]["reason"], "unreadable-request");

  Result dots = explainRequest(c, "x/b", "tcp/8080", "GET /api/v1/products/../../admin", {});
  ASSERT_TRUE(dots.e) << dots.error;
  EXPECT_EQ(dots.e->ingress->verdict.reason, ir::Reason::UnreadableRequest);
  EXPECT_EQ(dots.e->traffic, "tcp/8080 (not an HTTP/1.x request membrane reads: a path that is not canonical: a "
                             "\"..\" segment)");

  Result longPath = explainRequest(c, "x/b", "tcp/8080", "GET /api/v1/products/" + std::string(500, 'x'), {});
  ASSERT_TRUE(longPath.e) << longPath.error;
  EXPECT_EQ(longPath.e->ingress->verdict.reason, ir::Reason::UnreadableRequest);
  EXPECT_NE(longPath.e->traffic.find("a path longer than 511 bytes"), std::string::npos);
}

TEST(ExplainHttp, TheRequestIsReadByTheReferenceReader) {
  XyzCluster c(kHttpPolicy);
  ASSERT_TRUE(c.ok());
  Result twoHosts = explainRequest(c, "x/b", "tcp/8080", "GET /api/v1/products/1", {"Host: a", "Host: b"});
  ASSERT_TRUE(twoHosts.e) << twoHosts.error;
  EXPECT_FALSE(twoHosts.e->allowed);
  EXPECT_EQ(twoHosts.e->ingress->verdict.reason, ir::Reason::UnreadableRequest);
  EXPECT_EQ(twoHosts.e->traffic,
            "tcp/8080 (not an HTTP/1.x request membrane reads: more than one Host header)");

  Result notRead = explainRequest(c, "x/c", "tcp/9090", "GET /", {"Host: a", "Host: b"});
  ASSERT_TRUE(notRead.e) << notRead.error;
  EXPECT_TRUE(notRead.e->allowed) << "no HTTP rule there: nothing reads the request";
  bool noted = false;
  for (const auto& n : notRead.e->notes) noted |= n.find("no HTTP rule applies") != std::string::npos;
  EXPECT_TRUE(noted);

  std::string error;
  EXPECT_FALSE(parseHttpRequest("GET", {}, &error));
  EXPECT_FALSE(parseHttpRequest("GET / x", {}, &error));
  EXPECT_FALSE(parseHttpRequest("GET /\r\nX: y", {}, &error)) << "no header smuggled into the request line";
  EXPECT_FALSE(parseHttpRequest("GET /", {"NoColon"}, &error));
  EXPECT_NE(error.find("expected 'Name: value'"), std::string::npos);
  EXPECT_FALSE(parseHttpRequest("GET /", {"X: a\r\nHost: b"}, &error));
}

// Process rules (docs/process.md) of x/b's egress: rules on lines 5-7.
const char* kProcessPolicy = R"(namespace x
policy b-out {
  selects { pod = b }
  egress {
    allow to pods { pod = a } on tcp/5432 with process { exe "/opt/app/server" }
    allow to pods { pod = a } on tcp/5432 with process { exe "/usr/bin/psql", exe "/opt/app/server" }
    allow to pods { pod = c } on tcp/5432
  }
}
)";

Result explainFrom(const XyzCluster& c, const std::string& from, const std::string& to, const std::string& exe) {
  Result r;
  auto t = parseTraffic("tcp/5432", &r.error);
  if (!exe.empty()) t->executable = *parseExecutable(exe, &r.error);
  auto src = resolveEnd(c.ir(), from, &r.error);
  auto dst = resolveEnd(c.ir(), to, &r.error);
  if (!src || !dst) return r;
  r.e = explainFlow(c.ir(), &c.compilation().sources, *src, *dst, *t, &r.error);
  return r;
}

// A call from x/b.
Result explainCall(const XyzCluster& c, const std::string& to, const std::string& exe) {
  return explainFrom(c, "x/b", to, exe);
}

// "rule N at FILE:LINE:COL" as explain writes it, for the rule written there.
std::string ruleAt(const XyzCluster& c, const std::string& location) {
  for (const auto& [id, info] : c.ir().rules)
    if (info.location == location) return "rule " + std::to_string(id) + " at " + location;
  return "no rule at " + location;
}

bool hasNote(const Explanation& e, const std::string& text) {
  for (const auto& n : e.notes)
    if (n == text) return true;
  return false;
}

TEST(ExplainProcess, WithoutAnExecutableTheVerdictSaysWhichExecutablesMayConnect) {
  XyzCluster c(kProcessPolicy);
  ASSERT_TRUE(c.ok());
  Result r = explainCall(c, "x/a", "");
  ASSERT_TRUE(r.e) << r.error;
  EXPECT_TRUE(r.e->allowed);
  EXPECT_TRUE(r.e->needsProcess);
  EXPECT_FALSE(r.e->executable);
  ASSERT_TRUE(r.e->egress);
  EXPECT_TRUE(r.e->egress->needsProcess);
  ASSERT_EQ(r.e->egress->processGrants.size(), 2u);
  EXPECT_EQ(r.e->egress->processGrants[1].location, "t.policy:6:5");
  EXPECT_EQ(r.e->egress->processGrants[1].executables, (std::vector<std::string>{"/opt/app/server", "/usr/bin/psql"}));
  EXPECT_EQ(r.e->egress->processExecutables(), (std::vector<std::string>{"/opt/app/server", "/usr/bin/psql"}));
  EXPECT_TRUE(hasNote(*r.e,
                      "allowed only for calls (connect, sendmsg) by the executables of process conditions: "
                      "/opt/app/server (" + ruleAt(c, "t.policy:5:5") + ") or /opt/app/server, /usr/bin/psql (" +
                          ruleAt(c, "t.policy:6:5") + "); other executables get EPERM, and packets from a socket no such call opened (a "
                      "raw socket, one opened before the policy) are dropped (explain --exe PATH decides one call)"))
      << renderExplanationText(*r.e);
  std::string text = renderExplanationText(*r.e);
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "x/b -> x/a on tcp/5432: ALLOWED (only for calls by /opt/app/server, /usr/bin/psql)");
  EXPECT_NE(text.find("  calls: allowed only for /opt/app/server, /usr/bin/psql (process rules); other executables "
                      "get EPERM\n"),
            std::string::npos)
      << text;
  auto j = nlohmann::json::parse(renderExplanationJson(*r.e));
  EXPECT_EQ(j["needsProcess"], true);
  EXPECT_TRUE(j["executable"].is_null());
  EXPECT_EQ(j["executables"], nlohmann::json({"/opt/app/server", "/usr/bin/psql"}));
  EXPECT_EQ(j["deniedForExecutable"], false);
  EXPECT_EQ(j["egress"]["needsProcess"], true);
  EXPECT_EQ(j["egress"]["processRules"][0]["location"], "t.policy:5:5");
  EXPECT_EQ(j["egress"]["processRules"][0]["executables"], nlohmann::json({"/opt/app/server"}));

  Result plain = explainCall(c, "x/c", "");
  ASSERT_TRUE(plain.e) << plain.error;
  EXPECT_TRUE(plain.e->allowed);
  EXPECT_FALSE(plain.e->needsProcess) << "a plain allow: every executable";
  EXPECT_TRUE(plain.e->notes.empty());
  EXPECT_EQ(nlohmann::json::parse(renderExplanationJson(*plain.e))["needsProcess"], false);
}

TEST(ExplainProcess, ACallByAListedExecutableIsAllowedByItsRule) {
  XyzCluster c(kProcessPolicy);
  ASSERT_TRUE(c.ok());
  Result r = explainCall(c, "x/a", "/usr/bin/psql");
  ASSERT_TRUE(r.e) << r.error;
  EXPECT_TRUE(r.e->allowed);
  EXPECT_FALSE(r.e->needsProcess) << "a call's verdict is final";
  EXPECT_EQ(r.e->traffic, "tcp/5432 call by /usr/bin/psql");
  ASSERT_TRUE(r.e->egress->deciding);
  EXPECT_EQ(r.e->egress->deciding->location, "t.policy:6:5");
  const auto* first = otherAt(*r.e->egress, "t.policy:5:5");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->status, RuleVerdict::Status::ProcessMismatch);
  EXPECT_EQ(std::string(statusName(first->status)), "process-mismatch");
  EXPECT_EQ(first->detail,
            "the call is made by /usr/bin/psql, which is not the rule's executable, /opt/app/server "
            "(the socket hooks fail it with EPERM)");
  EXPECT_TRUE(hasNote(*r.e,
                      "a call by /usr/bin/psql: allowed by the process condition of " + ruleAt(c, "t.policy:6:5") +
                          ", which lists it"))
      << renderExplanationText(*r.e);
  EXPECT_EQ(nlohmann::json::parse(renderExplanationJson(*r.e))["executable"], "/usr/bin/psql");
}

TEST(ExplainProcess, ACallByAnotherExecutableIsDeniedForItsExecutableOnly) {
  XyzCluster c(kProcessPolicy);
  ASSERT_TRUE(c.ok());
  Result r = explainCall(c, "x/a", "/usr/bin/curl");
  ASSERT_TRUE(r.e) << r.error;
  EXPECT_FALSE(r.e->allowed);
  EXPECT_TRUE(r.e->deniedForExecutable);
  EXPECT_EQ(r.e->egress->verdict.reason, ir::Reason::DefaultDeny);
  const auto* second = otherAt(*r.e->egress, "t.policy:6:5");
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->status, RuleVerdict::Status::ProcessMismatch);
  EXPECT_EQ(second->detail,
            "the call is made by /usr/bin/curl, which is not one of the rule's executables: "
            "/opt/app/server, /usr/bin/psql (the socket hooks fail it with EPERM)");
  EXPECT_EQ(otherAt(*r.e->egress, "t.policy:7:5")->status, RuleVerdict::Status::PeerMismatch);
  EXPECT_TRUE(hasNote(*r.e,
                      "denied for its executable only: the call by /usr/bin/curl fails with EPERM; calls by "
                      "/opt/app/server (" + ruleAt(c, "t.policy:5:5") + ") or /opt/app/server, /usr/bin/psql (" +
                          ruleAt(c, "t.policy:6:5") + ") are allowed"))
      << renderExplanationText(*r.e);
  auto j = nlohmann::json::parse(renderExplanationJson(*r.e));
  EXPECT_EQ(j["deniedForExecutable"], true);
  EXPECT_EQ(j["egress"]["otherRules"][0]["status"], "process-mismatch");

  Result plain = explainCall(c, "x/c", "/usr/bin/curl");
  ASSERT_TRUE(plain.e) << plain.error;
  EXPECT_TRUE(plain.e->allowed);
  EXPECT_FALSE(plain.e->deniedForExecutable);
  EXPECT_TRUE(hasNote(*plain.e,
                      "the executable does not matter here: a rule without a process condition allows the "
                      "connection for every executable's call"));
}

// `processes` clauses (docs/process.md): x/b's restricts the rule of its
// policy; x/c's alone isolates x/c's egress.
const char* kClausePolicy = R"(namespace x
policy b-out {
  selects { pod = b }
  processes { exe "/opt/app/server", exe "/usr/bin/psql" }
  egress {
    allow to pods { pod = a } on tcp/5432
  }
}
policy c-only {
  selects { pod = c }
  processes { exe "/opt/app/server" }
}
)";

TEST(ExplainProcess, ACallAClauseDoesNotListIsRefusedByTheClauseAtItsLine) {
  XyzCluster c(kClausePolicy);
  ASSERT_TRUE(c.ok());
  Result r = explainFrom(c, "x/b", "x/a", "/usr/bin/curl");
  ASSERT_TRUE(r.e) << r.error;
  EXPECT_FALSE(r.e->allowed);
  EXPECT_TRUE(hasNote(*r.e,
                      "refused by the `processes` clause of policy x/b-out at t.policy:4:3, which lists "
                      "/opt/app/server, /usr/bin/psql: no egress connection of x/b is allowed for /usr/bin/curl (the "
                      "socket hooks fail the call with EPERM)"))
      << renderExplanationText(*r.e);

  Result listed = explainFrom(c, "x/b", "x/a", "/usr/bin/psql");
  ASSERT_TRUE(listed.e) << listed.error;
  EXPECT_TRUE(listed.e->allowed);
  EXPECT_EQ(listed.e->egress->deciding->location, "t.policy:6:5") << "the rule still decides";
  EXPECT_TRUE(hasNote(*listed.e,
                      "the call by /usr/bin/psql passes the `processes` clause of policy x/b-out at t.policy:4:3 "
                      "(only the executables a policy's clause lists may connect at all)"))
      << renderExplanationText(*listed.e);
}

TEST(ExplainProcess, AClassOnlyAClauseIsolatesIsExplainedByTheClause) {
  XyzCluster c(kClausePolicy);
  ASSERT_TRUE(c.ok());
  Result packet = explainFrom(c, "x/c", "198.19.1.1", "");
  ASSERT_TRUE(packet.e) << packet.error;
  EXPECT_TRUE(packet.e->allowed);
  EXPECT_TRUE(packet.e->needsProcess);
  ASSERT_TRUE(packet.e->egress->deciding);
  EXPECT_EQ(packet.e->egress->deciding->location, "t.policy:11:3");
  EXPECT_EQ(packet.e->egress->deciding->text, "processes { exe \"/opt/app/server\" }");
  ASSERT_EQ(packet.e->egress->processGrants.size(), 1u);
  EXPECT_EQ(packet.e->egress->processGrants[0].location, "t.policy:11:3");
  EXPECT_EQ(packet.e->egress->processGrants[0].executables, (std::vector<std::string>{"/opt/app/server"}));

  Result curl = explainFrom(c, "x/c", "198.19.1.1", "/usr/bin/curl");
  ASSERT_TRUE(curl.e) << curl.error;
  EXPECT_FALSE(curl.e->allowed);
  EXPECT_TRUE(hasNote(*curl.e,
                      "refused by the `processes` clause of policy x/c-only at t.policy:11:3, which lists "
                      "/opt/app/server: no egress connection of x/c is allowed for /usr/bin/curl (the socket hooks "
                      "fail the call with EPERM)"))
      << renderExplanationText(*curl.e);
}

TEST(ExplainProcess, PodsOfAWorkloadAreAlikeOnlyWhenTheyNeedTheSameExecutables) {
  // web-0 and web-1 are one workload; a plain allow applies to web-0 only,
  // numbered after the process rule (policies are numbered by name), so
  // both are allowed by rule 1.
  nlohmann::json inv = {{"namespaces", nlohmann::json::array({nlohmann::json{{"name", "w"}}})},
                        {"endpoints", nlohmann::json::array()}};
  auto pod = [&](const std::string& name, nlohmann::json labels, const std::string& ip) {
    nlohmann::json e = {{"name", name}, {"namespace", "w"}, {"labels", labels}, {"addresses", {ip}}};
    if (name != "db-0") e["workload"] = "web";
    inv["endpoints"].push_back(e);
  };
  pod("web-0", {{"app", "web"}, {"canary", "yes"}}, "198.18.5.1");
  pod("web-1", {{"app", "web"}}, "198.18.5.2");
  pod("db-0", {{"app", "db"}}, "198.18.5.3");
  XyzCluster c({{"t.policy", R"(namespace w
policy a-web { selects { app = web } egress { allow to pods { app = db } on tcp/5432 with process { exe "/a" } } }
policy b-canary { selects { canary = yes } egress { allow to pods { app = db } on tcp/5432 } }
)"}},
               inv);
  ASSERT_TRUE(c.ok());
  std::string error;
  auto src = resolveEnd(c.ir(), "w/web", &error);
  auto dst = resolveEnd(c.ir(), "w/db-0", &error);
  ASSERT_TRUE(src && dst) << error;
  ASSERT_EQ(src->endpoints.size(), 2u);
  auto t = parseTraffic("tcp/5432", &error);
  EXPECT_FALSE(explainFlow(c.ir(), nullptr, *src, *dst, *t, &error)) << "web-1 needs /a, web-0 does not";
  EXPECT_NE(error.find("not treated alike"), std::string::npos) << error;
  t->executable = "/a";
  EXPECT_TRUE(explainFlow(c.ir(), nullptr, *src, *dst, *t, &error)) << "a call by /a is allowed from both: " << error;
}

TEST(ExplainProcess, AnExecutableIsAnAbsolutePathAsProcessRulesWriteIt) {
  std::string error;
  EXPECT_EQ(parseExecutable("/usr/bin/psql", &error), "/usr/bin/psql");
  EXPECT_FALSE(parseExecutable("psql", &error));
  EXPECT_EQ(error,
            "invalid executable 'psql': it is not an absolute path (it must start with '/') (byte 1); name it "
            "by its absolute path as the pod sees it, e.g. /usr/local/bin/api");
  EXPECT_FALSE(parseExecutable("/usr/../bin/psql", &error));
  EXPECT_NE(error.find("has a '..' component (write the path without it) (byte 6)"), std::string::npos) << error;
  EXPECT_FALSE(parseExecutable("/usr/bin/", &error));
  EXPECT_FALSE(parseExecutable("", &error));
}

TEST(ExplainVerdicts, DefaultDenyWithPortOutsideTheRanges) {
  XyzCluster c(kPolicy);
  ASSERT_TRUE(c.ok());
  Result r = explain(c, "x/b", "x/a", "tcp/8080");
  ASSERT_TRUE(r.e) << r.error;
  EXPECT_FALSE(r.e->allowed);
  EXPECT_EQ(r.e->egress->verdict.reason, ir::Reason::DefaultDeny);
  EXPECT_FALSE(r.e->egress->deciding);
  ASSERT_EQ(r.e->egress->others.size(), 1u);
  EXPECT_EQ(r.e->egress->others[0].status, RuleVerdict::Status::PortMismatch);
  EXPECT_EQ(r.e->egress->others[0].detail, "port 8080 is not in tcp/80");
  EXPECT_EQ(r.e->ingress->verdict.reason, ir::Reason::DefaultDeny);
  EXPECT_EQ(others(*r.e->ingress),
            "t.policy:18:13 port-mismatch\n"
            "t.policy:7:5 peer-mismatch\n"
            "t.policy:5:5 port-mismatch\n"
            "t.policy:6:5 peer-mismatch\n"
            "t.policy:8:5 protocol-mismatch\n");
  EXPECT_EQ(r.e->ingress->others[4].detail, "the rule is for udp, not tcp");
}

TEST(ExplainVerdicts, DenyOverridesAMatchingAllow) {
  XyzCluster c(kPolicy);
  ASSERT_TRUE(c.ok());
  Result r = explain(c, "x/c", "x/a", "tcp/443");
  ASSERT_TRUE(r.e) << r.error;
  EXPECT_FALSE(r.e->allowed);
  // x/c's egress is open: no policy selects it.
  EXPECT_EQ(r.e->egress->verdict.reason, ir::Reason::NoPolicy);
  EXPECT_TRUE(r.e->egress->policies.empty());
  const SideExplanation& in = *r.e->ingress;
  EXPECT_EQ(in.verdict.reason, ir::Reason::DeniedByRule);
  ASSERT_TRUE(in.deciding);
  EXPECT_EQ(in.deciding->location, "t.policy:7:5");
  EXPECT_EQ(in.deciding->action, ir::Action::Deny);
  EXPECT_EQ(others(in),
            "t.policy:18:13 peer-mismatch\n"
            "t.policy:5:5 peer-mismatch\n"
            "t.policy:6:5 overridden-by-deny\n"
            "t.policy:8:5 peer-mismatch\n");

  // On tcp/80 the same allow decides and the deny does not match the port.
  Result ok = explain(c, "x/c", "x/a", "tcp/80");
  ASSERT_TRUE(ok.e) << ok.error;
  EXPECT_TRUE(ok.e->allowed);
  EXPECT_EQ(ok.e->ingress->deciding->location, "t.policy:6:5");
}

TEST(ExplainVerdicts, RuleOfAPolicyThatDoesNotSelectTheSubject) {
  XyzCluster c(kPolicy);
  ASSERT_TRUE(c.ok());
  // x/b's ingress is open (b-out has no ingress); x/a-in's rule for x/c
  // would match, but that policy selects x/a only.
  Result r = explain(c, "x/c", "x/b", "tcp/80");
  ASSERT_TRUE(r.e) << r.error;
  EXPECT_TRUE(r.e->allowed);
  const SideExplanation& in = *r.e->ingress;
  EXPECT_EQ(in.verdict.reason, ir::Reason::NoPolicy);
  EXPECT_EQ(in.policies, std::vector<std::string>{"x/b-out"});
  EXPECT_EQ(others(in), "t.policy:6:5 not-selected\n");
  EXPECT_EQ(in.others[0].detail, "would match, but policy x/a-in does not select x/b");
}

TEST(ExplainVerdicts, TheFirstOfTwoMatchingAllowsDecides) {
  XyzCluster c(R"(namespace x
policy a-in {
  selects { pod = a }
  ingress {
    allow from pods { pod = b } on tcp/80-81
    allow from pods { pod in (b, c) } on tcp/80
  }
}
)");
  ASSERT_TRUE(c.ok());
  Result both = explain(c, "x/b", "x/a", "tcp/80");
  ASSERT_TRUE(both.e) << both.error;
  EXPECT_EQ(both.e->ingress->deciding->location, "t.policy:5:5");
  EXPECT_EQ(others(*both.e->ingress), "t.policy:6:5 also-matches\n");
  EXPECT_EQ(both.e->ingress->others[0].detail,
            "matches too; `allow from pods { pod = b } on tcp/80-81` (t.policy:5:5) comes first");
  // On 81 only the first matches; the second is outside its port.
  Result one = explain(c, "x/b", "x/a", "tcp/81");
  ASSERT_TRUE(one.e) << one.error;
  EXPECT_EQ(others(*one.e->ingress), "t.policy:6:5 port-mismatch\n");
  // From the host, no rule's peer matches.
  Result host = explain(c, "host", "x/a", "tcp/80");
  ASSERT_TRUE(host.e) << host.error;
  EXPECT_FALSE(host.e->allowed);
  EXPECT_FALSE(host.e->egress);
  EXPECT_EQ(others(*host.e->ingress), "t.policy:5:5 peer-mismatch\nt.policy:6:5 peer-mismatch\n");
  EXPECT_EQ(host.e->notes.back(), "host is the node, not an endpoint: only the destination's ingress applies");
}

TEST(ExplainVerdicts, OutsidePeerHasOneSide) {
  XyzCluster c(
      "namespace x\npolicy a { selects { pod = a } egress { allow to cidr 198.19.0.0/16 except 198.19.66.0/24 } }\n");
  ASSERT_TRUE(c.ok());
  Result in = explain(c, "x/a", "198.19.1.1", "udp/53");
  ASSERT_TRUE(in.e) << in.error;
  EXPECT_TRUE(in.e->allowed);
  EXPECT_FALSE(in.e->ingress);
  EXPECT_EQ(in.e->egress->deciding->location, "t.policy:2:41");
  Result out = explain(c, "198.18.1.1", "198.19.66.1", "udp/53");  // x/a by its address
  ASSERT_TRUE(out.e) << out.error;
  EXPECT_EQ(out.e->src, "x/a");
  EXPECT_FALSE(out.e->allowed);
  EXPECT_EQ(others(*out.e->egress), "t.policy:2:41 peer-mismatch\n");
}

// An egress rule on a named port is one rule per number in the IR; explain
// still shows it once, by the part that fits the flow.
TEST(ExplainVerdicts, EgressNamedPortIsOneRule) {
  nlohmann::json inv = membrane::testing::xyzInventory();
  for (auto& e : inv["endpoints"]) {
    if (e["namespace"] != "y") continue;
    if (e["name"] == "a") e["ports"] = {{{"name", "web"}, {"port", 80}}};
    if (e["name"] == "b") e["ports"] = {{{"name", "web"}, {"port", 81}}};
  }
  XyzCluster c({{"t.policy", "namespace x\npolicy out {\n  selects { pod = a }\n  egress { allow to namespace y on tcp/web }\n}\n"}},
               inv);
  ASSERT_TRUE(c.ok());
  Result r = explain(c, "x/a", "y/b", "tcp/81");
  ASSERT_TRUE(r.e) << r.error;
  EXPECT_TRUE(r.e->allowed);
  ASSERT_TRUE(r.e->egress && r.e->egress->deciding);
  EXPECT_EQ(r.e->egress->deciding->location, "t.policy:4:12");
  EXPECT_TRUE(r.e->egress->others.empty()) << others(*r.e->egress);

  r = explain(c, "x/a", "y/b", "tcp/80");
  ASSERT_TRUE(r.e) << r.error;
  EXPECT_FALSE(r.e->allowed);
  ASSERT_EQ(r.e->egress->others.size(), 1u) << others(*r.e->egress);
  EXPECT_EQ(r.e->egress->others[0].status, RuleVerdict::Status::PortMismatch);
  EXPECT_EQ(r.e->egress->others[0].detail, "port 80 is not in tcp/81");

  r = explain(c, "x/a", "y/c", "tcp/80");
  ASSERT_TRUE(r.e) << r.error;
  EXPECT_FALSE(r.e->allowed);
  ASSERT_EQ(r.e->egress->others.size(), 1u) << others(*r.e->egress);
  EXPECT_EQ(r.e->egress->others[0].status, RuleVerdict::Status::PeerMismatch) << "y/c defines no web port";
  EXPECT_EQ(r.e->egress->others[0].detail,
            "the rule's peers do not include endpoint y/c {pod=c} at 198.18.2.3: it does not define tcp port web as "
            "80 or 81, the numbers the rule resolved it to (named ports resolve in each destination)");

  r = explain(c, "x/a", "z/a", "tcp/80");
  ASSERT_TRUE(r.e) << r.error;
  ASSERT_EQ(r.e->egress->others.size(), 1u) << others(*r.e->egress);
  EXPECT_EQ(r.e->egress->others[0].detail, "the rule's peers do not include endpoint z/a {pod=a} at 198.18.3.1")
      << "not in namespace y at all";
}

TEST(ExplainNames, EndpointsWorkloadsLabelsAndAddresses) {
  XyzCluster c(kPolicy);
  ASSERT_TRUE(c.ok());
  std::string error;
  auto byKey = resolveEnd(c.ir(), "y/b", &error);
  ASSERT_TRUE(byKey) << error;
  ASSERT_EQ(byKey->endpoints.size(), 1u);
  EXPECT_EQ(byKey->endpoints[0]->key(), "y/b");

  auto byLabels = resolveEnd(c.ir(), "z/pod=c", &error);
  ASSERT_TRUE(byLabels) << error;
  ASSERT_EQ(byLabels->endpoints.size(), 1u);
  EXPECT_EQ(byLabels->endpoints[0]->key(), "z/c");
  auto allA = resolveEnd(c.ir(), "pod=a", &error);
  ASSERT_TRUE(allA) << error;
  EXPECT_EQ(allA->endpoints.size(), 3u);

  auto byAddress = resolveEnd(c.ir(), "2001:2::3:2", &error);
  ASSERT_TRUE(byAddress) << error;
  EXPECT_EQ(byAddress->endpoints.at(0)->key(), "z/b");
  auto outside = resolveEnd(c.ir(), "198.19.0.1", &error);
  ASSERT_TRUE(outside) << error;
  EXPECT_EQ(outside->kind, ResolvedEnd::Kind::Outside);
  EXPECT_EQ(resolveEnd(c.ir(), "host", &error)->kind, ResolvedEnd::Kind::Host);
}

TEST(ExplainNames, AmbiguousAndUnknownNames) {
  XyzCluster c(kPolicy);
  ASSERT_TRUE(c.ok());
  std::string error;
  EXPECT_FALSE(resolveEnd(c.ir(), "a", &error));
  EXPECT_EQ(error,
            "'a' is ambiguous; it names x/a (endpoint), y/a (endpoint), z/a (endpoint); give the namespace/name");
  EXPECT_FALSE(resolveEnd(c.ir(), "x/aa", &error));
  EXPECT_EQ(error, "no endpoint or workload named 'x/aa'; did you mean 'x/a'?");
  EXPECT_FALSE(resolveEnd(c.ir(), "x/pod=d", &error));
  EXPECT_EQ(error, "no endpoint in namespace x has the labels pod=d; did you mean 'pod=a'?");
  EXPECT_FALSE(resolveEnd(c.ir(), "x/nothing-like-it", &error));
  EXPECT_EQ(error, "no endpoint or workload named 'x/nothing-like-it'");

  // pod=a names x/a, y/a and z/a; only x/a has policies, so they are not
  // treated alike and explain asks for one.
  Result r = explain(c, "x/b", "pod=a", "tcp/80");
  EXPECT_FALSE(r.e);
  EXPECT_NE(r.error.find("not treated alike"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("x/b -> y/a, x/b -> z/a"), std::string::npos) << r.error;
  // y/pod=a and z/... are alike: one explanation for the pair, with a note.
  XyzCluster open("");
  ASSERT_TRUE(open.ok());
  Result alike = explain(open, "x/b", "pod=a", "tcp/80");
  ASSERT_TRUE(alike.e) << alike.error;
  EXPECT_EQ(alike.e->dst, "x/a");
  ASSERT_EQ(alike.e->notes.size(), 1u);
  EXPECT_EQ(alike.e->notes[0], "the destination names 3 endpoints, all treated alike; shown for x/a");
}

TEST(ExplainNames, Ports) {
  std::string error;
  auto t = parseTraffic("tcp/8080", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->protocol, ir::kTCP);
  EXPECT_EQ(t->port, 8080);
  t = parseTraffic("ICMP/echo-request", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->protocol, ir::kICMP);
  EXPECT_EQ(t->port, 8);
  EXPECT_EQ(trafficText(*t), "icmp/echo-request");
  t = parseTraffic("icmpv6/128", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->protocol, ir::kICMPv6);
  EXPECT_EQ(t->port, 128);
  EXPECT_TRUE(parseTraffic("sctp/9", &error));
  EXPECT_TRUE(parseTraffic("udp/53", &error));

  EXPECT_FALSE(parseTraffic("tcp/0", &error));
  EXPECT_EQ(error, "invalid --port 'tcp/0': expected a port number 1-65535 after 'tcp/'");
  EXPECT_FALSE(parseTraffic("tcp/http", &error));
  EXPECT_FALSE(parseTraffic("gre/1", &error));
  EXPECT_FALSE(parseTraffic("icmp/echo-requst", &error));
  EXPECT_NE(error.find("did you mean 'icmp/echo-request'?"), std::string::npos) << error;
}

TEST(ExplainFormats, TextAndJson) {
  XyzCluster c(kPolicy);
  ASSERT_TRUE(c.ok());
  Result r = explain(c, "x/c", "x/a", "tcp/443");
  ASSERT_TRUE(r.e) << r.error;
  std::string text = renderExplanationText(*r.e);
  EXPECT_EQ(text.substr(0, text.find('\n')), "x/c -> x/a on tcp/443: DENIED");
  EXPECT_NE(text.find("ingress of x/a: denied by a deny rule"), std::string::npos) << text;
  EXPECT_NE(text.find("    t.policy:7:5: deny from pods { pod = c } on tcp/443  [x/a-in]\n"
                      "          deny from pods { pod = c } on tcp/443\n"
                      "          ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n"),
            std::string::npos)
      << text;
  auto j = nlohmann::json::parse(renderExplanationJson(*r.e));
  EXPECT_EQ(j["allowed"], false);
  EXPECT_EQ(j["traffic"], "tcp/443");
  EXPECT_EQ(j["egress"]["reason"], "no-policy");
  EXPECT_EQ(j["ingress"]["reason"], "denied-by-rule");
  EXPECT_EQ(j["ingress"]["decidingRule"]["location"], "t.policy:7:5");
  EXPECT_EQ(j["ingress"]["otherRules"][2]["status"], "overridden-by-deny");
}

}  // namespace
}  // namespace membrane::analysis
