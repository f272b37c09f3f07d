// AdminNetworkPolicy and BaselineAdminNetworkPolicy → membrane tier policies
// (compiler/k8s/admin_network_policy.cpp, docs/kubernetes.md
// "AdminNetworkPolicy and BaselineAdminNetworkPolicy").
//
// Three kinds of test: the text the converter writes for each field (and the
// manifest line each text line comes from), the errors for everything the
// API server refuses or membrane cannot enforce (with file:line:col), and
// truth tables on the small cluster of k8s_test_support.h that check the
// converted policies decide as Kubernetes' tiers do: admin rules by
// priority first, then NetworkPolicies, then the baseline.
#include "k8s/import.h"

#include <gtest/gtest.h>

#include <string>

#include "k8s_test_support.h"
#include "pipeline/pipeline.h"

namespace membrane::k8s {
namespace {

using fixtures::convert;
using fixtures::Converted;
using fixtures::Manifests;
using fixtures::TempDir;
using ir::Traffic;

const Traffic kTcp80{ir::kTCP, 80}, kTcp8080{ir::kTCP, 8080}, kTcp9090{ir::kTCP, 9090}, kUdp53{ir::kUDP, 53};

#define EXPECT_ALLOWED(m, src, dst, t) EXPECT_TRUE((m).allowed(src, dst, t)) << src << " -> " << dst
#define EXPECT_DENIED(m, src, dst, t) EXPECT_FALSE((m).allowed(src, dst, t)) << src << " -> " << dst

const std::string kAnpHead = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\n";
const std::string kBanpHead = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\n";

// An AdminNetworkPolicy `p` of priority 10 whose subject is every pod of
// namespace shop, with `rules` (YAML at two spaces, after the subject).
std::string anp(const std::string& rules, const std::string& name = "p", int priority = 10) {
  return kAnpHead + "metadata: {name: " + name + "}\nspec:\n  priority: " + std::to_string(priority) +
         "\n  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}\n" + rules;
}

// The text of policy `p` as anp() writes it, with `sections`.
std::string anpText(const std::string& sections) {
  return "policy p {\n  clusterwide\n  tier admin priority 10\n  selects {} in namespace shop\n" + sections + "}\n";
}

// ---- the text for each field ------------------------------------------------------------------

TEST(K8sAdminNetworkPolicy, ANamespacesSubjectSelectsEveryPodOfThoseNamespacesInTheAdminTier) {
  Converted c = convert(kAnpHead + R"(metadata:
  name: deny-ops
spec:
  priority: 10
  subject:
    namespaces: {matchLabels: {team: web}}
  ingress:
    - name: deny-from-ops
      action: Deny
      from: [{namespaces: {matchLabels: {purpose: monitoring}}}]
)");
  ASSERT_FALSE(c.errors) << c.diagnostics;
  EXPECT_EQ(c.text,
            "policy deny-ops {\n"
            "  clusterwide\n"
            "  tier admin priority 10\n"
            "  selects {} in namespaces { team = web }\n"
            "  ingress {\n"
            "    # deny-from-ops\n"
            "    deny from\n"
            "      namespaces { purpose = monitoring }\n"
            "  }\n"
            "}\n");
  // No selector requirements, selected in a namespace selector of one, the
  // admin tier at priority 10; one deny rule with one peer.
  EXPECT_EQ(c.shape, "deny-ops|*|0|in 1|admin 10|I d1/0\n");
}

TEST(K8sAdminNetworkPolicy, APodsSubjectSelectsThosePodsInThoseNamespaces) {
  Converted c = convert(kAnpHead + R"(metadata: {name: api}
spec:
  priority: 0
  subject:
    pods:
      namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}
      podSelector: {matchExpressions: [{key: app, operator: In, values: [api, db]}]}
  egress:
    - {action: Allow, to: [{namespaces: {}}]}
)");
  ASSERT_FALSE(c.errors) << c.diagnostics;
  EXPECT_EQ(c.text,
            "policy api {\n"
            "  clusterwide\n"
            "  tier admin priority 0\n"
            "  selects { app in (api, db) }\n"
            "    in namespace shop\n"
            "  egress {\n"
            "    allow to\n"
            "      namespaces {}\n"
            "  }\n"
            "}\n");
  EXPECT_EQ(c.shape, "api|*|1|in name|admin 0|E a1/0\n");
  // The pod selector and the namespace part each point at their own node.
  EXPECT_NE(c.withLines.find("  selects { app in (api, db) } @9\n"), std::string::npos) << c.withLines;
  EXPECT_NE(c.withLines.find("    in namespace shop @8\n"), std::string::npos) << c.withLines;
}

TEST(K8sAdminNetworkPolicy, EachActionBecomesItsRuleInTheOrderWritten) {
  Converted c = convert(anp(R"(  ingress:
    - {action: Pass, from: [{namespaces: {matchLabels: {team: web}}}]}
    - {action: Allow, from: [{namespaces: {matchLabels: {purpose: monitoring}}}]}
    - {action: Deny, from: [{namespaces: {}}]}
)"));
  ASSERT_FALSE(c.errors) << c.diagnostics;
  EXPECT_EQ(c.text, anpText("  ingress {\n"
                            "    pass from\n"
                            "      namespaces { team = web }\n"
                            "    allow from\n"
                            "      namespaces { purpose = monitoring }\n"
                            "    deny from\n"
                            "      namespaces {}\n"
                            "  }\n"));
  EXPECT_EQ(c.shape, "p|*|0|in name|admin 10|I p1/0 a1/0 d1/0\n");
}

TEST(K8sAdminNetworkPolicy, EveryPeerFormBecomesAPeerOfTheRule) {
  Converted c = convert(anp(R"(  egress:
    - action: Deny
      to:
        - namespaces: {matchLabels: {kubernetes.io/metadata.name: ops}}
        - namespaces: {matchExpressions: [{key: purpose, operator: DoesNotExist}]}
        - pods:
            namespaceSelector: {}
            podSelector: {matchLabels: {app: db}}
        - networks: [198.19.0.0/16, "2001:2:ff::/48"]
)"));
  ASSERT_FALSE(c.errors) << c.diagnostics;
  EXPECT_EQ(c.text, anpText("  egress {\n"
                            "    deny to\n"
                            "      namespace ops\n"
                            "      , namespaces { !purpose }\n"
                            "      , pods { app = db }\n"
                            "        in namespaces {}\n"
                            "      , cidr 198.19.0.0/16\n"
                            "      , cidr 2001:2:ff::/48\n"
                            "  }\n"));
  // Each CIDR of `networks` is a peer of its own.
  EXPECT_EQ(c.shape, "p|*|0|in name|admin 10|E d5/0\n");
  EXPECT_NE(c.withLines.find("      , cidr 198.19.0.0/16 @15\n"), std::string::npos) << c.withLines;
  EXPECT_NE(c.withLines.find("      , pods { app = db } @14\n"), std::string::npos) << c.withLines;
  EXPECT_NE(c.withLines.find("        in namespaces {} @13\n"), std::string::npos) << c.withLines;
}

TEST(K8sAdminNetworkPolicy, EveryPortFormBecomesAProtocolItem) {
  Converted c = convert(anp(R"(  ingress:
    - action: Allow
      from: [{namespaces: {}}]
      ports:
        - portNumber: {port: 80}
        - portNumber: {protocol: UDP, port: 53}
        - portRange: {protocol: SCTP, start: 9000, end: 9010}
        - portRange: {start: 8000, end: 8100}
        - namedPort: http
)"));
  ASSERT_FALSE(c.errors) << c.diagnostics;
  // TCP is the API's default protocol; a named port has none, so it is the
  // container port of that name whatever its protocol.
  EXPECT_EQ(c.text, anpText("  ingress {\n"
                            "    allow from\n"
                            "      namespaces {}\n"
                            "      on\n"
                            "      tcp/80\n"
                            "      , udp/53\n"
                            "      , sctp/9000-9010\n"
                            "      , tcp/8000-8100\n"
                            "      , tcp/http\n"
                            "      , udp/http\n"
                            "      , sctp/http\n"
                            "  }\n"));
  EXPECT_EQ(c.shape, "p|*|0|in name|admin 10|I a1/7\n");
  EXPECT_NE(c.withLines.find("      , sctp/http @15\n"), std::string::npos) << c.withLines;
}

TEST(K8sAdminNetworkPolicy, RuleNamesBecomeCommentsAndEveryLinePointsAtTheManifest) {
  Converted c = convert(anp(R"(  ingress:
    - name: "allow monitoring } policy evil { clusterwide"
      action: Allow
      from: [{namespaces: {matchLabels: {purpose: monitoring}}}]
  egress:
    - name: ""
      action: Deny
      to: [{networks: [198.19.66.0/24]}]
)"));
  ASSERT_FALSE(c.errors) << c.diagnostics;
  // A name is text in a comment, whatever it holds; an empty one is none.
  EXPECT_EQ(c.withLines,
            "policy p { @1\n"
            "  clusterwide @1\n"
            "  tier admin priority 10 @5\n"
            "  selects {} in namespace shop @6\n"
            "  ingress { @8\n"
            "    # allow monitoring } policy evil { clusterwide @8\n"
            "    allow from @8\n"
            "      namespaces { purpose = monitoring } @10\n"
            "  } @8\n"
            "  egress { @12\n"
            "    deny to @12\n"
            "      cidr 198.19.66.0/24 @14\n"
            "  } @12\n"
            "} @1\n");
  EXPECT_EQ(c.shape, "p|*|0|in name|admin 10|I a1/0|E d1/0\n");
}

TEST(K8sAdminNetworkPolicy, ARuleNameStaysOnItsCommentLine) {
  // The Unicode line and paragraph separators are written escaped, so the
  // comment is one line for every reader. (Control characters are refused
  // in every string read from a manifest.)
  Converted c = convert(anp("  ingress: [{name: \"a\\u2028b\\u2029c \", action: Deny, from: [{namespaces: {}}]}]\n"));
  ASSERT_FALSE(c.errors) << c.diagnostics;
  EXPECT_NE(c.text.find("    # a\\u2028b\\u2029c\n    deny from\n"), std::string::npos) << c.text;
}

TEST(K8sAdminNetworkPolicy, EmptyOrAbsentRulesGiveNoSection) {
  // An ANP without rules for a direction leaves it to the tiers below.
  Converted c = convert(anp("  ingress: []\n"));
  ASSERT_FALSE(c.errors) << c.diagnostics;
  EXPECT_EQ(c.text, anpText(""));
  EXPECT_EQ(c.shape, "p|*|0|in name|admin 10\n");
}

TEST(K8sAdminNetworkPolicy, LabelKeysAndValuesThatAreKeywordsAreWrittenAsWords) {
  Converted c = convert(kAnpHead + R"(metadata: {name: tier}
spec:
  priority: 1000
  subject: {pods: {namespaceSelector: {matchLabels: {pass: admin}}, podSelector: {matchLabels: {tier: baseline}}}}
  ingress: [{action: Allow, from: [{namespaces: {matchLabels: {priority: "1"}}}]}]
)");
  ASSERT_FALSE(c.errors) << c.diagnostics;
  EXPECT_NE(c.text.find("  tier admin priority 1000\n"), std::string::npos) << c.text;
  // Whatever the quoting, the text reads back as the converted policy.
  TempDir dir;
  std::string path = dir.write("k.yaml", kAnpHead + R"(metadata: {name: tier}
spec:
  priority: 1000
  subject: {pods: {namespaceSelector: {matchLabels: {pass: admin}}, podSelector: {matchLabels: {tier: baseline}}}}
  ingress: [{action: Allow, from: [{namespaces: {matchLabels: {priority: "1"}}}]}]
)");
  SourceManager sources;
  DiagnosticEngine diags(sources);
  std::string error;
  ImportResult r = importManifests({*sources.load(path, &error)}, sources, diags);
  ASSERT_EQ(r.policies.size(), 1u);
  EXPECT_NO_THROW(renderForOutput(r.policies, ""));
}

TEST(K8sBaselineAdminNetworkPolicy, TheDefaultPolicyIsABaselineTierPolicy) {
  Converted c = convert(kBanpHead + R"(metadata:
  name: default
spec:
  subject:
    namespaces: {matchExpressions: [{key: team, operator: Exists}]}
  ingress:
    - name: default-deny
      action: Deny
      from: [{namespaces: {}}]
  egress:
    - action: Allow
      to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: dns}}}}]
      ports: [{portNumber: {protocol: UDP, port: 53}}]
)");
  ASSERT_FALSE(c.errors) << c.diagnostics;
  EXPECT_EQ(c.text,
            "policy default {\n"
            "  clusterwide\n"
            "  tier baseline\n"
            "  selects {} in namespaces { team }\n"
            "  ingress {\n"
            "    # default-deny\n"
            "    deny from\n"
            "      namespaces {}\n"
            "  }\n"
            "  egress {\n"
            "    allow to\n"
            "      pods { app = dns }\n"
            "        in namespaces {}\n"
            "      on\n"
            "      udp/53\n"
            "  }\n"
            "}\n");
  EXPECT_EQ(c.shape, "default|*|0|in 1|baseline|I d1/0|E a1/1\n");
}

TEST(K8sAdminNetworkPolicy, ImportWritesEachWithItsSourceInFmtLayout) {
  TempDir dir;
  std::string path = dir.write("anp.yaml", kAnpHead + R"(metadata: {name: cluster-control}
spec:
  priority: 10
  subject:
    pods:
      namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}
      podSelector: {matchLabels: {app: api}}
  ingress:
    - name: allow-monitoring
      action: Allow
      from: [{namespaces: {matchLabels: {purpose: monitoring}}}]
      ports: [{portNumber: {port: 9090}}]
    - name: pass-shop
      action: Pass
      from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}]
    - {action: Deny, from: [{namespaces: {}}]}
  egress:
    - action: Deny
      to: [{networks: [169.254.169.254/32]}]
---
)" + kBanpHead + R"(metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]
)");
  SourceManager sources;
  DiagnosticEngine diags(sources);
  std::string error;
  ImportResult r = importManifests({*sources.load(path, &error)}, sources, diags);
  ASSERT_FALSE(diags.hasErrors());
  ASSERT_EQ(r.policies.size(), 2u);
  EXPECT_TRUE(r.policies[0].clusterwide);
  EXPECT_EQ(r.policies[0].kind, "AdminNetworkPolicy");
  std::string text;
  ASSERT_NO_THROW(text = renderForOutput(r.policies, ""));
  EXPECT_EQ(text, "# from policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy cluster-control (" + path + ":1)\n" +
                      R"(policy cluster-control {
  clusterwide
  tier admin priority 10
  selects { app = api } in namespace shop
  ingress {
    # allow-monitoring
    allow from namespaces { purpose = monitoring } on tcp/9090
    # pass-shop
    pass from namespace shop
    deny from namespaces {}
  }
  egress {
    deny to cidr 169.254.169.254/32
  }
}

# from policy.networking.k8s.io/v1alpha1 BaselineAdminNetworkPolicy default ()" +
                      path + R"(:23)
policy default {
  clusterwide
  tier baseline
  selects {} in namespaces {}
  ingress {
    deny from namespaces {}
  }
}
)");
}

// ---- refusals ---------------------------------------------------------------------------------------

struct Refusal {
  std::string yaml;      // the whole manifest
  std::string expected;  // in the diagnostics, with its line:col
};

void expectRefused(const std::vector<Refusal>& cases) {
  for (const auto& c : cases) {
    Converted r = convert(c.yaml);
    EXPECT_TRUE(r.errors) << c.yaml;
    EXPECT_EQ(r.text, "") << c.yaml;  // nothing of a refused object is converted
    EXPECT_NE(r.diagnostics.find("c.yaml:" + c.expected), std::string::npos)
        << "manifest:\n" << c.yaml << "diagnostics:\n" << r.diagnostics;
  }
}

TEST(K8sAdminNetworkPolicyErrors, WhatTheApiServerRefusesIsAnErrorAtItsField) {
  const std::string subject = "  subject: {namespaces: {}}\n";
  const std::string head = kAnpHead + "metadata: {name: p}\nspec:\n";
  expectRefused({
      {head + subject, "5:3: error: spec.priority is required"},
      {head + "  priority: 1001\n" + subject, "5:13: error: spec.priority: 1001 is out of range (0-1000)"},
      {head + "  priority: \"10\"\n" + subject, "5:13: error: spec.priority: expected an integer"},
      {head + "  priority: 10\n", "5:3: error: spec.subject is required"},
      {head + "  priority: 10\n  subject: {}\n", "6:12: error: spec.subject: needs exactly one of `namespaces` and `pods`"},
      {head + "  priority: 10\n  subject: {namespaces: {}, pods: {namespaceSelector: {}, podSelector: {}}}\n",
       "6:12: error: spec.subject: needs exactly one of"},
      {head + "  priority: 10\n  subject: {pods: {podSelector: {}}}\n",
       "6:19: error: spec.subject.pods: `namespaceSelector` is required (`{}` selects every namespace)"},
      {head + "  priority: 10\n  subject: {pods: {namespaceSelector: {}}}\n",
       "6:19: error: spec.subject.pods: `podSelector` is required"},
      {head + "  priority: 10\n  subject: {namespaces: {matchLabels: {team: \"a b\"}}}\n",
       "6:46: error: spec.subject.namespaces.matchLabels value"},
      {head + "  priority: 10\n" + subject + "  ingres: []\n",
       "7:3: error: AdminNetworkPolicy spec: unknown field `ingres`"},
      {head + "  priority: 10\n" + subject + "  ingress: [{action: Allow}]\n",
       "7:13: error: spec.ingress[]: `from` is required"},
      {head + "  priority: 10\n" + subject + "  ingress: [{action: Allow, from: []}]\n",
       "7:35: error: spec.ingress[].from: at least one peer is required"},
      {head + "  priority: 10\n" + subject + "  ingress: [{from: [{namespaces: {}}]}]\n",
       "7:13: error: spec.ingress[]: `action` is required (Allow, Deny or Pass)"},
      {head + "  priority: 10\n" + subject + "  ingress: [{action: allow, from: [{namespaces: {}}]}]\n",
       "7:22: error: spec.ingress[].action: unknown action 'allow' (expected Allow, Deny or Pass)"},
      {head + "  priority: 10\n" + subject + "  ingress: [{action: Allow, from: [{}]}]\n",
       "7:36: error: spec.ingress[].from[]: needs exactly one of `namespaces` or `pods`"},
      {head + "  priority: 10\n" + subject +
           "  ingress: [{action: Allow, from: [{namespaces: {}, pods: {namespaceSelector: {}, podSelector: {}}}]}]\n",
       "7:36: error: spec.ingress[].from[]: needs exactly one of"},
      {head + "  priority: 10\n" + subject + "  ingress: [{action: Allow, from: [{networks: [198.19.0.0/16]}]}]\n",
       "7:37: error: spec.ingress[].from[]: unknown field `networks`"},
      {head + "  priority: 10\n" + subject + "  ingress: [{action: Allow, from: [{namespaces: {}}], ports: []}]\n",
       "7:62: error: spec.ingress[].ports: at least one port is required"},
      {head + "  priority: 10\n" + subject +
           "  ingress: [{action: Allow, from: [{namespaces: {}}], ports: [{portNumber: {port: 70000}}]}]\n",
       "7:83: error: spec.ingress[].ports[].portNumber.port: 70000 is out of range (1-65535)"},
      {head + "  priority: 10\n" + subject +
           "  ingress: [{action: Allow, from: [{namespaces: {}}], ports: [{portNumber: {protocol: ICMP, port: 1}}]}]\n",
       "7:87: error: spec.ingress[].ports[].portNumber.protocol: unknown protocol 'ICMP' (expected TCP, UDP or SCTP)"},
      {head + "  priority: 10\n" + subject +
           "  ingress: [{action: Allow, from: [{namespaces: {}}], ports: [{portNumber: {protocol: TCP}}]}]\n",
       "7:76: error: spec.ingress[].ports[].portNumber: `port` is required"},
      {head + "  priority: 10\n" + subject +
           "  ingress: [{action: Allow, from: [{namespaces: {}}], ports: [{portRange: {start: 90, end: 90}}]}]\n",
       "7:92: error: spec.ingress[].ports[].portRange: end 90 must be greater than start 90"},
      {head + "  priority: 10\n" + subject +
           "  ingress: [{action: Allow, from: [{namespaces: {}}], ports: [{portNumber: {port: 80}, namedPort: http}]}]\n",
       "7:63: error: spec.ingress[].ports[]: needs exactly one of `portNumber`, `portRange` or `namedPort`"},
      {head + "  priority: 10\n" + subject +
           "  ingress: [{action: Allow, from: [{namespaces: {}}], ports: [{namedPort: HTTP_1}]}]\n",
       "7:75: error: spec.ingress[].ports[].namedPort: 'HTTP_1' is not a valid port name"},
      {head + "  priority: 10\n" + subject +
           "  egress: [{action: Allow, to: [{networks: [198.19.0.0/16]}], ports: [{namedPort: http}]}]\n",
       "7:83: error: spec.egress[].ports[].namedPort: a named port cannot be used with a `networks` peer"},
      {head + "  priority: 10\n" + subject + "  egress: [{action: Deny, to: [{networks: [198.19.1.7]}]}]\n",
       "7:44: error: spec.egress[].to[].networks[].cidr: '198.19.1.7' is an address, not a CIDR"},
      {head + "  priority: 10\n" + subject + "  egress: [{action: Deny, to: [{networks: []}]}]\n",
       "7:43: error: spec.egress[].to[].networks: at least one CIDR is required"},
      {head + "  priority: 10\n" + subject +
           "  egress: [{action: Deny, to: [{networks: [198.19.0.0/16, 198.19.0.0/16]}]}]\n",
       "7:59: error: spec.egress[].to[].networks: '198.19.0.0/16' is listed twice"},
      {head + "  priority: 10\n" + subject + "  ingress: [{name: " + std::string(101, 'x') +
           ", action: Allow, from: [{namespaces: {}}]}]\n",
       "7:20: error: spec.ingress[].name: 101 characters; the API server allows at most 100"},
      {kAnpHead + "metadata: {name: p}\n", "1:1: error: AdminNetworkPolicy p has no `spec`"},
  });
}

TEST(K8sAdminNetworkPolicyErrors, MoreRulesPeersOrNetworksThanTheApiAllowsAreErrors) {
  std::string rules = "  ingress:\n";
  for (int i = 0; i < 101; ++i) rules += "    - {action: Deny, from: [{namespaces: {}}]}\n";
  // The 101st rule is on line 7 + 101.
  expectRefused({{anp(rules), "108:7: error: spec.ingress: more than 100 rules"}});
  std::string networks;
  for (int i = 0; i < 26; ++i) networks += std::string(i ? ", " : "") + "198.19." + std::to_string(i) + ".0/24";
  Converted c = convert(anp("  egress: [{action: Deny, to: [{networks: [" + networks + "]}]}]\n"));
  EXPECT_NE(c.diagnostics.find("error: spec.egress[].to[].networks: more than 25 CIDRs"), std::string::npos)
      << c.diagnostics;
}

TEST(K8sAdminNetworkPolicyErrors, DomainNamePeersAreRefusedWithWhatToWriteInstead) {
  expectRefused({
      {anp("  egress: [{action: Allow, to: [{domainNames: [\"*.example.com\"]}]}]\n"),
       "7:34: error: spec.egress[].to[]: `domainNames` peers are not supported yet"},
  });
  Converted names = convert(anp("  egress: [{action: Allow, to: [{domainNames: [example.com]}]}]\n"));
  EXPECT_NE(names.diagnostics.find("hint: allow the names with a `dns` peer"), std::string::npos)
      << names.diagnostics;
}

TEST(K8sAdminNetworkPolicy, ANodesPeerBecomesANodesPeerOfItsSelector) {
  Converted c = convert(anp(R"(  egress:
    - action: Deny
      to:
        - nodes: {matchLabels: {node-role.kubernetes.io/control-plane: ""}}
        - nodes: {matchExpressions: [{key: role, operator: In, values: [worker, nodes]}]}
        - nodes: {}
)"));
  ASSERT_FALSE(c.errors) << c.diagnostics;
  EXPECT_EQ(c.text, anpText("  egress {\n"
                            "    deny to\n"
                            "      nodes { node-role.kubernetes.io/control-plane = \"\" }\n"
                            "      , nodes { role in (worker, nodes) }\n"
                            "      , nodes {}\n"
                            "  }\n"));
  EXPECT_EQ(c.shape, "p|*|0|in name|admin 10|E d3/0\n");
  EXPECT_NE(c.withLines.find("      , nodes { role in (worker, nodes) } @11\n"), std::string::npos) << c.withLines;
  // In a BaselineAdminNetworkPolicy too.
  Converted banp = convert(kBanpHead + "metadata: {name: default}\nspec:\n  subject: {namespaces: {}}\n"
                                       "  egress: [{action: Allow, to: [{nodes: {matchLabels: {role: worker}}}]}]\n");
  ASSERT_FALSE(banp.errors) << banp.diagnostics;
  EXPECT_NE(banp.text.find("      nodes { role = worker }\n"), std::string::npos) << banp.text;
}

TEST(K8sAdminNetworkPolicyErrors, ANodesPeerTakesNoNamedPortAndNoIngressRule) {
  // The API's CEL rule: nodes have no port names.
  expectRefused({
      {anp("  egress: [{action: Allow, to: [{nodes: {}}], ports: [{namedPort: http}]}]\n"),
       "7:67: error: spec.egress[].ports[].namedPort: a named port cannot be used with a `nodes` peer: nodes have no "
       "port names, and the API server refuses the combination"},
      {anp("  ingress: [{action: Allow, from: [{nodes: {}}]}]\n"),
       "7:37: error: spec.ingress[].from[]: unknown field `nodes`"},
      {anp("  egress: [{action: Allow, to: [{nodes: {matchLabels: {role: [a]}}}]}]\n"), "7:62: error: "},
  });
}

TEST(K8sAdminNetworkPolicyErrors, ANamespaceOnTheClusterScopedKindsIsAnError) {
  expectRefused({
      {kAnpHead + "metadata: {name: p, namespace: shop}\nspec: {priority: 1, subject: {namespaces: {}}}\n",
       "3:32: error: AdminNetworkPolicy p has a namespace, but it is cluster-scoped"},
      {kBanpHead + "metadata: {name: default, namespace: shop}\nspec: {subject: {namespaces: {}}}\n",
       "3:38: error: BaselineAdminNetworkPolicy default has a namespace, but it is cluster-scoped"},
  });
  // An empty one is no namespace.
  Converted c = convert(kAnpHead + "metadata: {name: p, namespace: \"\"}\nspec: {priority: 1, subject: {namespaces: {}}}\n");
  EXPECT_FALSE(c.errors) << c.diagnostics;
}

TEST(K8sBaselineAdminNetworkPolicyErrors, ItMustBeNamedDefaultAndHasNoPassNorPriority) {
  const std::string subject = "  subject: {namespaces: {}}\n";
  expectRefused({
      {kBanpHead + "metadata: {name: baseline}\nspec:\n" + subject,
       "3:18: error: BaselineAdminNetworkPolicy 'baseline': its name must be `default`"},
      {kBanpHead + "metadata: {name: default}\nspec:\n" + subject +
           "  ingress: [{action: Pass, from: [{namespaces: {}}]}]\n",
       "6:22: error: spec.ingress[].action: a BaselineAdminNetworkPolicy has no `Pass` (expected Allow or Deny)"},
      {kBanpHead + "metadata: {name: default}\nspec:\n  priority: 1\n" + subject,
       "5:3: error: BaselineAdminNetworkPolicy spec: unknown field `priority`"},
      {kBanpHead + "metadata: {name: default}\nspec:\n" + subject +
           "  egress: [{action: Allow, to: [{domainNames: [example.com]}]}]\n",
       "6:34: error: spec.egress[].to[]: unknown field `domainNames`"},
      {kBanpHead + "metadata: {name: default}\nspec:\n" + subject +
           "  ingress: [{action: deny, from: [{namespaces: {}}]}]\n",
       "6:22: error: spec.ingress[].action: unknown action 'deny' (expected Allow or Deny)"},
  });
  Converted c = convert(kBanpHead + "metadata: {name: default}\nspec:\n" + subject +
                        "  ingress: [{action: deny, from: [{namespaces: {}}]}]\n");
  EXPECT_NE(c.diagnostics.find("hint: actions are case-sensitive: write `Deny`"), std::string::npos) << c.diagnostics;
}

TEST(K8sAdminNetworkPolicyErrors, OtherVersionsOfTheGroupAreRefusedAtTheirApiVersion) {
  Manifests m("apiVersion: policy.networking.k8s.io/v1alpha2\nkind: AdminNetworkPolicy\nmetadata: {name: p}\n"
              "spec: {priority: 1, subject: {namespaces: {}}}\n---\n"
              "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: c}\n"
              "spec: {}\n",
              false);
  std::string d = m.diagnostics();
  EXPECT_EQ(m.compilation().outcome(), pipeline::Outcome::PolicyErrors) << d;
  EXPECT_NE(d.find("m.yaml:1:13: error: policy.networking.k8s.io/v1alpha2 AdminNetworkPolicy p: membrane does not "
                   "enforce this kind of policy (it reads AdminNetworkPolicy in apiVersion "
                   "policy.networking.k8s.io/v1alpha1 only)"),
            std::string::npos)
      << d;
  EXPECT_NE(d.find("m.yaml:6:1: error: policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy c: membrane does not "
                   "enforce this kind of policy"),
            std::string::npos)
      << d;
}

// ---- names ------------------------------------------------------------------------------------------

TEST(K8sAdminNetworkPolicy, AClusterwidePolicyOfAnotherKindWithItsNameIsRenamed) {
  TempDir dir;
  std::string path = dir.write("n.yaml", R"(apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: default}
spec:
  endpointSelector: {}
  egress: [{toEntities: [host]}]
---
)" + kBanpHead + R"(metadata: {name: default}
spec: {subject: {namespaces: {}}, ingress: [{action: Deny, from: [{namespaces: {}}]}]}
---
)" + kAnpHead + R"(metadata: {name: default}
spec: {priority: 5, subject: {namespaces: {}}, ingress: [{action: Allow, from: [{namespaces: {}}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default, namespace: shop}
spec: {podSelector: {}}
)");
  SourceManager sources;
  DiagnosticEngine diags(sources);
  std::string error;
  ImportResult r = importManifests({*sources.load(path, &error)}, sources, diags);
  ASSERT_FALSE(diags.hasErrors());
  ASSERT_EQ(r.policies.size(), 4u);
  // Manifest order is kept; Kubernetes' own kinds keep their names, the
  // AdminNetworkPolicy before the baseline, Cilium's yield. The
  // NetworkPolicy is in a namespace, so it shares no name with them.
  EXPECT_EQ(r.policies[0].name, "default-ccnp");
  EXPECT_EQ(r.policies[1].name, "default-banp");
  EXPECT_EQ(r.policies[2].name, "default");
  EXPECT_EQ(r.policies[3].name, "default");
  std::ostringstream d;
  diags.print(d, false);
  EXPECT_NE(d.str().find("note: policy 'default' is renamed 'default-banp': a policy of another kind has that name"),
            std::string::npos)
      << d.str();
  EXPECT_NO_THROW(renderForOutput(r.policies, ""));
}

TEST(K8sAdminNetworkPolicy, TheSameObjectTwiceIsAnError) {
  std::string one = anp("  ingress: [{action: Deny, from: [{namespaces: {}}]}]\n");
  Converted c = convert(one + "---\n" + one);
  EXPECT_NE(c.diagnostics.find("error: AdminNetworkPolicy p is defined twice"), std::string::npos) << c.diagnostics;
}

// ---- what the converted policies decide ----------------------------------------------------------

// kCluster: namespaces shop (team=web) and ops (purpose=monitoring); pods
// shop/api-0 (app=api; ports http tcp/8080, dns udp/53), shop/web-0,
// shop/db-0, ops/prom-0, ops/web-0.

TEST(K8sAdminNetworkPolicyVerdicts, AnAdminDenyOverridesANetworkPolicyAllow) {
  Manifests m(anp("  ingress: [{action: Deny, from: [{namespaces: {matchLabels: {purpose: monitoring}}}]}]\n") + R"(---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: open, namespace: shop}
spec:
  podSelector: {}
  ingress: [{}]
)");
  ASSERT_TRUE(m.ok()) << m.diagnostics();
  EXPECT_DENIED(m, "ops/prom-0", "shop/api-0", kTcp80);
  EXPECT_DENIED(m, "ops/web-0", "shop/db-0", kUdp53);
  EXPECT_ALLOWED(m, "shop/web-0", "shop/api-0", kTcp80);       // not matched: the NetworkPolicy allows
  EXPECT_ALLOWED(m, "world:198.19.1.1", "shop/api-0", kTcp80);
  EXPECT_ALLOWED(m, "shop/api-0", "ops/prom-0", kTcp80);       // ops is not the subject
}

TEST(K8sAdminNetworkPolicyVerdicts, AnAdminAllowOverridesANetworkPolicyDeny) {
  Manifests m(anp(R"(  ingress:
    - action: Allow
      from: [{pods: {namespaceSelector: {matchLabels: {purpose: monitoring}}, podSelector: {matchLabels: {app: prometheus}}}}]
      ports: [{portNumber: {port: 9090}}, {namedPort: http}]
)") + R"(---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec: {podSelector: {}, ingress: []}
)");
  ASSERT_TRUE(m.ok()) << m.diagnostics();
  EXPECT_ALLOWED(m, "ops/prom-0", "shop/api-0", kTcp9090);
  EXPECT_ALLOWED(m, "ops/prom-0", "shop/api-0", kTcp8080);  // api-0's http
  EXPECT_DENIED(m, "ops/prom-0", "shop/api-0", kTcp80);     // not matched: the NetworkPolicy denies
  EXPECT_DENIED(m, "ops/web-0", "shop/api-0", kTcp9090);
  EXPECT_DENIED(m, "shop/web-0", "shop/api-0", kTcp9090);
}

TEST(K8sAdminNetworkPolicyVerdicts, PassSkipsTheRestOfTheAdminTier) {
  // Priority 5 passes shop's own traffic; priority 10 denies everything from
  // pods: shop's own is left to the tiers below (here: nothing, so allowed).
  Manifests m(anp("  ingress: [{action: Pass, from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}]}]\n",
                  "pass-own", 5) +
              "---\n" + anp("  ingress: [{action: Deny, from: [{namespaces: {}}]}]\n", "deny-pods", 10));
  ASSERT_TRUE(m.ok()) << m.diagnostics();
  EXPECT_ALLOWED(m, "shop/web-0", "shop/api-0", kTcp80);
  EXPECT_DENIED(m, "ops/web-0", "shop/api-0", kTcp80);
  EXPECT_ALLOWED(m, "world:198.19.1.1", "shop/api-0", kTcp80);  // not a pod: no rule matches
}

TEST(K8sAdminNetworkPolicyVerdicts, TheLowerPriorityNumberDecidesFirst) {
  const std::string allow = "  ingress: [{action: Allow, from: [{namespaces: {matchLabels: {purpose: monitoring}}}]}]\n";
  const std::string deny = "  ingress: [{action: Deny, from: [{namespaces: {}}]}]\n";
  Manifests allowFirst(anp(allow, "a", 1) + "---\n" + anp(deny, "d", 2) + R"(---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec: {podSelector: {}, ingress: []}
)");
  ASSERT_TRUE(allowFirst.ok()) << allowFirst.diagnostics();
  EXPECT_ALLOWED(allowFirst, "ops/prom-0", "shop/api-0", kTcp80);
  EXPECT_DENIED(allowFirst, "shop/web-0", "shop/api-0", kTcp80);
  Manifests denyFirst(anp(allow, "a", 2) + "---\n" + anp(deny, "d", 1));
  ASSERT_TRUE(denyFirst.ok()) << denyFirst.diagnostics();
  EXPECT_DENIED(denyFirst, "ops/prom-0", "shop/api-0", kTcp80);
}

TEST(K8sAdminNetworkPolicyVerdicts, NetworksMatchAddressesOnEgress) {
  Manifests m(anp("  egress: [{action: Deny, to: [{networks: [198.19.66.0/24]}], ports: [{portRange: {start: 1, end: 1024}}]}]\n"));
  ASSERT_TRUE(m.ok()) << m.diagnostics();
  EXPECT_DENIED(m, "shop/web-0", "world:198.19.66.5", kTcp80);
  EXPECT_ALLOWED(m, "shop/web-0", "world:198.19.66.5", kTcp8080);  // outside the range
  EXPECT_ALLOWED(m, "shop/web-0", "world:198.19.67.5", kTcp80);
  EXPECT_ALLOWED(m, "ops/web-0", "world:198.19.66.5", kTcp80);    // not the subject
}

TEST(K8sAdminNetworkPolicyVerdicts, NodesMatchTheAddressesOfTheNodeObjectsGiven) {
  const std::string nodes = R"(---
apiVersion: v1
kind: Node
metadata: {name: cp-1, labels: {node-role.kubernetes.io/control-plane: ""}}
status: {addresses: [{type: InternalIP, address: 198.18.200.1}, {type: Hostname, address: cp-1}]}
---
apiVersion: v1
kind: Node
metadata: {name: worker-1, labels: {role: worker}}
status: {addresses: [{type: InternalIP, address: 198.18.200.11}, {type: ExternalIP, address: "2001:2::c8:11"}]}
)";
  Manifests m(anp(R"(  egress:
    - action: Allow
      to: [{nodes: {matchLabels: {node-role.kubernetes.io/control-plane: ""}}}]
      ports: [{portNumber: {port: 6443}}]
    - action: Deny
      to: [{nodes: {}}]
)") + nodes);
  ASSERT_TRUE(m.ok()) << m.diagnostics();
  EXPECT_TRUE(m.diagnostics().empty()) << m.diagnostics();
  const Traffic kTcp6443{ir::kTCP, 6443};
  EXPECT_ALLOWED(m, "shop/web-0", "world:198.18.200.1", kTcp6443);
  EXPECT_DENIED(m, "shop/web-0", "world:198.18.200.1", kTcp80);
  EXPECT_DENIED(m, "shop/web-0", "world:198.18.200.11", kTcp6443);
  EXPECT_DENIED(m, "shop/web-0", "world:2001:2::c8:11", kTcp80);
  EXPECT_ALLOWED(m, "shop/web-0", "world:198.18.200.12", kTcp80);  // no node's address
  EXPECT_ALLOWED(m, "ops/web-0", "world:198.18.200.11", kTcp80);   // ops is not the subject
  // Without Node objects the peers match nothing, and say so.
  Manifests without(anp("  egress: [{action: Deny, to: [{nodes: {}}]}]\n"));
  ASSERT_TRUE(without.ok()) << without.diagnostics();
  EXPECT_NE(without.diagnostics().find("warning: no node of the inventory matches this peer: it matches nothing"),
            std::string::npos)
      << without.diagnostics();
  EXPECT_ALLOWED(without, "shop/web-0", "world:198.18.200.11", kTcp80);
}

TEST(K8sBaselineAdminNetworkPolicyVerdicts, TheBaselineDecidesOnlyWhatNoNetworkPolicyDoes) {
  Manifests m(kBanpHead + R"(metadata: {name: default}
spec:
  subject: {namespaces: {matchLabels: {team: web}}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]
)");
  ASSERT_TRUE(m.ok()) << m.diagnostics();
  EXPECT_ALLOWED(m, "shop/web-0", "shop/api-0", kTcp80);     // the NetworkPolicy allows
  EXPECT_DENIED(m, "shop/db-0", "shop/api-0", kTcp80);       // the NetworkPolicy isolates api-0
  EXPECT_DENIED(m, "shop/web-0", "shop/db-0", kTcp80);       // db-0: no NetworkPolicy, the baseline denies
  EXPECT_ALLOWED(m, "world:198.19.1.1", "shop/db-0", kTcp80);  // not a pod: the baseline rule does not match
  EXPECT_ALLOWED(m, "shop/web-0", "ops/web-0", kTcp80);      // ops is not the subject
}

}  // namespace
}  // namespace membrane::k8s
