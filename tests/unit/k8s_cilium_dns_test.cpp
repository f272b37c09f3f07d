// Cilium's DNS fields → membrane (compiler/k8s/cilium_policy.cpp,
// docs/kubernetes.md "Cilium", docs/dns.md): `toFQDNs` becomes a name peer,
// `toPorts[].rules.dns` a `with dns { ... }` condition on the rule of that
// entry's ports, and whatever does not map is an error at its line and
// column. The generated text is compared as the converter writes it (the
// checker's side of names is docs/dns.md's and tested with the language).
#include "k8s/import.h"

#include <gtest/gtest.h>

#include <string>

#include "k8s_test_support.h"

namespace membrane::k8s {
namespace {

using fixtures::convert;
using fixtures::Converted;
using fixtures::Manifests;
using fixtures::TempDir;

const std::string kHead = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: shop}\n"
                          "spec:\n  endpointSelector: {matchLabels: {app: api}}\n";

// The egress section's lines of a converted policy `p` in namespace shop
// selecting app=api.
std::string policyText(const std::string& egress) {
  return "policy p {\n  namespace shop\n  selects { app = api }\n  egress {\n" + egress + "  }\n}\n";
}

TEST(K8sCiliumDns, ToFqdnsBecomesOneNamePeerWithTheRuleItsPorts) {
  Converted c = convert(kHead + R"(  egress:
    - toFQDNs:
        - matchName: api.stripe.com
        - matchPattern: "*.s3.amazonaws.com"
      toPorts: [{ports: [{port: "443", protocol: TCP}]}]
)");
  ASSERT_FALSE(c.errors) << c.diagnostics;
  EXPECT_EQ(c.text, policyText("    allow to\n"
                               "      dns \"api.stripe.com\"\n"
                               "        , \"*.s3.amazonaws.com\"\n"
                               "      on\n"
                               "      tcp/443\n"));
  // One peer (the name list), one protocol item, no dns condition.
  EXPECT_EQ(c.shape, "p|shop|1|E a1/1\n");
}

TEST(K8sCiliumDns, EachNameLinePointsAtItsManifestNode) {
  Converted c = convert(kHead + R"(  egress:
    - toFQDNs:
        - matchName: api.stripe.com
        - matchPattern: "*.s3.amazonaws.com"
)");
  ASSERT_FALSE(c.errors) << c.diagnostics;
  EXPECT_NE(c.withLines.find("dns \"api.stripe.com\" @8\n"), std::string::npos) << c.withLines;
  EXPECT_NE(c.withLines.find(", \"*.s3.amazonaws.com\" @9\n"), std::string::npos) << c.withLines;
}

TEST(K8sCiliumDns, NamesAreNormalizedToLowercaseWithoutTheTrailingDot) {
  Converted c = convert(kHead + "  egress: [{toFQDNs: [{matchName: API.Stripe.COM.}, {matchPattern: \"*.S3.Example.\"}]}]\n");
  ASSERT_FALSE(c.errors) << c.diagnostics;
  EXPECT_EQ(c.text, policyText("    allow to\n      dns \"api.stripe.com\"\n        , \"*.s3.example\"\n"));
}

TEST(K8sCiliumDns, ToFqdnsWithoutPortsAllowsEveryPortAsCiliumDoes) {
  Converted c = convert(kHead + "  egress: [{toFQDNs: [{matchPattern: \"api-*.example.com\"}]}]\n");
  ASSERT_FALSE(c.errors) << c.diagnostics;
  EXPECT_EQ(c.text, policyText("    allow to\n      dns \"api-*.example.com\"\n"));
}

TEST(K8sCiliumDns, RulesDnsBecomesADnsConditionOnUdpAndTcpForProtocolAny) {
  Converted c = convert(kHead + R"(  egress:
    - toEndpoints:
        - matchLabels: {"k8s:io.kubernetes.pod.namespace": kube-system, "k8s:k8s-app": kube-dns}
      toPorts:
        - ports: [{port: "53", protocol: ANY}]
          rules:
            dns:
              - matchPattern: "*.stripe.com"
              - matchName: "api.example.com."
)");
  ASSERT_FALSE(c.errors) << c.diagnostics;
  EXPECT_EQ(c.text, policyText("    allow to\n"
                               "      pods { k8s-app = kube-dns } in namespace kube-system\n"
                               "      on\n"
                               "      udp/53\n"
                               "      , tcp/53\n"
                               "      with dns {\n"
                               "        \"*.stripe.com\"\n"
                               "        , \"api.example.com\"\n"
                               "      }\n"));
  EXPECT_EQ(c.shape, "p|shop|1|E a1/2+with\n");
  EXPECT_NE(c.withLines.find("\"*.stripe.com\" @13\n"), std::string::npos) << c.withLines;
}

TEST(K8sCiliumDns, RulesDnsWithoutAProtocolIsAnyToo) {
  Converted c = convert(kHead + "  egress: [{toPorts: [{ports: [{port: \"53\"}], rules: {dns: [{matchPattern: \"*\"}]}}]}]\n");
  ASSERT_FALSE(c.errors) << c.diagnostics;
  // No peer: Cilium's L3 wildcard, `all`.
  EXPECT_EQ(c.text, policyText("    allow to\n      all\n      on\n      udp/53\n      , tcp/53\n"
                               "      with dns {\n        \"*\"\n      }\n"));
}

TEST(K8sCiliumDns, OnlyTheToPortsEntryWithDnsRulesGetsTheCondition) {
  // Cilium: DNS on 53/UDP is read and restricted; 8080/TCP to the same peer is
  // plain L4. Two membrane rules with the same peer.
  Converted c = convert(kHead + R"(  egress:
    - toEndpoints: [{matchLabels: {app: dns}}]
      toPorts:
        - ports: [{port: "53", protocol: UDP}]
          rules: {dns: [{matchName: a.example}]}
        - ports: [{port: "8080", protocol: TCP}]
)");
  ASSERT_FALSE(c.errors) << c.diagnostics;
  EXPECT_EQ(c.text, policyText("    allow to\n      pods { app = dns }\n      on\n      tcp/8080\n"
                               "    allow to\n      pods { app = dns }\n      on\n      udp/53\n"
                               "      with dns {\n        \"a.example\"\n      }\n"));
  EXPECT_EQ(c.shape, "p|shop|1|E a1/1 a1/1+with\n");
}

TEST(K8sCiliumDns, EveryToPortsEntryWithDnsRulesLeavesNoRuleForEveryPort) {
  // With each entry carrying dns rules, nothing is left for a rule without
  // ports (which would allow every port to the peer).
  Converted c = convert(kHead + R"(  egress:
    - toEndpoints: [{matchLabels: {app: dns}}]
      toPorts:
        - ports: [{port: "53", protocol: UDP}]
          rules: {dns: [{matchName: a.example}]}
        - ports: [{port: "5353", protocol: TCP}]
          rules: {dns: [{matchName: b.example}]}
)");
  ASSERT_FALSE(c.errors) << c.diagnostics;
  EXPECT_EQ(c.shape, "p|shop|1|E a1/1+with a1/1+with\n");
  EXPECT_EQ(c.text.find("    allow to\n      pods { app = dns }\n    allow"), std::string::npos) << c.text;
}

TEST(K8sCiliumDns, ANamedDnsPortIsKeptForTheCheckerToResolve) {
  Converted c = convert(kHead + "  egress: [{toPorts: [{ports: [{port: dns, protocol: UDP}], rules: {dns: [{matchName: a.b}]}}]}]\n");
  ASSERT_FALSE(c.errors) << c.diagnostics;
  EXPECT_NE(c.text.find("      udp/dns\n      with dns {"), std::string::npos) << c.text;
}

// A policy in the shape of Cilium's DNS documentation (written for this test):
// a pod may look up names under one domain through kube-dns, and connect to
// some of them on 443, plus its own service by label.
TEST(K8sCiliumDns, ACiliumFqdnPolicyConvertsWhole) {
  Converted c = convert(R"(apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: payments-egress
  namespace: shop
spec:
  endpointSelector:
    matchLabels: {app: payments}
  egress:
    - toEndpoints:
        - matchLabels:
            "k8s:io.kubernetes.pod.namespace": kube-system
            "k8s:k8s-app": kube-dns
      toPorts:
        - ports:
            - {port: "53", protocol: UDP}
            - {port: "53", protocol: TCP}
          rules:
            dns:
              - matchPattern: "*.payments.example"
              - matchName: status.payments.example
    - toFQDNs:
        - matchName: api.payments.example
        - matchPattern: "eu-*.payments.example"
      toPorts:
        - ports: [{port: "443", protocol: TCP}]
    - toEndpoints: [{matchLabels: {app: ledger}}]
      toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
)");
  ASSERT_FALSE(c.errors) << c.diagnostics;
  EXPECT_EQ(c.text, R"(policy payments-egress {
  namespace shop
  selects { app = payments }
  egress {
    allow to
      pods { k8s-app = kube-dns } in namespace kube-system
      on
      udp/53
      , tcp/53
      with dns {
        "*.payments.example"
        , "status.payments.example"
      }
    allow to
      dns "api.payments.example"
        , "eu-*.payments.example"
      on
      tcp/443
    allow to
      pods { app = ledger }
      on
      tcp/8080
  }
}
)");
  EXPECT_EQ(c.shape, "payments-egress|shop|1|E a1/2+with a1/1 a1/1\n");
}

// ---- errors ------------------------------------------------------------------------------

// Compiles one Cilium object (no cluster) and returns the diagnostics.
std::string errorsOf(const std::string& spec) {
  Manifests m(kHead + spec, false);
  EXPECT_EQ(m.compilation().outcome(), pipeline::Outcome::PolicyErrors) << spec;
  return m.diagnostics();
}

TEST(K8sCiliumDnsErrors, WhatDoesNotMapIsAnErrorAtItsLineAndColumn) {
  struct Case {
    std::string spec;
    std::string expected;  // "LINE:COL: error: ..." within m.yaml; line 6 is the first after the selector
  };
  const std::vector<Case> cases = {
      // DNS rules on ingress.
      {"  ingress: [{toPorts: [{ports: [{port: \"53\"}], rules: {dns: [{matchName: a.b}]}}]}]\n",
       "6:61: error: spec.ingress[].toPorts[].rules.dns: DNS rules apply to egress only"},
      // An FQDN selector with neither key, or both.
      {"  egress: [{toFQDNs: [{}]}]\n", "6:23: error: spec.egress[].toFQDNs[]: needs `matchName` or `matchPattern`"},
      {"  egress: [{toFQDNs: [{matchName: a.b, matchPattern: \"*.b\"}]}]\n",
       "6:23: error: spec.egress[].toFQDNs[]: give `matchName` or `matchPattern`, not both"},
      {"  egress: [{toFQDNs: [{matchNames: a.b}]}]\n",
       "6:24: error: spec.egress[].toFQDNs[]: unknown field `matchNames`"},
      // A '*' in a name; an invalid pattern at its offending character,
      // plain and quoted.
      {"  egress: [{toFQDNs: [{matchName: a*.b}]}]\n",
       "6:36: error: spec.egress[].toFQDNs[].matchName: 'a*.b' holds a '*'"},
      {"  egress: [{toFQDNs: [{matchPattern: x.a*b*.com}]}]\n",
       "6:43: error: spec.egress[].toFQDNs[].matchPattern: 'x.a*b*.com': label \"a*b*\" has more than one '*'"},
      {"  egress: [{toFQDNs: [{matchPattern: \"x.a*b*.com\"}]}]\n", "6:44: error:"},
      {"  egress: [{toFQDNs: [{matchPattern: \"**.example.com\"}]}]\n",
       "6:40: error: spec.egress[].toFQDNs[].matchPattern: '**.example.com': \"**\" is not a pattern"},
      {"  egress: [{toFQDNs: [{matchPattern: \"**.example.com\"}]}]\n",
       "hint: Cilium's `**.` (any number of labels) has no membrane equivalent"},
      {"  egress: [{toFQDNs: [{matchName: \"a..b\"}]}]\n", "6:38: error: spec.egress[].toFQDNs[].matchName: 'a..b': empty label"},
      {"  egress: [{toFQDNs: [{matchName: \"b\\u00fc.de\"}]}]\n",
       "6:35: error: spec.egress[].toFQDNs[].matchName: 'bü.de': character byte 0xc3 is not allowed"},
      {"  egress: [{toFQDNs: [{matchName: \"\"}]}]\n", "6:35: error: spec.egress[].toFQDNs[].matchName: '': the name is empty"},
      {"  egress: [{toFQDNs: [{matchName: 80}]}]\n", "6:35: error: spec.egress[].toFQDNs[].matchName:"},
      {"  egress: [{toPorts: [{ports: [{port: \"53\"}], rules: {dns: [{matchPattern: \"a b\"}]}}]}]\n",
       "6:78: error: spec.egress[].toPorts[].rules.dns[].matchPattern: 'a b': character ' '"},
      // toFQDNs beside another peer kind, which Cilium refuses.
      {"  egress: [{toEndpoints: [{}], toFQDNs: [{matchName: a.b}]}]\n",
       "6:41: error: spec.egress[].toFQDNs: Cilium does not combine toFQDNs with other peers"},
      {"  egress: [{toCIDR: [198.18.0.0/24], toFQDNs: [{matchName: a.b}]}]\n", "does not combine toFQDNs"},
      // Deny rules have neither.
      {"  egressDeny: [{toFQDNs: [{matchName: a.b}]}]\n",
       "6:17: error: spec.egressDeny[]: `toFQDNs` is not supported: Cilium's egressDeny rules have no toFQDNs"},
      {"  egressDeny: [{toPorts: [{ports: [{port: \"53\"}], rules: {dns: [{matchName: a.b}]}}]}]\n",
       "spec.egressDeny[].toPorts[]: `rules` is not supported: Cilium's deny rules have no L7 rules"},
      // DNS rules need their ports, on UDP or TCP.
      {"  egress: [{toPorts: [{rules: {dns: [{matchName: a.b}]}}]}]\n",
       "6:23: error: spec.egress[].toPorts[]: `rules.dns` needs `ports`"},
      {"  egress: [{toPorts: [{ports: [], rules: {dns: [{matchName: a.b}]}}]}]\n",
       "6:31: error: spec.egress[].toPorts[].ports: `rules.dns` needs ports"},
      {"  egress: [{toPorts: [{ports: [{port: \"0\"}], rules: {dns: [{matchName: a.b}]}}]}]\n",
       "6:39: error: spec.egress[].toPorts[].ports[]: `rules.dns` needs a port"},
      {"  egress: [{toPorts: [{ports: [{protocol: UDP}], rules: {dns: [{matchName: a.b}]}}]}]\n",
       "6:32: error: spec.egress[].toPorts[].ports[]: `rules.dns` needs a port"},
      {"  egress: [{toPorts: [{ports: [{port: \"53\", protocol: SCTP}], rules: {dns: [{matchName: a.b}]}}]}]\n",
       "6:55: error: spec.egress[].toPorts[].ports[].protocol: DNS rules need UDP, TCP or ANY"},
      {"  egress: [{toPorts: [{ports: [{port: \"53\"}], rules: {dns: []}}]}]\n",
       "6:60: error: spec.egress[].toPorts[].rules.dns: an empty list allows no name"},
      // The other L7 rules stay errors (HTTP: k8s_cilium_http_test.cpp).
      {"  egress: [{toPorts: [{ports: [{port: \"80\"}], rules: {kafka: [{topic: t}]}}]}]\n",
       "6:55: error: spec.egress[].toPorts[].rules: `kafka` is not supported: Kafka rules are L7 and not supported "
       "yet"},
  };
  for (const auto& c : cases) {
    std::string d = errorsOf(c.spec);
    EXPECT_NE(d.find(c.expected), std::string::npos) << "spec:\n" << c.spec << "diagnostics:\n" << d;
  }
}

}  // namespace
}  // namespace membrane::k8s
