// The checker: every error it reports, with the exact location, message,
// hint and notes a user sees, plus the resolution rules policies rely on.
//
// Diagnostics are compared as one line each:
//   "file:line:col: severity: message | hint: ... | note file:line:col: ..."
// Lines and columns are 1-based; columns count bytes (all texts here are ASCII).
#include "sema/sema.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "features/l4/l4.h"
#include "frontend/parser.h"
#include "pipeline/pipeline.h"
#include "frontend_test_support.h"

namespace membrane {
namespace {

using namespace membrane::testing;


// Checks `text` and expects exactly `expected` diagnostics, in order, and no
// checked program when any of them is an error.
void expectDiagnostics(const std::string& text, const Lines& expected) {
  auto c = compile(text);
  EXPECT_EQ(diagnostics(*c), expected) << rendered(*c);
  if (c->diags.hasErrors()) {
    EXPECT_FALSE(c->checked) << "check must return no program when there is an error";
    EXPECT_FALSE(c->ir);
  }
}

// A policy whose only rule is `rule` in the `dir` section; the rule is on
// line 4, starting at column 5.
std::string withRule(const std::string& dir, const std::string& rule, const std::string& before = "") {
  return before + "policy p {\n  selects {}\n  " + dir + " {\n    " + rule + "\n  }\n}\n";
}

// ---- references ----------------------------------------------------------

TEST(Sema, UnknownSelectorWithDidYouMean) {
  expectDiagnostics(
      "selector frontend = { app = frontend }\n"
      "policy p {\n"
      "  selects frontnd\n"
      "  ingress {\n"
      "    allow from pods frontedn in namespaces frontend\n"
      "  }\n"
      "}\n",
      {"a.policy:3:11: error: unknown selector 'frontnd' | hint: did you mean `frontend`?",
       "a.policy:5:21: error: unknown selector 'frontedn' | hint: did you mean `frontend`?"});
}

TEST(Sema, UnknownPortsWithDidYouMean) {
  expectDiagnostics(withRule("ingress", "allow from world on web-prts", "ports web-ports = tcp/{80, 443}\n"),
                    {"a.policy:5:25: error: unknown ports 'web-prts' | hint: did you mean `web-ports`?"});
}

TEST(Sema, UnknownPeersWithDidYouMean) {
  expectDiagnostics(withRule("ingress", "allow from monitring on tcp/9090", "peers monitoring = namespace monitoring\n"),
                    {"a.policy:5:16: error: unknown peers 'monitring' | hint: did you mean `monitoring`?"});
}

TEST(Sema, UnknownNameWithoutCloseMatchHasNoHint) {
  expectDiagnostics(withRule("egress", "allow to payment-gateway on https"),
                    {"a.policy:4:14: error: unknown peers 'payment-gateway'",
                     "a.policy:4:33: error: unknown ports 'https'"});
}

TEST(Sema, MisspeltEntityOrProtocolSuggestsTheKeyword) {
  // `wold` and `tc` parse as references to definitions; the hint should
  // still point at what was almost certainly meant.
  expectDiagnostics(withRule("egress", "allow to wold on tc", "peers worlds = world\n"),
                    {"a.policy:5:14: error: unknown peers 'wold' | hint: did you mean `world`?",
                     "a.policy:5:22: error: unknown ports 'tc' | hint: did you mean `tcp`?"});
}

TEST(Sema, WrongKindOfDefinition) {
  expectDiagnostics(
      "selector web = { app = web }\n"
      "ports dns = udp/53\n"
      "policy p {\n"
      "  selects dns\n"
      "  ingress {\n"
      "    allow from web on web\n"
      "  }\n"
      "}\n",
      {"a.policy:4:11: error: 'dns' is a ports definition, not a selector | note a.policy:2:7: defined here",
       "a.policy:6:16: error: 'web' is a selector definition, not a peers | note a.policy:1:10: defined here",
       "a.policy:6:23: error: 'web' is a selector definition, not a ports | note a.policy:1:10: defined here"});
}

TEST(Sema, RedefinitionPointsAtTheLaterOne) {
  expectDiagnostics(
      "selector api = { app = api }\n"
      "ports api = tcp/80\n",
      {"a.policy:2:7: error: redefinition of 'api' | note a.policy:1:10: previous definition (selector) is here"});
  // Definitions of different kinds in the opposite source order: the error is
  // still at the second one in the file, the note at the first.
  expectDiagnostics(
      "ports api = tcp/80\n"
      "peers api = world\n"
      "selector api = { app = api }\n",
      {"a.policy:2:7: error: redefinition of 'api' | note a.policy:1:7: previous definition (ports) is here",
       "a.policy:3:10: error: redefinition of 'api' | note a.policy:1:7: previous definition (ports) is here"});
}

TEST(Sema, RedefinitionAcrossFiles) {
  auto c = compile(Files{{"a.policy", "peers db = cidr 198.18.0.0/24\n"}, {"b.policy", "\n\npeers db = world\n"}});
  EXPECT_EQ(diagnostics(*c),
            Lines{"b.policy:3:7: error: redefinition of 'db' | note a.policy:1:7: previous definition (peers) is here"});
  EXPECT_FALSE(c->checked);
}

TEST(Sema, SelfReferencingDefinitions) {
  expectDiagnostics(
      "peers loop = world, loop\n"
      "ports p = tcp/80, p\n",
      {"a.policy:1:21: error: definition 'loop' is defined in terms of itself | hint: definitions may use other definitions, but not in a cycle",
       "a.policy:2:19: error: definition 'p' is defined in terms of itself | hint: definitions may use other definitions, but not in a cycle"});
}

TEST(Sema, MutuallyRecursiveDefinitionsReportedOnce) {
  // Used by a policy too: the error is reported at the definition, once.
  expectDiagnostics(withRule("ingress", "allow from a", "peers a = b\npeers b = a\n"),
                    {"a.policy:2:11: error: definition 'a' is defined in terms of itself | hint: definitions may use other definitions, but not in a cycle"});
}

// ---- CIDRs ------------------------------------------------------------

TEST(Sema, InvalidCidr) {
  expectDiagnostics(withRule("egress", "allow to cidr 198.18.0.0/33, cidr 198.18.300.1, cidr 2001:2::/129"),
                    {"a.policy:4:19: error: invalid CIDR '198.18.0.0/33' | hint: write an IPv4 or IPv6 prefix such "
                     "as 198.18.0.0/15 or 2001:2::/48",
                     "a.policy:4:39: error: invalid CIDR '198.18.300.1' | hint: write an IPv4 or IPv6 prefix such "
                     "as 198.18.0.0/15 or 2001:2::/48",
                     "a.policy:4:58: error: invalid CIDR '2001:2::/129' | hint: write an IPv4 or IPv6 prefix such "
                     "as 198.18.0.0/15 or 2001:2::/48"});
}

TEST(Sema, HostBitsSetSuggestsTheNetwork) {
  expectDiagnostics(withRule("egress", "allow to cidr 198.18.1.0/15, cidr 2001:2::1/48"),
                    {"a.policy:4:19: error: CIDR '198.18.1.0/15' has host bits set | hint: did you mean "
                     "`198.18.0.0/15`?",
                     "a.policy:4:39: error: CIDR '2001:2::1/48' has host bits set | hint: did you mean `2001:2::/48`?"});
  // In an except too.
  expectDiagnostics(withRule("egress", "allow to cidr 198.18.0.0/15 except 198.18.1.1/24"),
                    {"a.policy:4:40: error: CIDR '198.18.1.1/24' has host bits set | hint: did you mean "
                     "`198.18.1.0/24`?"});
}

TEST(Sema, ExceptOutsideItsCidr) {
  expectDiagnostics(withRule("egress", "allow to cidr 198.18.0.0/16 except 198.19.0.0/24"),
                    {"a.policy:4:40: error: except 198.19.0.0/24 is not inside 198.18.0.0/16 | hint: an except must "
                     "be a sub-range of its CIDR"});
  // A wider except that contains the CIDR is not inside it either.
  expectDiagnostics(withRule("egress", "allow to cidr 198.18.0.0/16 except 198.18.0.0/15"),
                    {"a.policy:4:40: error: except 198.18.0.0/15 is not inside 198.18.0.0/16 | hint: an except must "
                     "be a sub-range of its CIDR"});
}

TEST(Sema, ExceptOfOtherIpFamily) {
  expectDiagnostics(withRule("egress", "allow to cidr 198.18.0.0/15 except 2001:2::/64"),
                    {"a.policy:4:40: error: except 2001:2::/64 is not inside 198.18.0.0/15 | hint: the except and "
                     "the CIDR are of different IP versions"});
  expectDiagnostics(withRule("egress", "allow to cidr 2001:2::/48 except (2001:2::/64, 198.18.0.0/24)"),
                    {"a.policy:4:52: error: except 198.18.0.0/24 is not inside 2001:2::/48 | hint: the except and "
                     "the CIDR are of different IP versions"});
}

TEST(Sema, ExceptEqualToTheCidr) {
  expectDiagnostics(withRule("egress", "allow to cidr 2001:2::/48 except (2001:2::/48)"),
                    {"a.policy:4:39: error: except 2001:2::/48 removes the whole of 2001:2::/48"});
}

TEST(Sema, ValidCidrWithExceptsIsResolved) {
  auto c = compile(withRule("egress", "allow to cidr 198.18.0.0/15 except (198.19.0.0/16, 198.18.4.0/24, 198.18.4.0/24)"));
  ASSERT_TRUE(c->checked) << rendered(*c);
  const auto& peer = c->checked->policies.at(0).rules.at(0).peers.at(0);
  EXPECT_EQ(peer.kind, sema::PeerSpec::Kind::Cidr);
  EXPECT_EQ(peer.cidr.prefix.str(), "198.18.0.0/15");
  ASSERT_EQ(peer.cidr.except.size(), 2u) << "excepts are sorted and deduplicated";
  EXPECT_EQ(peer.cidr.except[0].str(), "198.18.4.0/24");
  EXPECT_EQ(peer.cidr.except[1].str(), "198.19.0.0/16");
}

// ---- ports and ICMP ---------------------------------------------------

TEST(Sema, PortsOutOfRangeAndReversed) {
  expectDiagnostics(withRule("ingress", "allow from world on tcp/0, udp/65536, tcp/80-65536, sctp/8080-80"),
                    {"a.policy:4:29: error: port 0 is out of range (1-65535)",
                     "a.policy:4:36: error: port 65536 is out of range (1-65535)",
                     "a.policy:4:47: error: port 65536 is out of range (1-65535)",
                     "a.policy:4:62: error: port range 8080-80 is reversed | hint: did you mean `80-8080`?"});
}

TEST(Sema, PortBoundsAreInclusive) {
  auto c = compile(withRule("ingress", "allow from world on tcp/{1, 65535, 1-65535}"));
  ASSERT_TRUE(c->checked) << rendered(*c);
  const auto& l4 = features::l4::specsOf(c->checked->policies.at(0).rules.at(0));
  ASSERT_EQ(l4.size(), 1u);
  EXPECT_EQ(l4[0].ports.size(), 3u);
  EXPECT_FALSE(l4[0].allPorts);
}

TEST(Sema, IcmpTypeOutOfRangeAndUnknownName) {
  expectDiagnostics(withRule("ingress", "allow from world on icmp/256, icmpv6/{echo-requst, 300}, icmp/foo"),
                    {"a.policy:4:30: error: ICMP type 256 is out of range (0-255) | hint: ICMP has no ports; after "
                     "`icmp/` come message types",
                     "a.policy:4:43: error: unknown ICMPv6 type 'echo-requst' | hint: did you mean `echo-request`?",
                     "a.policy:4:56: error: ICMPv6 type 300 is out of range (0-255) | hint: ICMPv6 has no ports; after "
                     "`icmpv6/` come message types",
                     "a.policy:4:67: error: unknown ICMP type 'foo' | hint: use a type number 0-255 or a name such as "
                     "`echo-request`"});
}

TEST(Sema, IcmpTypeNamesAreFamilySpecific) {
  // `packet-too-big` exists only in ICMPv6; echo-request is 8 in v4, 128 in v6.
  expectDiagnostics(withRule("ingress", "allow from world on icmp/packet-too-big"),
                    {"a.policy:4:30: error: unknown ICMP type 'packet-too-big' | hint: use a type number 0-255 or a "
                     "name such as `echo-request`"});
  auto c = compile(withRule("ingress", "allow from world on icmp/echo-request, icmpv6/echo-request"));
  ASSERT_TRUE(c->checked) << rendered(*c);
  const auto& l4 = features::l4::specsOf(c->checked->policies.at(0).rules.at(0));
  ASSERT_EQ(l4.size(), 2u);
  EXPECT_EQ(l4[0].ports.at(0).first, 8);
  EXPECT_EQ(l4[1].ports.at(0).first, 128);
}

TEST(Sema, InvalidNamedPort) {
  const char* hint = " | hint: named ports are at most 15 lowercase letters, digits and '-'";
  expectDiagnostics(withRule("ingress", "allow from world on tcp/{Http, a-very-long-port-name, web-}"),
                    {std::string("a.policy:4:30: error: invalid port name 'Http'") + hint,
                     std::string("a.policy:4:36: error: invalid port name 'a-very-long-port-name'") + hint,
                     std::string("a.policy:4:59: error: invalid port name 'web-'") + hint});
}

TEST(Sema, NamedPortsAreKeptForTheInventory) {
  auto c = compile(withRule("ingress", "allow from world on tcp/{http, 8080}, udp/dns"));
  ASSERT_TRUE(c->checked) << rendered(*c);
  const auto& l4 = features::l4::specsOf(c->checked->policies.at(0).rules.at(0));
  ASSERT_EQ(l4.size(), 2u);
  ASSERT_EQ(l4[0].namedPorts.size(), 1u);
  EXPECT_EQ(l4[0].namedPorts[0].name, "http");
  EXPECT_EQ(l4[0].namedPorts[0].protocol, ir::kTCP);
  EXPECT_EQ(c->sources.describe(l4[0].namedPorts[0].range.begin), "a.policy:4:30");
  EXPECT_EQ(l4[0].ports.size(), 1u);
  EXPECT_EQ(l4[1].namedPorts.at(0).protocol, ir::kUDP);
}

// ---- rules ------------------------------------------------------------

TEST(Sema, DirectionKeywordMustFitTheSection) {
  expectDiagnostics(
      "policy p {\n"
      "  selects {}\n"
      "  ingress {\n"
      "    allow to world\n"
      "  }\n"
      "  egress {\n"
      "    deny from world\n"
      "  }\n"
      "}\n",
      {"a.policy:4:11: error: `to` in an `ingress` section | hint: ingress rules name their sources: did you mean "
       "`from`?",
       "a.policy:7:10: error: `from` in an `egress` section | hint: egress rules name their destinations: did you "
       "mean `to`?"});
}

TEST(Sema, WithExtensionsOtherThanDnsHttpAndProcessAreNotSupported) {
  expectDiagnostics(withRule("ingress", "allow from world on tcp/80 with kafka { topic = \"orders\" { nested } }"),
                    {"a.policy:4:32: error: `with kafka` rules are not supported yet | hint: membrane enforces "
                     "L3/L4, DNS (`with dns`), HTTP (`with http`) and executables (`with process`) today"});
}

TEST(Sema, ServicePeerNamesFollowTheKubernetesRules) {
  expectDiagnostics(withRule("egress", "allow to service Shop/api, service API"),
                    {"a.policy:4:22: error: invalid namespace name 'Shop' | hint: namespace names are lowercase "
                     "letters, digits and '-', at most 63 characters",
                     "a.policy:4:40: error: invalid service name 'API' | hint: service names are lowercase letters, "
                     "digits and '-', start with a letter and are at most 63 characters"});
}

TEST(Sema, AServicePeerInAClusterwidePolicyNeedsItsNamespace) {
  auto c = compile(Files{{"a.policy", "policy p { clusterwide selects {} egress { allow to service api } }\n"}});
  EXPECT_EQ(diagnostics(*c), (Lines{"a.policy:1:53: error: service 'api' in a clusterwide policy needs its namespace "
                                    "| hint: a clusterwide policy has no namespace of its own: write `service "
                                    "NAMESPACE/api`, or `service api in namespaces {}` for every namespace"}));
}

TEST(Sema, AServicePeerNamesItsNamespaceOnce) {
  expectDiagnostics(withRule("egress", "allow to service shop/api in namespace shop"),
                    {"a.policy:4:34: error: service shop/api names its namespace twice | hint: write `service "
                     "NAMESPACE/NAME` or `service NAME in namespaces { ... }`, not both"});
}

// ---- policies -----------------------------------------------------------

TEST(Sema, DuplicatePolicyInTheSameNamespace) {
  auto c = compile(Files{
      {"a.policy", "policy api { selects {} ingress {} }\nnamespace other\npolicy api { selects {} ingress {} }\n"},
      {"b.policy", "policy api { selects {} ingress {} }\npolicy api { namespace other selects {} ingress {} }\n"}});
  EXPECT_EQ(diagnostics(*c),
            (Lines{"b.policy:1:8: error: duplicate policy 'default/api' | hint: policy names are unique within a "
                   "namespace | note a.policy:1:8: previous definition is here",
                   "b.policy:2:8: error: duplicate policy 'other/api' | hint: policy names are unique within a "
                   "namespace | note a.policy:3:8: previous definition is here"}));
  EXPECT_FALSE(c->checked);
}

TEST(Sema, SameNameInDifferentNamespacesIsFine) {
  auto c = compile(Files{{"a.policy", "namespace one\npolicy api { selects {} ingress {} }\n"},
                         {"b.policy",
                          "namespace two\npolicy api { selects {} ingress {} }\n"
                          "policy api { namespace three selects {} ingress {} }\n"
                          "policy api { clusterwide selects {} ingress {} }\n"}});
  EXPECT_TRUE(c->diags.all().empty()) << rendered(*c);
  ASSERT_TRUE(c->checked);
  std::vector<std::string> keys;
  for (const auto& p : c->checked->policies) keys.push_back(p.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"api", "one/api", "three/api", "two/api"})) << "sorted by key";
  EXPECT_TRUE(c->checked->policies[0].clusterwide);
  EXPECT_EQ(c->checked->policies[0].ns, "");
}

TEST(Sema, ClusterwideWithNamespace) {
  expectDiagnostics(
      "policy p {\n"
      "  clusterwide\n"
      "  namespace shop\n"
      "  selects {}\n"
      "  ingress {}\n"
      "}\n",
      {"a.policy:3:13: error: a clusterwide policy has no namespace | note a.policy:2:3: declared clusterwide here"});
}

TEST(Sema, UnknownMode) {
  expectDiagnostics(
      "policy p {\n"
      "  mode enforcing\n"
      "  selects {}\n"
      "  ingress {}\n"
      "}\n"
      "policy q {\n"
      "  mode strict\n"
      "  selects {}\n"
      "  ingress {}\n"
      "}\n",
      {"a.policy:2:8: error: unknown mode 'enforcing' | hint: did you mean `enforce`?",
       "a.policy:7:8: error: unknown mode 'strict' | hint: the mode is `enforce` (the default) or `audit`"});
}

TEST(Sema, Modes) {
  auto c = compile(
      "policy a { mode audit selects {} ingress {} }\n"
      "policy e { mode enforce selects {} ingress {} }\n"
      "policy d { selects {} ingress {} }\n");
  ASSERT_TRUE(c->checked) << rendered(*c);
  ASSERT_EQ(c->checked->policies.size(), 3u);
  EXPECT_TRUE(c->checked->policies[0].audit);
  EXPECT_FALSE(c->checked->policies[1].audit) << "enforce is the default";
  EXPECT_FALSE(c->checked->policies[2].audit);
}

TEST(Sema, MissingSelects) {
  expectDiagnostics(
      "policy p {\n"
      "  ingress {}\n"
      "}\n",
      {"a.policy:1:8: error: policy 'p' does not say which endpoints it applies to | hint: add `selects { app = ... "
       "}`; `selects {}` selects every endpoint in the namespace"});
}

TEST(Sema, DuplicateSelects) {
  // Found while building the AST, so reported with the syntax errors.
  expectDiagnostics(
      "policy p {\n"
      "  selects { app = a }\n"
      "  ingress {}\n"
      "  selects { tier = b }\n"
      "}\n",
      {"a.policy:4:3: error: policy 'p' has more than one `selects` | hint: combine the requirements into one "
       "selector"});
}

TEST(Sema, DuplicateSection) {
  expectDiagnostics(
      "policy p {\n"
      "  selects {}\n"
      "  ingress {}\n"
      "  egress {}\n"
      "  ingress {\n"
      "    allow from world\n"
      "  }\n"
      "  egress {}\n"
      "}\n",
      {"a.policy:5:3: error: duplicate `ingress` section | hint: put all rules of one direction in one section | "
       "note a.policy:3:3: previous section is here",
       "a.policy:8:3: error: duplicate `egress` section | hint: put all rules of one direction in one section | "
       "note a.policy:4:3: previous section is here"});
}

TEST(Sema, ContradictorySelector) {
  const char* tail = " can never match: its requirements contradict each other";
  expectDiagnostics(
      "selector never = { env in (a, b), env notin (b, a) }\n"
      "policy p {\n"
      "  selects { app = a, app = b }\n"
      "  ingress {\n"
      "    allow from pods { canary, !canary }, namespaces { env = a, env != a }\n"
      "  }\n"
      "}\n",
      {std::string("a.policy:1:18: warning: selector {env in (a, b), env notin (a, b)}") + tail,
       std::string("a.policy:3:11: warning: selector {app = a, app = b}") + tail,
       std::string("a.policy:5:21: warning: selector {canary, !canary}") + tail,
       std::string("a.policy:5:53: warning: selector {env = a, env != a}") + tail});
}

TEST(Sema, SatisfiableSelectorsAreFine) {
  auto c = compile(withRule("ingress", "allow from pods { env in (a, b), env != a, app, !canary, tier notin (x) }"));
  EXPECT_FALSE(c->diags.hasErrors()) << rendered(*c);
}

TEST(Sema, InvalidLabelKeys) {
  expectDiagnostics(
      "policy p {\n"
      "  selects {\n"
      "    _app = x,\n"
      "    Example.com/app = y,\n"
      "    \"example.com/\",\n"
      "    aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,\n"
      "  }\n"
      "  ingress {}\n"
      "}\n",
      {"a.policy:3:5: error: invalid label key '_app': must start and end with a letter or digit and contain only "
       "letters, digits, '-', '_' and '.'",
       "a.policy:4:5: error: invalid label key 'Example.com/app': the prefix before '/' must be a DNS name",
       "a.policy:5:5: error: invalid label key 'example.com/': the name part is empty",
       "a.policy:6:5: error: invalid label key 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa': the "
       "name part is longer than 63 characters"});
}

TEST(Sema, ValidLabelKeys) {
  auto c = compile(withRule(
      "ingress", "allow from pods { app.kubernetes.io/name = web, k8s:app = api, k8s:io.cilium/x = y, A_b.c-D = \"\" }"));
  EXPECT_FALSE(c->diags.hasErrors()) << rendered(*c);
}

TEST(Sema, InvalidLabelValues) {
  std::string longValue(64, 'v');
  expectDiagnostics(
      "policy p {\n"
      "  selects {\n"
      "    tier = \"hello world\",\n"
      "    env in (ok, \"-bad\"),\n"
      "    long = \"" + longValue + "\",\n"
      "  }\n"
      "  ingress {}\n"
      "}\n",
      {"a.policy:3:5: error: invalid label value 'hello world': must start and end with a letter or digit and contain "
       "only letters, digits, '-', '_' and '.'",
       "a.policy:4:5: error: invalid label value '-bad': must start and end with a letter or digit and contain only "
       "letters, digits, '-', '_' and '.'",
       "a.policy:5:5: error: invalid label value '" + longValue + "': is longer than 63 characters"});
}

TEST(Sema, InvalidNamespaceNames) {
  const char* hint = " | hint: namespace names are lowercase letters, digits and '-', at most 63 characters";
  expectDiagnostics(
      "policy p {\n"
      "  namespace Shop_1\n"
      "  selects {}\n"
      "  egress {\n"
      "    allow to pods {} in namespace kube.system, namespace kube_dns\n"
      "  }\n"
      "}\n",
      {std::string("a.policy:2:13: error: invalid namespace name 'Shop_1'") + hint,
       std::string("a.policy:5:35: error: invalid namespace name 'kube.system'") + hint,
       std::string("a.policy:5:58: error: invalid namespace name 'kube_dns'") + hint});
}

TEST(Sema, InvalidFileNamespaceIsReportedAtTheNamespaceStatement) {
  // Once, where it is written, however many policies it applies to.
  expectDiagnostics(
      "namespace Shop\n"
      "policy a { selects {} ingress {} }\n"
      "policy b { selects {} ingress {} }\n",
      {"a.policy:1:11: error: invalid namespace name 'Shop' | hint: namespace names are lowercase letters, digits "
       "and '-', at most 63 characters"});
}

TEST(Sema, InvalidPolicyName) {
  expectDiagnostics("policy Api_v2 { selects {} ingress {} }\n",
                    {"a.policy:1:8: error: invalid policy name 'Api_v2' | hint: policy names are lowercase letters, "
                     "digits, '-' and '.'"});
}

TEST(Sema, PolicyWithoutSectionsWarns) {
  auto c = compile("policy p {\n  selects { app = web }\n}\n");
  EXPECT_EQ(diagnostics(*c), Lines{"a.policy:1:8: warning: policy 'p' has neither an `ingress` nor an `egress` "
                                   "section | hint: it selects endpoints but restricts nothing"});
  EXPECT_FALSE(c->diags.hasErrors());
  EXPECT_EQ(c->diags.warningCount(), 1u);
  ASSERT_TRUE(c->checked) << "a warning does not stop compilation";
  ASSERT_EQ(c->checked->policies.size(), 1u);
  EXPECT_FALSE(c->checked->policies[0].hasIngress);
  EXPECT_FALSE(c->checked->policies[0].hasEgress);
  EXPECT_TRUE(c->ir);
}

TEST(Sema, EmptySectionsAreNotWarnedAbout) {
  auto c = compile("policy p { selects {} egress {} }\n");
  EXPECT_TRUE(c->diags.all().empty()) << rendered(*c);
  ASSERT_TRUE(c->checked);
  EXPECT_TRUE(c->checked->policies.at(0).hasEgress) << "an empty section still denies by default";
  EXPECT_FALSE(c->checked->policies.at(0).hasIngress);
}

// ---- all errors, one run ----------------------------------------------

TEST(Sema, AllErrorsInARunAreReported) {
  auto c = compile(Files{{"a.policy",
                          "selector bad = { app = a, app = b }\n"                       // 1
                          "ports p = tcp/0\n"                                           // 2
                          "policy one {\n"                                              // 3
                          "  mode loud\n"                                               // 4
                          "  selects { \"x y\" = z }\n"                                 // 5
                          "  ingress {\n"                                               // 6
                          "    allow to cidr 198.18.0.1/24 on udp/70000, icmp/300\n"    // 7
                          "  }\n"                                                       // 8
                          "}\n"                                                         // 9
                          "policy two {\n"                                              // 10
                          "  egress { deny to nowhere }\n"                              // 11
                          "}\n"},                                                       // 12
                         {"b.policy", "policy three { clusterwide namespace x selects bad egress {} egress {} }\n"}});
  Lines got = diagnostics(*c);
  Lines want = {
      "a.policy:1:16: warning: selector {app = a, app = b} can never match: its requirements contradict each other",
      "a.policy:2:15: error: port 0 is out of range (1-65535)",
      "a.policy:4:8: error: unknown mode 'loud' | hint: the mode is `enforce` (the default) or `audit`",
      "a.policy:5:13: error: invalid label key 'x y': must start and end with a letter or digit and contain only "
      "letters, digits, '-', '_' and '.'",
      "a.policy:7:11: error: `to` in an `ingress` section | hint: ingress rules name their sources: did you mean "
      "`from`?",
      "a.policy:7:19: error: CIDR '198.18.0.1/24' has host bits set | hint: did you mean `198.18.0.0/24`?",
      "a.policy:7:40: error: port 70000 is out of range (1-65535)",
      "a.policy:7:52: error: ICMP type 300 is out of range (0-255) | hint: ICMP has no ports; after `icmp/` come "
      "message types",
      "a.policy:10:8: error: policy 'two' does not say which endpoints it applies to | hint: add `selects { app = "
      "... }`; `selects {}` selects every endpoint in the namespace",
      "a.policy:11:20: error: unknown peers 'nowhere'",
      "b.policy:1:38: error: a clusterwide policy has no namespace | note b.policy:1:16: declared clusterwide here",
      "b.policy:1:62: error: duplicate `egress` section | hint: put all rules of one direction in one section | "
      "note b.policy:1:52: previous section is here",
  };
  // The order of reports is not part of the contract; all of them are.
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want) << rendered(*c);
  EXPECT_EQ(c->diags.errorCount() + c->diags.warningCount(), want.size());
  EXPECT_EQ(c->diags.warningCount(), 1u);  // the contradictory selector
  EXPECT_FALSE(c->checked);
  EXPECT_FALSE(c->ir);
}

TEST(Sema, ErrorInASharedDefinitionIsReportedOnceAtTheDefinition) {
  expectDiagnostics(
      "ports web = tcp/{80, 8443-443}\n"
      "selector unused = { \"bad key\" }\n"
      "policy a { selects {} ingress { allow from world on web } }\n"
      "policy b { selects {} egress { allow to world on web, udp/53 } }\n",
      {"a.policy:2:21: error: invalid label key 'bad key': must start and end with a letter or digit and contain only "
       "letters, digits, '-', '_' and '.'",
       "a.policy:1:22: error: port range 8443-443 is reversed | hint: did you mean `443-8443`?"});
}

TEST(Sema, OneBadPolicyDoesNotHideAnother) {
  auto c = compile(
      "policy good { selects {} ingress { allow from world } }\n"
      "policy bad { selects {} ingress { allow from world on tcp/0 } }\n");
  EXPECT_EQ(c->diags.errorCount(), 1u);
  EXPECT_FALSE(c->checked) << "no program, not even the good policies";
}

// ---- resolution -----------------------------------------------------------

TEST(Sema, DefinitionsResolveAcrossFiles) {
  // Used in a.policy before b.policy defines them.
  auto c = compile(Files{
      {"a.policy",
       "namespace shop\n"
       "policy api {\n"
       "  selects api\n"
       "  ingress { allow from pods web on http }\n"
       "  egress { allow to dns-servers on dns }\n"
       "}\n"},
      {"b.policy",
       "selector api = { app = api }\n"
       "selector web = { app = web }\n"
       "ports http = tcp/{80, 443}\n"
       "ports dns = udp/53, tcp/53\n"
       "peers dns-servers = cidr 198.18.53.0/24, cidr 2001:2::53/128\n"}});
  ASSERT_TRUE(c->checked) << rendered(*c);
  EXPECT_TRUE(c->diags.all().empty()) << rendered(*c);
  ASSERT_EQ(c->checked->policies.size(), 1u);
  const auto& p = c->checked->policies[0];
  EXPECT_EQ(p.key(), "shop/api");
  EXPECT_EQ(p.selects.str(), "{app = api}");
  EXPECT_TRUE(p.hasIngress);
  EXPECT_TRUE(p.hasEgress);
  ASSERT_EQ(p.rules.size(), 2u);

  const auto& in = p.rules[0];
  EXPECT_EQ(in.direction, ir::Direction::Ingress);
  EXPECT_EQ(in.text, "allow from pods web on http");
  EXPECT_EQ(c->sources.describe(in.range.begin), "a.policy:4:13");
  ASSERT_EQ(in.peers.size(), 1u);
  EXPECT_EQ(in.peers[0].pods.str(), "{app = web}");
  EXPECT_EQ(in.peers[0].ns, "shop");
  ASSERT_EQ(features::l4::specsOf(in).size(), 1u);
  EXPECT_EQ(features::l4::specsOf(in)[0].protocol, ir::kTCP);
  EXPECT_EQ(features::l4::specsOf(in)[0].ports.size(), 2u);
  // The L4 spec keeps the location of the definition it came from.
  EXPECT_EQ(c->sources.describe(features::l4::specsOf(in)[0].range.begin), "b.policy:3:14");

  const auto& out = p.rules[1];
  EXPECT_EQ(out.direction, ir::Direction::Egress);
  ASSERT_EQ(out.peers.size(), 2u);
  EXPECT_EQ(out.peers[0].cidr.prefix.str(), "198.18.53.0/24");
  EXPECT_EQ(out.peers[1].cidr.prefix.str(), "2001:2::53/128");
  ASSERT_EQ(features::l4::specsOf(out).size(), 2u);
  EXPECT_EQ(features::l4::specsOf(out)[0].protocol, ir::kUDP);
  EXPECT_EQ(features::l4::specsOf(out)[1].protocol, ir::kTCP);
}

TEST(Sema, NestedDefinitionsResolve) {
  auto c = compile(withRule("egress", "allow to outside on web",
                            "peers lab = cidr 198.18.0.0/16\n"
                            "peers outside = lab, world\n"
                            "ports tls = tcp/443\n"
                            "ports web = tcp/80, tls\n"));
  ASSERT_TRUE(c->checked) << rendered(*c);
  const auto& r = c->checked->policies.at(0).rules.at(0);
  ASSERT_EQ(r.peers.size(), 2u);
  EXPECT_EQ(r.peers[0].kind, sema::PeerSpec::Kind::Cidr);
  EXPECT_EQ(r.peers[1].kind, sema::PeerSpec::Kind::Entity);
  EXPECT_EQ(r.peers[1].entity, ast::Entity::World);
  ASSERT_EQ(features::l4::specsOf(r).size(), 2u);
  EXPECT_EQ(features::l4::specsOf(r)[1].ports.at(0).first, 443);
}

// Definitions are resolved with an explicit stack, deepest first: a chain as
// long as the file allows must not overflow the call stack (it did at about
// 10,000 with recursive resolution).
TEST(Sema, AChainOfTenThousandDefinitionsResolves) {
  constexpr int kLength = 10000;
  std::string text;
  for (int i = 0; i < kLength; ++i) {
    text += "peers p" + std::to_string(i) + " = p" + std::to_string(i + 1) + "\n";
    text += "ports q" + std::to_string(i) + " = q" + std::to_string(i + 1) + "\n";
  }
  text += "peers p" + std::to_string(kLength) + " = world\n";
  text += "ports q" + std::to_string(kLength) + " = tcp/80\n";
  text += "policy p { selects {} egress { allow to p0 on q0 } }\n";
  auto c = compile(text);
  ASSERT_TRUE(c->checked) << rendered(*c);
  const auto& r = c->checked->policies.at(0).rules.at(0);
  ASSERT_EQ(r.peers.size(), 1u);
  EXPECT_EQ(r.peers[0].kind, sema::PeerSpec::Kind::Entity);
  EXPECT_EQ(r.peers[0].entity, ast::Entity::World);
  ASSERT_EQ(features::l4::specsOf(r).size(), 1u);
  EXPECT_EQ(features::l4::specsOf(r)[0].ports.at(0).first, 80);
}

TEST(Sema, ACycleThroughTenThousandDefinitionsIsReportedOnce) {
  constexpr int kLength = 10000;
  std::string text;
  for (int i = 0; i < kLength; ++i)
    text += "peers c" + std::to_string(i) + " = c" + std::to_string((i + 1) % kLength) + "\n";
  // Resolution starts at the first name in order, c0, and closes the cycle at
  // the last definition's reference back to it.
  expectDiagnostics(text, {"a.policy:10000:15: error: definition 'c0' is defined in terms of itself | hint: "
                           "definitions may use other definitions, but not in a cycle"});
}

// Each definition uses the next one twice: 40 lines would expand to 2^40
// peers. The expansion has a budget, reported where it runs out.
TEST(Sema, DefinitionsThatDoubleAtEveryStepAreRefused) {
  std::string text;
  for (int i = 0; i < 40; ++i)
    text += "peers d" + std::to_string(i) + " = d" + std::to_string(i + 1) + ", d" + std::to_string(i + 1) + "\n";
  text += "peers d40 = world\n";
  text += "policy p { selects {} egress { allow to d0 } }\n";
  auto c = compile(text);
  EXPECT_FALSE(c->checked);
  auto lines = diagnostics(*c);
  ASSERT_EQ(lines.size(), 1u) << rendered(*c);
  EXPECT_NE(lines[0].find(": error: definitions expand to more than 1,000,000 peers and protocol items | hint: "),
            std::string::npos)
      << lines[0];
}

TEST(Sema, ARuleRepeatingABigDefinitionIsRefused) {
  // 2^10 ports, used 1,000 times by one rule: 1,024,000 protocol items.
  std::string text;
  for (int i = 0; i < 10; ++i)
    text += "ports d" + std::to_string(i) + " = d" + std::to_string(i + 1) + ", d" + std::to_string(i + 1) + "\n";
  text += "ports d10 = tcp/80\n";
  std::string uses = "d0";
  for (int i = 1; i < 1000; ++i) uses += ", d0";
  text += "policy p { selects {} egress { allow to world on " + uses + " } }\n";
  auto c = compile(text);
  EXPECT_FALSE(c->checked);
  EXPECT_EQ(c->diags.errorCount(), 1u) << rendered(*c);
}

TEST(Sema, PodsPeerInADefinitionTakesTheUsingPolicysNamespace) {
  auto c = compile(Files{
      {"common.policy", "peers web-pods = pods { app = web }, pods { app = db } in namespace data\n"},
      {"x.policy", "namespace x\npolicy a { selects {} ingress { allow from web-pods } }\n"},
      {"y.policy",
       "namespace y\npolicy a { selects {} ingress { allow from web-pods } }\n"
       "policy cw { clusterwide selects {} ingress { allow from web-pods } }\n"}});
  ASSERT_TRUE(c->checked) << rendered(*c);
  const auto& ps = c->checked->policies;
  ASSERT_EQ(ps.size(), 3u);
  EXPECT_EQ(ps[0].key(), "cw");
  EXPECT_EQ(ps[1].key(), "x/a");
  EXPECT_EQ(ps[2].key(), "y/a");

  const auto& x = ps[1].rules.at(0).peers;
  ASSERT_EQ(x.size(), 2u);
  EXPECT_EQ(x[0].scope, ir::NamespaceScope::Exact);
  EXPECT_EQ(x[0].ns, "x");
  EXPECT_EQ(x[1].ns, "data") << "an explicit namespace is kept";
  const auto& y = ps[2].rules.at(0).peers;
  EXPECT_EQ(y[0].scope, ir::NamespaceScope::Exact);
  EXPECT_EQ(y[0].ns, "y");
  EXPECT_EQ(y[1].ns, "data");
  const auto& cw = ps[0].rules.at(0).peers;
  EXPECT_EQ(cw[0].scope, ir::NamespaceScope::Any) << "clusterwide: pods in every namespace";
  EXPECT_EQ(cw[0].ns, "");
  EXPECT_EQ(cw[1].scope, ir::NamespaceScope::Exact);
  EXPECT_EQ(cw[1].ns, "data");
}

TEST(Sema, NamespacePeers) {
  auto c = compile(withRule("ingress", "allow from namespaces { team = a }, namespaces {}, namespace monitoring"));
  ASSERT_TRUE(c->checked) << rendered(*c);
  const auto& peers = c->checked->policies.at(0).rules.at(0).peers;
  ASSERT_EQ(peers.size(), 3u);
  EXPECT_EQ(peers[0].scope, ir::NamespaceScope::Selector);
  EXPECT_EQ(peers[0].namespaces.str(), "{team = a}");
  EXPECT_TRUE(peers[0].pods.empty()) << "every pod in those namespaces";
  EXPECT_EQ(peers[1].scope, ir::NamespaceScope::Any) << "`namespaces {}` is every namespace";
  EXPECT_EQ(peers[2].scope, ir::NamespaceScope::Exact);
  EXPECT_EQ(peers[2].ns, "monitoring");
}

TEST(Sema, AnyAmongProtocolsCollapsesToAny) {
  auto c = compile(withRule("ingress", "allow from world on tcp/80, any, udp/53", "ports also-any = icmp, any\n") +
                   "policy q { selects {} egress { allow to world on tcp/443, also-any } }\n"
                   "policy r { selects {} egress { allow to world on tcp/443, udp } }\n");
  ASSERT_TRUE(c->checked) << rendered(*c);
  const auto& ps = c->checked->policies;
  ASSERT_EQ(ps.size(), 3u);
  EXPECT_TRUE(features::l4::specsOf(ps[0].rules.at(0)).empty()) << "empty = any protocol, as without `on`";
  EXPECT_TRUE(features::l4::specsOf(ps[1].rules.at(0)).empty()) << "also through a ports definition";
  ASSERT_EQ(features::l4::specsOf(ps[2].rules.at(0)).size(), 2u);
  EXPECT_TRUE(features::l4::specsOf(ps[2].rules.at(0))[1].allPorts);
}

TEST(Sema, RuleTextIsWhitespaceFolded) {
  auto c = compile(withRule("ingress", "allow   from\tworld\n      on   tcp/80"));
  ASSERT_TRUE(c->checked) << rendered(*c);
  EXPECT_EQ(c->checked->policies.at(0).rules.at(0).text, "allow from world on tcp/80");
  EXPECT_EQ(c->checked->policies.at(0).rules.at(0).action, ir::Action::Allow);
}

TEST(Sema, NameValidationHelpers) {
  EXPECT_TRUE(names::isValidNamespaceName("kube-system"));
  EXPECT_TRUE(names::isValidNamespaceName(std::string(63, 'a')));
  EXPECT_FALSE(names::isValidNamespaceName(std::string(64, 'a')));
  EXPECT_FALSE(names::isValidNamespaceName("Kube"));
  EXPECT_FALSE(names::isValidNamespaceName("-a"));
  EXPECT_FALSE(names::isValidNamespaceName(""));
  EXPECT_EQ(names::labelKeyProblem("app"), "");
  EXPECT_NE(names::labelKeyProblem("k8s:app"), "") << "sources are stripped before the key is checked";
  EXPECT_EQ(names::labelKeyProblem("app.kubernetes.io/name"), "");
  EXPECT_EQ(names::labelKeyProblem("a..b/name"), "the prefix before '/' must be a DNS name");
  EXPECT_EQ(names::labelKeyProblem(""), "the name part is empty");
}

}  // namespace

// ---- follow-ups from review ---------------------------------------------

TEST(Sema, CiliumK8sSourcePrefixMatchesKubernetesLabels) {
  pipeline::Compilation c;
  c.inventory.endpoints.push_back({"a", "default", {{"app", "web"}}, {}, {}, "a", "", std::nullopt});
  pipeline::runText({{"a.policy", "policy p {\n  selects { k8s:app = web }\n  ingress {}\n}\n"}}, c);
  ASSERT_TRUE(c.ir) << rendered(c);
  ASSERT_EQ(c.ir->classes.size(), 1u) << "`k8s:app` must select the endpoint labelled app=web";
}

TEST(Sema, OtherLabelSourcesAreRefused) {
  expectDiagnostics("policy p {\n  selects { reserved:host }\n}\n",
                    {"a.policy:2:13: error: label source 'reserved' is not supported | hint: membrane matches "
                     "Kubernetes labels: write the key without a source, or with `k8s:`"});
}

TEST(Sema, DefinitionNamedLikeAKeywordIsRefused) {
  expectDiagnostics("peers \"world\" = cidr 198.18.0.0/15\n",
                    {"a.policy:1:7: error: 'world' is a keyword and cannot name a definition | hint: a reference to "
                     "it would mean the keyword; choose another name"});
}

TEST(Sema, NodesCannotNameADefinition) {
  // `allow to nodes ...` starts a nodes peer, so a definition of that name
  // could never be referred to.
  expectDiagnostics("selector nodes = { role = worker }\npeers \"nodes\" = cidr 198.18.0.0/15\n",
                    {"a.policy:1:10: error: 'nodes' is a keyword and cannot name a definition | hint: a reference to "
                     "it would mean the keyword; choose another name",
                     "a.policy:2:7: error: 'nodes' is a keyword and cannot name a definition | hint: a reference to "
                     "it would mean the keyword; choose another name"});
}

TEST(Sema, ANodesPeerIsCheckedInEitherDirectionAndEveryTier) {
  pipeline::Compilation c;
  pipeline::runText({{"a.policy", "selector workers = { role = worker }\n"
                                  "policy p {\n  clusterwide\n  tier admin priority 3\n  selects {}\n"
                                  "  ingress { allow from nodes workers }\n  egress { pass to nodes {} }\n}\n"}},
                    c);
  ASSERT_FALSE(c.diags.hasErrors()) << rendered(c);
  // Resolved by the pipeline (no node in this inventory: nothing left, with
  // a warning each).
  ASSERT_TRUE(c.checked);
  EXPECT_TRUE(c.checked->policies[0].rules[0].peers.empty());
  EXPECT_EQ(diagnostics(c), (Lines{"a.policy:6:24: warning: no node of the inventory matches this peer: it matches "
                                   "nothing | hint: a nodes peer stands for the addresses of the cluster's nodes: "
                                   "give the Node manifests (`kubectl get nodes -o yaml`) or an inventory file's "
                                   "`nodes` list (docs/inventory.md)",
                                   "a.policy:7:20: warning: no node of the inventory matches this peer: it matches "
                                   "nothing | hint: a nodes peer stands for the addresses of the cluster's nodes: "
                                   "give the Node manifests (`kubectl get nodes -o yaml`) or an inventory file's "
                                   "`nodes` list (docs/inventory.md)"}));
  // Before the pipeline resolves it, the checker's peer carries the selector.
  SourceManager sources;
  DiagnosticEngine diags(sources);
  FileId id = sources.add("b.policy", "policy p {\n  selects {}\n  egress { allow to nodes { k8s:zone = a } }\n}\n");
  auto file = frontend::parseFile(id, sources, diags);
  ASSERT_TRUE(file);
  ast::Program program;
  program.files.push_back(std::move(*file));
  auto checked = sema::check(program, sources, diags);
  ASSERT_TRUE(checked);
  const auto& spec = checked->policies[0].rules[0].peers.at(0);
  EXPECT_EQ(spec.kind, sema::PeerSpec::Kind::Nodes);
  EXPECT_EQ(spec.nodes.str(), "{zone = a}");  // Cilium's `k8s:` source dropped, as for pods
}

TEST(Sema, RepeatedPolicyStatementsAreErrors) {
  expectDiagnostics("policy p {\n  namespace a\n  namespace b\n  selects {}\n  mode audit\n  mode enforce\n}\n",
                    {"a.policy:3:3: error: policy 'p' has more than one `namespace` | hint: keep one of them",
                     "a.policy:6:3: error: policy 'p' has more than one `mode` | hint: keep one of them"});
}

TEST(Sema, RuleTextDropsComments) {
  pipeline::Compilation c;
  pipeline::runText({{"a.policy", "policy p {\n  selects {}\n  ingress {\n    allow from world # the internet\n"
                                "      on tcp/80 /* web */, tcp/443\n  }\n}\n"}},
                  c);
  ASSERT_TRUE(c.ir) << rendered(c);
  ASSERT_EQ(c.ir->rules.size(), 1u);
  EXPECT_EQ(c.ir->rules.begin()->second.text, "allow from world on tcp/80 , tcp/443");
}

TEST(Sema, HugePortIsQuotedAsWritten) {
  expectDiagnostics(withRule("ingress", "allow from world on tcp/99999999999"),
                    {"a.policy:4:29: error: port 99999999999 is out of range (1-65535)"});
}

// ---- tiers (docs/language.md, "Tiers") ---------------------------------------------

TEST(SemaTiers, ATierPolicyMustBeClusterwide) {
  expectDiagnostics("policy p {\n  tier admin priority 3\n  selects {}\n  ingress {}\n}\n",
                    {"a.policy:2:3: error: an admin-tier policy must be clusterwide | hint: tiers hold cluster "
                     "administrators' policies (AdminNetworkPolicy, BaselineAdminNetworkPolicy), which belong to no "
                     "namespace: add `clusterwide`"});
}

TEST(SemaTiers, APriorityAboveOneThousandIsRefusedAtItsNumber) {
  expectDiagnostics("policy p {\n  clusterwide\n  tier admin priority 1001\n  selects {}\n}\n",
                    {"a.policy:3:23: error: priority 1001 is out of range | hint: priorities are 0 to 1000 "
                     "(AdminNetworkPolicy's); a lower number decides first"});
  expectDiagnostics("policy p {\n  clusterwide\n  tier admin priority 99999999999999999999\n  selects {}\n}\n",
                    {"a.policy:3:23: error: priority 99999999999999999999 is out of range | hint: priorities are 0 "
                     "to 1000 (AdminNetworkPolicy's); a lower number decides first"});
}

TEST(SemaTiers, PassIsAnAdminTierActionOnly) {
  expectDiagnostics(withRule("ingress", "pass from all"),
                    {"a.policy:4:5: error: `pass` is an action of admin-tier policies | hint: `pass` hands a flow "
                     "from the admin tier to the ordinary policies; write `allow` or `deny`"});
  expectDiagnostics("policy default {\n  clusterwide\n  tier baseline\n  selects {}\n  egress {\n    pass to all\n  }\n}\n",
                    {"a.policy:6:5: error: `pass` is an action of admin-tier policies | hint: the baseline tier is "
                     "the last: its rules allow or deny"});
}

TEST(SemaTiers, TierPoliciesHaveNoAuditModeProcessesOrConditions) {
  expectDiagnostics("policy p {\n  clusterwide\n  tier baseline\n  mode audit\n  selects {}\n}\n",
                    {"a.policy:4:8: error: audit mode is not supported in a baseline-tier policy | hint: enforce the "
                     "policy, or test it as an ordinary policy in audit mode first | note a.policy:3:3: the tier is "
                     "given here"});
  auto c = compile(R"(policy p {
  clusterwide
  tier admin priority 1
  selects {}
  processes { exe "/bin/a" }
  egress {
    allow to world on tcp/443 with http { GET "/" }
    deny to dns "example.com"
  }
}
)");
  Lines d = diagnostics(*c);
  ASSERT_EQ(d.size(), 3u) << rendered(*c);
  EXPECT_EQ(d[0], "a.policy:5:3: error: a `processes` clause is not supported in an admin-tier policy | hint: put "
                  "the clause in an ordinary policy selecting the same endpoints | note a.policy:3:3: the tier is "
                  "given here");
  EXPECT_EQ(d[1], "a.policy:7:31: error: `with http` is not supported in tier policies | hint: tier rules match "
                  "peers and ports (as AdminNetworkPolicy's do); put the condition in an ordinary policy, which the "
                  "admin tier can `pass` to");
  EXPECT_EQ(d[2], "a.policy:8:13: error: `dns` peers are not supported in tier policies | hint: name the "
                  "destinations by cidr, or allow them by name in an ordinary policy");
}

TEST(SemaTiers, SelectsInNamespacesIsForClusterwidePolicies) {
  expectDiagnostics("policy p {\n  selects {} in namespaces { env = prod }\n  ingress {}\n}\n",
                    {"a.policy:2:17: error: `selects ... in` is for clusterwide policies | hint: a namespaced "
                     "policy selects endpoints of its own namespace; add `clusterwide` to select in other "
                     "namespaces"});
  auto c = compile("policy p {\n  clusterwide\n  selects { app = db } in namespace shop\n  ingress {}\n}\n");
  ASSERT_TRUE(c->checked) << rendered(*c);
  const auto& pol = c->checked->policies.at(0);
  ASSERT_TRUE(pol.namespaces);
  EXPECT_EQ(pol.namespaces->str(), "{kubernetes.io/metadata.name = shop}");
}

TEST(SemaTiers, TwoAdminPoliciesOfOnePriorityAreDecidedByNameWithAWarning) {
  expectDiagnostics("policy b { clusterwide tier admin priority 7 selects {} ingress {} }\n"
                    "policy a { clusterwide tier admin priority 7 selects {} ingress {} }\n",
                    {"a.policy:1:24: warning: policies a and b share priority 7: a's rules decide first (by name) | "
                     "hint: Kubernetes leaves the order of admin policies of one priority undefined; give each its "
                     "own priority | note a.policy:2:24: the priority of a is here"});
}

TEST(SemaTiers, NewKeywordsStayUsableAsLabelWords) {
  auto c = compile("policy p {\n  selects { tier = admin, pass, priority in (baseline) }\n"
                   "  ingress { allow from pods { role = pass } }\n}\n");
  EXPECT_FALSE(c->diags.hasErrors()) << rendered(*c);
}

}  // namespace membrane
