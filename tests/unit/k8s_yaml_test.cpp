// Manifests read as kubectl reads them (compiler/k8s; docs/kubernetes.md,
// "YAML"): the bytes of the file, duplicate and merge keys, aliases, and the
// YAML 1.1 typing of plain scalars (booleans, octal and other numbers) that
// kubectl applies and YAML 1.2 readers do not. Each is either read exactly
// as kubectl would, or refused with an error at the offending line:col that
// says what kubectl would read.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "k8s/convert.h"
#include "k8s_test_support.h"

namespace membrane::k8s {
namespace {

using fixtures::Manifests;

// A NetworkPolicy whose spec is `spec` (from line 5 on), without the cluster.
Manifests policy(const std::string& spec) {
  return Manifests("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: shop}\n"
                   "spec:\n" + spec,
                   false);
}

testing::AssertionResult hasError(const Manifests& m, const std::string& expected) {
  std::string d = m.diagnostics();
  if (m.compilation().outcome() == pipeline::Outcome::Ok)
    return testing::AssertionFailure() << "accepted, expected: " << expected << "\n" << d;
  if (d.find(expected) == std::string::npos)
    return testing::AssertionFailure() << "expected: " << expected << "\ngot:\n" << d;
  return testing::AssertionSuccess();
}

// ---- the bytes ------------------------------------------------------------------------------

TEST(K8sYaml, BadUtf8IsReportedAtTheOffendingByte) {
  // Line 9, column 9: the 0xFF after "h".
  Manifests m("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    a: b\n    c: d\n"
              "    e: f\n    g: h\xff\n",
              false);
  EXPECT_TRUE(hasError(m, "m.yaml:9:9: error: manifests must be UTF-8: byte 0xFF is not valid UTF-8 here"));
  // Overlong, surrogate and truncated sequences too.
  EXPECT_TRUE(hasError(Manifests("kind: Pod\nmetadata: {name: \xC0\xAF}\n", false), "m.yaml:2:18: error: manifests must be UTF-8"));
  EXPECT_TRUE(hasError(Manifests("kind: Pod # \xED\xA0\x80\n", false), "m.yaml:1:13: error: manifests must be UTF-8"));
  EXPECT_TRUE(hasError(Manifests("kind: Pod\n#\xE2\x82", false), "m.yaml:2:2: error: manifests must be UTF-8"));
}

TEST(K8sYaml, NulAndControlCharactersAreReportedWhereTheyAre) {
  const char kNul[] = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: sh\0op\n";
  Manifests nul(std::string(kNul, sizeof kNul - 1), false);
  EXPECT_TRUE(hasError(nul, "m.yaml:4:11: error: a NUL byte is not allowed in YAML"));
  EXPECT_EQ(nul.diagnostics().find("unknown escape"), std::string::npos) << nul.diagnostics();
  EXPECT_TRUE(hasError(Manifests("kind: Pod\nmetadata: {name: a\x01}\n", false),
                       "m.yaml:2:19: error: control character U+0001 is not allowed in YAML"));
  EXPECT_TRUE(hasError(Manifests("kind: Pod # \x7f\n", false), "m.yaml:1:13: error: control character U+007F"));
  EXPECT_TRUE(hasError(Manifests("kind: Pod # \xC2\x80\n", false), "m.yaml:1:13: error: control character U+0080"));
  // ...and the same characters written as escapes reach no field either.
  EXPECT_TRUE(hasError(policy("  podSelector: {matchLabels: {app: \"a\\0b\"}}\n"),
                       "m.yaml:5:36: error: spec.podSelector.matchLabels value: control character U+0000"));
}

TEST(K8sYaml, AByteOrderMarkIsAcceptedAndPositionsStayRight) {
  Manifests m("\xEF\xBB\xBF" "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, "
              "namespace: shop}\nspec: {podSelector: {matchLabels: {app: yes}}}\n",
              false);
  EXPECT_TRUE(hasError(m, "m.yaml:4:41: error: spec.podSelector.matchLabels value: expected a string, got `yes`"));
  Manifests ok("\xEF\xBB\xBF" "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n", false);
  EXPECT_TRUE(ok.ok());
}

TEST(K8sYaml, AStrayCommaIsAnErrorNotAnEndlessLoop) {
  // yaml-cpp 0.7 loops forever, allocating, on these (found by k8s_fuzzer).
  EXPECT_TRUE(hasError(Manifests(", tier: c}\n---\napiVersion: v1\n", false),
                       "m.yaml:1:1: error: invalid YAML: unexpected `,` outside a flow collection"));
  EXPECT_TRUE(hasError(Manifests("apiVersion: v1\nkind: Pod\n---\n[a], b\n", false),
                       "m.yaml:4:4: error: invalid YAML: unexpected `,` outside a flow collection"));
  // Empty documents are not mistaken for it.
  EXPECT_TRUE(Manifests("---\n---\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n", false).ok());
}

// ---- keys -----------------------------------------------------------------------------------

TEST(K8sYaml, DuplicateKeysAreRefusedAtTheSecondWithANoteAtTheFirst) {
  Manifests m = policy("  podSelector: {}\n  podSelector: {matchLabels: {app: x}}\n");
  EXPECT_TRUE(hasError(m, "m.yaml:6:3: error: duplicate key 'podSelector'"));
  EXPECT_NE(m.diagnostics().find("m.yaml:5:3: note: first defined here"), std::string::npos) << m.diagnostics();

  // Anywhere in the object: labels, metadata, fields membrane does not read.
  EXPECT_TRUE(hasError(policy("  podSelector: {matchLabels: {app: a, tier: b, app: c}}\n"),
                       "m.yaml:5:48: error: duplicate key 'app'"));
  EXPECT_TRUE(hasError(Manifests("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  name: b\n", false),
                       "m.yaml:5:3: error: duplicate key 'name'"));
  EXPECT_TRUE(hasError(Manifests("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nstatus: {phase: x, phase: y}\n", false),
                       "m.yaml:4:20: error: duplicate key 'phase'"));
  // `kind` twice: the first is not silently the one that counts.
  EXPECT_TRUE(hasError(Manifests("apiVersion: v1\nkind: Service\nkind: Pod\nmetadata: {name: a}\n", false),
                       "m.yaml:3:1: error: duplicate key 'kind'"));
  // Keys kubectl turns into the same string are the same key.
  EXPECT_TRUE(hasError(Manifests("apiVersion: v1\nkind: Pod\nmetadata: {name: a, annotations: {80: x, \"80\": y}}\n", false),
                       "m.yaml:3:42: error: duplicate key '80'"));
}

TEST(K8sYaml, MergeKeysAreRefused) {
  EXPECT_TRUE(hasError(policy("  podSelector:\n    matchLabels:\n      <<: {app: a}\n      tier: b\n"),
                       "m.yaml:7:7: error: YAML merge keys (`<<`) are not supported"));
}

TEST(K8sYaml, AliasesAreReadButRecursiveOrExplodingOnesAreRefused) {
  Manifests ok = policy("  podSelector: &s {matchLabels: {app: api}}\n  ingress: [{from: [{podSelector: *s}]}]\n");
  EXPECT_TRUE(ok.ok());
  // A List whose items contain the List itself.
  Manifests recursive("apiVersion: v1\nkind: List\nitems: &l [{apiVersion: v1, kind: List, items: *l}]\n", false);
  EXPECT_TRUE(hasError(recursive, "a YAML alias inside itself"));
  // Nine levels of ten aliases each: a billion nodes from a few hundred bytes.
  std::string laughs = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    std::string prev = "*l" + std::to_string(i - 1);
    laughs += "  l" + std::to_string(i) + ": &l" + std::to_string(i) + " [" + prev;
    for (int k = 1; k < 10; ++k) laughs += ", " + prev;
    laughs += "]\n";
  }
  EXPECT_TRUE(hasError(Manifests(laughs, false), "m.yaml:1:1: error: this document expands to too many nodes"));
}

// ---- typed scalars -----------------------------------------------------------------------------

TEST(K8sYaml, KubectlReadsPlainScalarsByYaml11Rules) {
  using T = KubectlScalar::Type;
  struct Case {
    std::string text;
    T type;
    int64_t integer;
    bool unambiguous;
  };
  const std::vector<Case> cases = {
      {"8080", T::Int, 8080, true},      {"-1", T::Int, -1, true},        {"0", T::Int, 0, true},
      {"017620", T::Int, 8080, false},   {"0o17620", T::Int, 8080, false}, {"0x1F90", T::Int, 8080, false},
      {"0b11", T::Int, 3, false},        {"8_080", T::Int, 8080, false},  {"+80", T::Int, 80, false},
      {"-0x10", T::Int, -16, false},     {"08080", T::Float, 0, false},   {"8080.0", T::Float, 0, false},
      {"1e3", T::Float, 0, false},       {".5", T::Float, 0, false},      {".inf", T::Float, 0, false},
      {"true", T::Bool, 0, true},        {"True", T::Bool, 0, true},      {"FALSE", T::Bool, 0, true},
      {"yes", T::Bool, 0, false},        {"y", T::Bool, 0, false},        {"N", T::Bool, 0, false},
      {"on", T::Bool, 0, false},         {"Off", T::Bool, 0, false},      {"~", T::Null, 0, true},
      {"null", T::Null, 0, true},        {"1:30", T::String, 0, true},    {"2001-12-14", T::String, 0, true},
      {"yES", T::String, 0, true},       {"0x", T::String, 0, true},      {"http", T::String, 0, true},
      {"18446744073709551615", T::Int, 0, true},
  };
  for (const auto& c : cases) {
    KubectlScalar k = kubectlReads(c.text, "?");
    EXPECT_EQ(k.type, c.type) << c.text;
    if (c.type == T::Int && c.integer) {
      ASSERT_TRUE(k.integer) << c.text;
      EXPECT_EQ(*k.integer, c.integer) << c.text;
    }
    if (c.type != T::String && c.type != T::Null) {
      EXPECT_EQ(k.unambiguous, c.unambiguous) << c.text;
    }
  }
  EXPECT_FALSE(kubectlReads("18446744073709551615", "?").integer);  // a uint64 beyond int64
  EXPECT_TRUE(kubectlReads("on", "?").boolean);
  EXPECT_FALSE(kubectlReads("n", "?").boolean);
  // Quoted and !!str-tagged scalars are strings; other tags are not typed here.
  EXPECT_EQ(kubectlReads("yes", "!").type, T::String);
  EXPECT_EQ(kubectlReads("80", "tag:yaml.org,2002:str").type, T::String);
  EXPECT_EQ(kubectlReads("80", "tag:yaml.org,2002:int").type, T::Tagged);
}

TEST(K8sYaml, BooleansAndNonIntegersWhereAPortIsExpectedAreRefused) {
  EXPECT_TRUE(hasError(policy("  podSelector: {}\n  ingress: [{ports: [{port: true}]}]\n"),
                       "m.yaml:6:29: error: NetworkPolicyPort.port: expected a number or a name, got `true`, which "
                       "kubectl reads as the boolean true"));
  EXPECT_TRUE(hasError(policy("  podSelector: {}\n  ingress: [{ports: [{port: yes}]}]\n"),
                       "m.yaml:6:29: error: NetworkPolicyPort.port: expected a number or a name, got `yes`"));
  EXPECT_TRUE(hasError(policy("  podSelector: {}\n  ingress: [{ports: [{port: 80.5}]}]\n"),
                       "m.yaml:6:29: error: NetworkPolicyPort.port: expected a number or a name, got `80.5`"));
  EXPECT_TRUE(hasError(policy("  podSelector: {}\n  ingress: [{ports: [{port: 80, endPort: \"90\"}]}]\n"),
                       "m.yaml:6:42: error: NetworkPolicyPort.endPort: expected an integer, got the string '90'"));
  EXPECT_TRUE(hasError(policy("  podSelector: {}\n  ingress: [{ports: [{port: 80, endPort: 90.0}]}]\n"),
                       "NetworkPolicyPort.endPort: expected an integer, got `90.0`, which kubectl reads as the "
                       "number 90"));
  EXPECT_TRUE(hasError(Manifests("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n"
                                 "spec: {containers: [{name: c, ports: [{name: http, containerPort: true}]}]}\n",
                                 false),
                       "m.yaml:4:67: error: containerPort: expected an integer, got `true`"));
  // Cilium's port is a string: kubectl would send `80` as a number, which
  // its schema refuses.
  Manifests cilium("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: shop}\n"
                   "spec:\n  endpointSelector: {}\n  egress: [{toPorts: [{ports: [{port: 80}]}]}]\n",
                   false);
  EXPECT_TRUE(hasError(cilium, "m.yaml:6:39: error: spec.egress[].toPorts[].ports[].port: Cilium's `port` is a string"));
}

TEST(K8sYaml, Yaml11NumbersAreRefusedSayingWhatKubectlReads) {
  struct Case {
    std::string port, expected;
  };
  const std::vector<Case> cases = {
      {"017620", "`017620` is not a plain decimal number: kubectl reads it as 8080 (a YAML 1.1 octal number; YAML "
                 "1.2 reads 17620)"},
      {"0o17620", "kubectl reads it as 8080 (octal)"},
      {"0x1F90", "kubectl reads it as 8080 (hexadecimal)"},
      {"0b1111110010000", "kubectl reads it as 8080 (YAML 1.1 binary; a string in YAML 1.2)"},
      {"8_080", "kubectl reads it as 8080 (YAML 1.1 digit separators; a string in YAML 1.2)"},
      {"+8080", "kubectl reads it as 8080 (with a sign)"},
      {"08080", "got `08080`, which kubectl reads as the number 8080"},
  };
  for (const auto& c : cases) {
    Manifests m = policy("  podSelector: {}\n  ingress: [{ports: [{port: " + c.port + "}]}]\n");
    EXPECT_TRUE(hasError(m, "m.yaml:6:29: error: NetworkPolicyPort.port: ")) << c.port;
    EXPECT_TRUE(hasError(m, c.expected)) << c.port;
    EXPECT_NE(m.diagnostics().find("hint: write 8080"), std::string::npos) << m.diagnostics();
  }
  // Base 60 (`1:30`, 90 in YAML 1.1) is a string to kubectl: not a port.
  EXPECT_TRUE(hasError(policy("  podSelector: {}\n  ingress: [{ports: [{port: 1:30}]}]\n"),
                       "NetworkPolicyPort.port: '1:30' is neither a port number nor a valid port name"));
  // The same numbers in plain decimal are read.
  EXPECT_TRUE(policy("  podSelector: {}\n  ingress: [{ports: [{port: 8080, endPort: 8090}]}]\n").ok());
}

TEST(K8sYaml, Yaml11BooleansAreNotStrings) {
  // Where a string is expected, kubectl's boolean (or number) is refused
  // by the API server; here too, with the quoted form as the fix.
  for (std::string v : {"yes", "no", "on", "off", "y", "n", "Y", "true", "NO"}) {
    Manifests m = policy("  podSelector: {matchLabels: {enabled: " + v + "}}\n");
    EXPECT_TRUE(hasError(m, "m.yaml:5:40: error: spec.podSelector.matchLabels value: expected a string, got `" + v +
                                "`, which kubectl reads as the boolean"))
        << v;
    EXPECT_NE(m.diagnostics().find("hint: quote it: \"" + v + "\""), std::string::npos) << m.diagnostics();
  }
  // Namespaces called y and n are the classic case.
  EXPECT_TRUE(hasError(Manifests("apiVersion: v1\nkind: Namespace\nmetadata: {name: y}\n", false),
                       "m.yaml:3:18: error: metadata.name: expected a string, got `y`"));
  EXPECT_TRUE(hasError(policy("  podSelector: {matchLabels: {version: 1.10}}\n"),
                       "expected a string, got `1.10`, which kubectl reads as the number 1.1"));
  EXPECT_TRUE(policy("  podSelector: {matchLabels: {enabled: \"yes\", version: \"1.10\", \"n\": \"y\"}}\n").ok());
  // Keys too: kubectl reads the key `n` as "false".
  EXPECT_TRUE(hasError(policy("  podSelector: {matchLabels: {n: a}}\n"),
                       "m.yaml:5:31: error: spec.podSelector.matchLabels key: expected a string, got `n`"));
  // Keys too: kubectl reads the key `n` as "false".
  EXPECT_TRUE(hasError(policy("  podSelector: {matchLabels: {n: a}}\n"),
                       "m.yaml:5:31: error: spec.podSelector.matchLabels key: expected a string, got `n`"));
  // Where a boolean is expected, only true/false (in YAML 1.2's spellings).
  Manifests cilium("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: shop}\n"
                   "spec:\n  endpointSelector: {}\n  enableDefaultDeny: {ingress: yes}\n  ingress: [{}]\n",
                   false);
  EXPECT_TRUE(hasError(cilium, "m.yaml:6:32: error: spec.enableDefaultDeny.ingress: `yes` is a YAML 1.1 boolean: "
                               "kubectl reads it as true, YAML 1.2 tools as a string"));
  EXPECT_NE(cilium.diagnostics().find("hint: write true"), std::string::npos);
}

TEST(K8sYaml, OnlyTheStrTagIsAccepted) {
  Manifests str("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: shop}\n"
                "spec:\n  endpointSelector: {}\n  egress: [{toPorts: [{ports: [{port: !!str 80}]}]}]\n",
                false);
  EXPECT_TRUE(str.ok());
  EXPECT_TRUE(hasError(policy("  podSelector: {matchLabels: {app: !!binary YXBp}}\n"),
                       "m.yaml:5:36: error: spec.podSelector.matchLabels value: YAML tag "
                       "`tag:yaml.org,2002:binary` is not supported here"));
}

// ---- names ----------------------------------------------------------------------------------------

TEST(K8sYaml, NamesAreCheckedAsTheApiServerDoes) {
  EXPECT_TRUE(hasError(Manifests("apiVersion: v1\nkind: Namespace\nmetadata: {name: a.b}\n", false),
                       "m.yaml:3:18: error: metadata.name: 'a.b' is not a valid namespace name"));
  EXPECT_TRUE(hasError(Manifests("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
                                 "metadata: {name: Api, namespace: shop}\nspec: {podSelector: {}}\n",
                                 false),
                       "m.yaml:3:18: error: metadata.name: 'Api' is not a valid name"));
  EXPECT_TRUE(hasError(Manifests("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
                                 "metadata: {name: a, namespace: my_ns}\nspec: {podSelector: {}}\n",
                                 false),
                       "m.yaml:3:32: error: metadata.namespace: 'my_ns' is not a valid namespace name"));
  EXPECT_TRUE(hasError(policy("  podSelector: {matchLabels: {\"a/b/c\": x}}\n"),
                       "m.yaml:5:31: error: spec.podSelector.matchLabels key: 'a/b/c' is not a valid label key"));
  EXPECT_TRUE(hasError(policy("  podSelector: {matchExpressions: [{key: a, operator: In, values: [\"-x\"]}]}\n"),
                       "m.yaml:5:68: error: spec.podSelector.matchExpressions[].values[]: '-x' is not a valid label value"));
  EXPECT_TRUE(hasError(policy("  podSelector: {}\n  ingress: [{ports: [{port: a--b}]}]\n"),
                       "'a--b' is neither a port number nor a valid port name"));
  EXPECT_TRUE(hasError(Manifests("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n"
                                 "spec: {containers: [{name: c, ports: [{name: HTTP, containerPort: 80}]}]}\n",
                                 false),
                       "m.yaml:4:46: error: containers[].ports[].name: 'HTTP' is not a valid port name"));
  // 253 characters is a valid name, 254 is not.
  std::string longName(253, 'a');
  EXPECT_TRUE(Manifests("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: " + longName +
                            ", namespace: shop}\nspec: {podSelector: {}}\n",
                        false)
                  .ok());
  EXPECT_TRUE(hasError(Manifests("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a" +
                                     longName + ", namespace: shop}\nspec: {podSelector: {}}\n",
                                 false),
                       "is not a valid name"));
}

}  // namespace
}  // namespace membrane::k8s
