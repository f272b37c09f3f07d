// The DNS rule kind as a module (compiler/features/dns/) and name peers:
// what the checker accepts and refuses where it is written, what lowering
// keeps, the reference meaning the datapath is held to (docs/dns.md), and
// its printing.
#include "features/dns/dns.h"

#include <gtest/gtest.h>

#include "evaluator/evaluator.h"
#include "frontend_test_support.h"
#include "ir_print/ir_json.h"

namespace membrane::features::dns {
namespace {

std::string egress(const std::string& rules) {
  return "policy p {\n  selects {}\n  egress {\n" + rules + "  }\n}\n";
}

TEST(FeaturesDns, NamePeersAndDnsConditionsAreCheckedAndNormalized) {
  auto c = testing::compile(egress(
      "    allow to world on udp/53, tcp/53 with dns { \"API.Example.com.\"; \"*.example.com\", \"a.b\" }\n"
      "    allow to dns \"Api.Stripe.com\", \"*.s3.amazonaws.com\", \"api.stripe.com.\" on tcp/443\n"));
  ASSERT_TRUE(c->checked) << testing::rendered(*c);
  const auto& rules = c->checked->policies.at(0).rules;
  const Checked* condition = rules[0].condition<Checked>();
  ASSERT_NE(condition, nullptr);
  std::vector<std::string> written;
  for (const auto& n : condition->names) written.push_back(n.text);
  EXPECT_EQ(written, (std::vector<std::string>{"api.example.com", "*.example.com", "a.b"})) << "source order, normalized";
  EXPECT_EQ(lower(*condition).names, (std::vector<std::string>{"*.example.com", "a.b", "api.example.com"}));
  ASSERT_EQ(rules[1].peers.size(), 1u);
  EXPECT_EQ(rules[1].peers[0].dnsNames, (std::vector<std::string>{"*.s3.amazonaws.com", "api.stripe.com"}))
      << "sorted, duplicates (by case and trailing dot) merged";
}

TEST(FeaturesDns, AStringsListAfterDnsEndsAtTheFirstPeerThatIsNotAString) {
  auto c = testing::compile(egress("    allow to dns \"a.example.com\", \"b.example.com\", world on tcp/443\n"));
  ASSERT_TRUE(c->checked) << testing::rendered(*c);
  const auto& peers = c->checked->policies.at(0).rules.at(0).peers;
  ASSERT_EQ(peers.size(), 2u);
  EXPECT_EQ(peers[0].dnsNames, (std::vector<std::string>{"a.example.com", "b.example.com"}));
  EXPECT_EQ(peers[1].kind, sema::PeerSpec::Kind::Entity);
}

TEST(FeaturesDns, AnInvalidNameIsReportedAtItsOffendingCharacter) {
  auto c = testing::compile(egress("    allow to dns \"ok.example.com\", \"a*b*.example.com\" on tcp/443\n"));
  EXPECT_FALSE(c->checked);
  auto lines = testing::diagnostics(*c);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("a.policy:4:40: error: invalid DNS name \"a*b*.example.com\": ", 0), 0u) << lines[0];
}

TEST(FeaturesDns, MisplacedDnsRulesAreErrorsWhereTheyAreWritten) {
  auto c = testing::compile(
      "policy p {\n  selects {}\n  ingress {\n    allow from dns \"a.example.com\"\n"
      "    allow from world on udp/53 with dns { \"a.example.com\" }\n  }\n  egress {\n"
      "    deny to world on udp/53 with dns { \"a.example.com\" }\n"
      "    allow to world with dns { \"a.example.com\" }\n"
      "    allow to world on udp with dns { \"a.example.com\" }\n"
      "    allow to world on udp/53 with dns { \"a.example.com\" } with dns { \"b.example.com\" }\n"
      "    allow to world on udp/53 with dns { a.example.com }\n"
      "    allow to world on udp/53 with dns { }\n  }\n}\n");
  EXPECT_FALSE(c->checked);
  auto lines = testing::diagnostics(*c);
  ASSERT_EQ(lines.size(), 8u) << testing::rendered(*c);
  EXPECT_EQ(lines[0].substr(0, lines[0].find(" | ")),
            "a.policy:4:16: error: a `dns` peer names destinations: it belongs in an `egress` section");
  EXPECT_EQ(lines[1].substr(0, lines[1].find(" | ")), "a.policy:5:32: error: `with dns` is for egress rules");
  EXPECT_EQ(lines[2].substr(0, lines[2].find(" | ")), "a.policy:8:29: error: `with dns` is for allow rules");
  EXPECT_EQ(lines[3].substr(0, lines[3].find(" | ")),
            "a.policy:9:20: error: a rule with `with dns` must name its ports");
  EXPECT_EQ(lines[4].substr(0, lines[4].find(" | ")),
            "a.policy:10:23: error: a rule with `with dns` reads DNS on TCP and UDP ports given by number");
  EXPECT_EQ(lines[5].substr(0, lines[5].find(" | ")),
            "a.policy:11:59: error: a rule has at most one `with dns { ... }`");
  EXPECT_EQ(lines[6].substr(0, lines[6].find(" | ")),
            "a.policy:12:41: error: expected a quoted DNS name in `with dns { ... }`, found `a.example.com`");
  EXPECT_EQ(lines[7].substr(0, lines[7].find(" | ")), "a.policy:13:30: error: `with dns { }` lists no names");
}

// ---- meaning ----------------------------------------------------------------

ir::Rule rule(uint32_t id, ir::Action action) {
  ir::Rule r;
  r.id = id;
  r.action = action;
  return r;
}

TEST(FeaturesDns, ADnsConditionMatchesQueriesForItsNamesAndConnectionSetUpButNothingUnreadable) {
  ir::DnsCondition c{{"*.example.com", "api.stripe.com"}};
  EXPECT_TRUE(matches(c, {ir::kUDP, 53, ir::DnsMessage::query("www.example.com")}));
  EXPECT_TRUE(matches(c, {ir::kUDP, 53, ir::DnsMessage::query("api.stripe.com")}));
  EXPECT_FALSE(matches(c, {ir::kUDP, 53, ir::DnsMessage::query("example.com")})) << "'*' needs a label";
  EXPECT_FALSE(matches(c, {ir::kUDP, 53, ir::DnsMessage::query("a.b.example.com")})) << "'*' is one label";
  EXPECT_FALSE(matches(c, {ir::kUDP, 53, ir::DnsMessage::unreadable()}));
  EXPECT_TRUE(matches(c, {ir::kTCP, 53})) << "a TCP packet without payload sets up a connection for queries";
}

TEST(FeaturesDns, ANamePeerMatchesAnAddressLearnedForOneOfItsNamesWhoeverOwnsIt) {
  ir::PeerMatch m;
  m.dnsNames = {"*.s3.amazonaws.com", "api.stripe.com"};
  auto world = ir::Peer::world(*net::Address::parse("198.19.1.1"));
  EXPECT_FALSE(ir::peerMatches(m, world)) << "nothing learned";
  world.learnedNames = {"www.example.com", "bucket.s3.amazonaws.com"};
  EXPECT_TRUE(ir::peerMatches(m, world));
  world.learnedNames = {"s3.amazonaws.com"};
  EXPECT_FALSE(ir::peerMatches(m, world));
  auto host = ir::Peer::host(*net::Address::parse("198.19.1.2"));
  host.learnedNames = {"api.stripe.com"};
  EXPECT_TRUE(ir::peerMatches(m, host)) << "by address, like a CIDR";
}

TEST(FeaturesDns, AQueryDeniedOnlyForItsNameIsRefusedAndAnAllowedOneTeaches) {
  ir::DirectionPolicy egressPolicy;
  egressPolicy.enforced = true;
  ir::Rule resolver = rule(1, ir::Action::Allow);
  resolver.peer.world = true;
  resolver.conditions = {ir::L4Condition{{{ir::kUDP, {{53, 53}}}}}, ir::DnsCondition{{"*.example.com"}}};
  egressPolicy.rules = {resolver};
  auto world = ir::Peer::world(*net::Address::parse("198.19.1.1"));

  ir::Traffic allowed{ir::kUDP, 53, ir::DnsMessage::query("www.example.com")};
  auto v = ir::evaluate(egressPolicy, world, allowed);
  EXPECT_TRUE(v.allowed);
  EXPECT_TRUE(v.learnsDns);
  EXPECT_FALSE(ir::refusedByName(egressPolicy, world, allowed));

  ir::Traffic otherName{ir::kUDP, 53, ir::DnsMessage::query("www.example.org")};
  EXPECT_FALSE(ir::evaluate(egressPolicy, world, otherName).allowed);
  EXPECT_TRUE(ir::refusedByName(egressPolicy, world, otherName));

  ir::Traffic otherPort{ir::kUDP, 5353, ir::DnsMessage::query("www.example.org")};
  EXPECT_FALSE(ir::refusedByName(egressPolicy, world, otherPort)) << "no rule would allow it: dropped, not refused";

  ir::Rule plain = rule(2, ir::Action::Allow);
  plain.peer.world = true;
  egressPolicy.rules.push_back(plain);
  auto byPlain = ir::evaluate(egressPolicy, world, otherName);
  EXPECT_TRUE(byPlain.allowed);
  EXPECT_FALSE(byPlain.learnsDns) << "a rule without a dns condition lets the query through but teaches nothing";
}

// ---- printing -----------------------------------------------------------------

TEST(FeaturesDns, TheIrPrintsNamePeersAndConditionsAsWritten) {
  ir::Rule r = rule(4, ir::Action::Allow);
  r.peer.dnsNames = {"api.stripe.com"};
  r.conditions = {ir::L4Condition{{{ir::kUDP, {{53, 53}}}}}, ir::DnsCondition{{"*.example.com", "a.b"}}};
  EXPECT_EQ(describe(r), " with dns { \"*.example.com\", \"a.b\" }");
  EXPECT_EQ(describePeer(r.peer.dnsNames), "dns \"api.stripe.com\"");
  auto j = ir::toJson(r);
  EXPECT_EQ(j["dns"], nlohmann::json({"*.example.com", "a.b"}));
  EXPECT_EQ(j["peer"]["dns"], nlohmann::json({"api.stripe.com"}));
}

TEST(FeaturesDns, BothPacketKindsEnforceIt) {
  EXPECT_TRUE(enforceableBy(ProgramKind::Tc));
  EXPECT_TRUE(enforceableBy(ProgramKind::CgroupSkb));
}

}  // namespace
}  // namespace membrane::features::dns
