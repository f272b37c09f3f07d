// Cilium's HTTP rules → membrane (compiler/k8s/cilium_policy.cpp,
// docs/kubernetes.md "HTTP rules", docs/http.md): `toPorts[].rules.http`
// becomes a `with http { ... }` condition on the rule of that entry's ports;
// Cilium's method, path and host are regular expressions, and only those
// that map exactly are accepted; whatever does not map is an error at its
// line and column.
#include <gtest/gtest.h>

#include <string>

#include "k8s_test_support.h"

namespace membrane::k8s {
namespace {

using fixtures::convert;
using fixtures::Converted;
using fixtures::Manifests;

const std::string kHead = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: shop}\n"
                          "spec:\n  endpointSelector: {matchLabels: {app: api}}\n";

std::string ingressText(const std::string& rules) {
  return "policy p {\n  namespace shop\n  selects { app = api }\n  ingress {\n" + rules + "  }\n}\n";
}

TEST(K8sCiliumHttp, RulesHttpBecomesAnHttpConditionOnThatEntrysTcpPorts) {
  Converted c = convert(kHead + R"(  ingress:
    - fromEndpoints: [{matchLabels: {app: web}}]
      toPorts:
        - ports: [{port: "8080", protocol: TCP}]
          rules:
            http:
              - method: GET
                path: "/api/v1/products/[^/]*"
              - method: POST
                path: /api/v1/orders
                headers: ["Content-Type: application/json", "X-Request-Id"]
              - host: API.Shop.Example
                headerMatches: [{name: X-Env, value: prod}]
              - {}
        - ports: [{port: "9090"}]
)");
  ASSERT_FALSE(c.errors) << c.diagnostics;
  EXPECT_EQ(c.text, ingressText("    allow from\n"
                                "      pods { app = web }\n"
                                "      on\n"
                                "      tcp/9090\n"
                                "      , udp/9090\n"
                                "      , sctp/9090\n"
                                "    allow from\n"
                                "      pods { app = web }\n"
                                "      on\n"
                                "      tcp/8080\n"
                                "      with http {\n"
                                "        GET \"/api/v1/products/*\"\n"
                                "        ; POST \"/api/v1/orders\" header \"Content-Type\" = \"application/json\" "
                                "header \"X-Request-Id\"\n"
                                "        ; host \"api.shop.example\" header \"X-Env\" = \"prod\"\n"
                                "        ; \"/**\"\n"
                                "      }\n"));
  EXPECT_EQ(c.shape, "p|shop|1|I a1/3 a1/1+with\n");
}

TEST(K8sCiliumHttp, ProtocolAnyIsTcpAndEachItemPointsAtItsEntry) {
  Converted c = convert(kHead + R"(  egress:
    - toPorts:
        - ports: [{port: "80"}]
          rules:
            http:
              - method: GET
              - path: "/static/.*"
)");
  ASSERT_FALSE(c.errors) << c.diagnostics;
  EXPECT_NE(c.withLines.find("      tcp/80 @8\n"), std::string::npos) << c.withLines;
  EXPECT_NE(c.withLines.find("        GET @11\n"), std::string::npos) << c.withLines;
  EXPECT_NE(c.withLines.find("        ; \"/static/**\" @12\n"), std::string::npos) << c.withLines;
  EXPECT_NE(c.diagnostics.find("12:23: warning: spec.egress[].toPorts[].rules.http[].path: '/static/.*' becomes "
                               "\"/static/**\", which also matches /static itself"),
            std::string::npos)
      << c.diagnostics;
}

TEST(K8sCiliumHttp, TheImportedPolicyChecksAndDecidesRequests) {
  Manifests m(kHead + R"(  ingress:
    - fromEndpoints: [{matchLabels: {app: web}}]
      toPorts:
        - ports: [{port: "8080", protocol: TCP}]
          rules: {http: [{method: GET, path: "/api/.*"}]}
)");
  ASSERT_EQ(m.compilation().outcome(), pipeline::Outcome::Ok) << m.diagnostics();
  const auto& ir = *m.compilation().ir;
  bool found = false;
  for (const auto& cls : ir.classes)
    for (const auto& r : cls.ingress.rules)
      if (const auto* h = r.condition<ir::HttpCondition>()) {
        found = true;
        EXPECT_EQ(h->requests, (std::vector<ir::HttpRequestMatch>{{"GET", "/api/**", "", {}}}));
      }
  EXPECT_TRUE(found);
}

std::string errorsOf(const std::string& spec) {
  Manifests m(kHead + spec, false);
  EXPECT_EQ(m.compilation().outcome(), pipeline::Outcome::PolicyErrors) << spec;
  return m.diagnostics();
}

TEST(K8sCiliumHttpErrors, WhatDoesNotMapIsAnErrorAtItsLineAndColumn) {
  struct Case {
    std::string spec;
    std::string expected;  // "LINE:COL: error: ..." within m.yaml; line 6 is the first after the selector
  };
  const std::string port = "  ingress: [{toPorts: [{ports: [{port: \"80\"}], rules: {http: [";
  const std::vector<Case> cases = {
      {port + "{method: \"GET|POST\"}]}}]}]\n",
       "6:76: error: spec.ingress[].toPorts[].rules.http[].method: 'GET|POST': the regular expression '|POST' has no "
       "exact membrane equivalent"},
      {port + "{method: get}]}}]}]\n",
       "6:72: error: spec.ingress[].toPorts[].rules.http[].method: 'get': a method is written in capital letters"},
      {port + "{path: \"/a/.*/b\"}]}}]}]\n",
       "6:74: error: spec.ingress[].toPorts[].rules.http[].path: '/a/.*/b': the regular expression '.*/b' has no "
       "exact membrane equivalent"},
      {port + "{path: \"/a/[^/]+\"}]}}]}]\n",
       "6:74: error: spec.ingress[].toPorts[].rules.http[].path: '/a/[^/]+': the regular expression '[^/]+' has no "
       "exact membrane equivalent"},
      {port + "{path: \"/a/(b|c)\"}]}}]}]\n", "6:74: error: spec.ingress[].toPorts[].rules.http[].path: '/a/(b|c)'"},
      {port + "{path: \"/a//b\"}]}}]}]\n",
       "6:70: error: spec.ingress[].toPorts[].rules.http[].path: '/a//b' as the path pattern \"/a//b\": empty path "
       "segment"},
      {port + "{host: \".*\\\\.example\\\\.com\"}]}}]}]\n",
       "6:71: error: spec.ingress[].toPorts[].rules.http[].host: '.*\\.example\\.com': the regular expression"},
      {port + "{headers: [\"X Y: v\"]}]}}]}]\n",
       "6:74: error: spec.ingress[].toPorts[].rules.http[].headers[]: 'X Y': character byte 0x20 is not allowed"},
      {port + "{headerMatches: [{name: X-K, value: v, mismatch: LOG}]}]}}]}]\n",
       "error: spec.ingress[].toPorts[].rules.http[].headerMatches[]: `mismatch` is not supported"},
      {port + "{headers: [\"X-K\", \"x-k: v\"]}]}}]}]\n", "header 'x-k' is named twice in one entry"},
      {"  ingress: [{toPorts: [{ports: [{port: \"80\", protocol: UDP}], rules: {http: [{method: GET}]}}]}]\n",
       "6:56: error: spec.ingress[].toPorts[].ports[].protocol: HTTP rules need TCP or ANY"},
      {"  ingress: [{toPorts: [{ports: [{port: http}], rules: {http: [{method: GET}]}}]}]\n",
       "6:40: error: spec.ingress[].toPorts[].ports[].port: 'http': membrane's http rules take port numbers"},
      {"  ingress: [{toPorts: [{ports: [{protocol: TCP}], rules: {http: [{method: GET}]}}]}]\n",
       "error: spec.ingress[].toPorts[].ports[]: `rules.http` needs a port (e.g. port \"80\"), not every port"},
      {"  ingress: [{toPorts: [{rules: {http: [{method: GET}]}}]}]\n",
       "error: spec.ingress[].toPorts[]: `rules.http` needs `ports`"},
      {"  ingress: [{toPorts: [{ports: [{port: \"80\"}], rules: {http: []}}]}]\n",
       "error: spec.ingress[].toPorts[].rules.http: an empty list allows no request"},
      {"  egress: [{toPorts: [{ports: [{port: \"53\"}], rules: {http: [{}], dns: [{matchName: a.b}]}}]}]\n",
       "error: spec.egress[].toPorts[].rules: give `dns` or `http`, not both"},
      {"  ingressDeny: [{toPorts: [{ports: [{port: \"80\"}], rules: {http: [{method: GET}]}}]}]\n",
       "`rules` is not supported: Cilium's deny rules have no L7 rules"},
      {"  ingress: [{toPorts: [{ports: [{port: \"80\"}], rules: {kafka: [{topic: t}]}}]}]\n",
       "`kafka` is not supported: Kafka rules are L7 and not supported yet"},
  };
  for (const auto& c : cases) {
    std::string d = errorsOf(c.spec);
    EXPECT_NE(d.find(c.expected), std::string::npos) << "spec:\n" << c.spec << "diagnostics:\n" << d;
  }
}

}  // namespace
}  // namespace membrane::k8s
