// Kubernetes manifests → membrane (compiler/k8s, docs/kubernetes.md).
//
// Most tests compile manifests the way `membranec check` does (pipeline::run
// on a YAML file) and compare the reference evaluator's verdicts on a small
// cluster with what Kubernetes or Cilium would decide: a truth table per
// feature, with flows that must be allowed and flows that must not. Others
// check the generated text, the errors for everything that cannot be
// converted (with file:line:col), List kinds and multi-document files.
#include "k8s/import.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "pipeline/pipeline.h"
#include "evaluator/evaluator.h"
#include "ir_print/ir_json.h"
#include "k8s_test_support.h"

namespace membrane::k8s {
namespace {

namespace fs = std::filesystem;
using ir::FlowEnd;
using ir::Traffic;
using fixtures::kCluster;
using fixtures::Manifests;
using fixtures::TempDir;

const Traffic kTcp80{ir::kTCP, 80}, kTcp8080{ir::kTCP, 8080}, kTcp9090{ir::kTCP, 9090}, kUdp53{ir::kUDP, 53},
    kTcp53{ir::kTCP, 53}, kUdp80{ir::kUDP, 80}, kSctp80{ir::kSCTP, 80}, kIcmpEcho{ir::kICMP, 8};

#define EXPECT_ALLOWED(m, src, dst, t) EXPECT_TRUE((m).allowed(src, dst, t)) << src << " -> " << dst
#define EXPECT_DENIED(m, src, dst, t) EXPECT_FALSE((m).allowed(src, dst, t)) << src << " -> " << dst

// ---- NetworkPolicy: truth tables -------------------------------------------------------

TEST(K8sNetworkPolicy, PodSelectorAndNamedPort) {
  Manifests m(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
    - from: [{podSelector: {matchLabels: {app: web}}}]
      ports: [{port: http}]
)");
  ASSERT_TRUE(m.ok());
  EXPECT_ALLOWED(m, "shop/web-0", "shop/api-0", kTcp8080);  // http is 8080 on api-0
  EXPECT_DENIED(m, "shop/web-0", "shop/api-0", kTcp80);     // web-0's own http does not count
  EXPECT_DENIED(m, "ops/web-0", "shop/api-0", kTcp8080);    // podSelector alone: own namespace only
  EXPECT_DENIED(m, "shop/db-0", "shop/api-0", kTcp8080);
  EXPECT_DENIED(m, "world:198.19.1.1", "shop/api-0", kTcp8080);
  EXPECT_ALLOWED(m, "shop/api-0", "shop/db-0", kTcp80);     // Egress not in policyTypes: open
  EXPECT_ALLOWED(m, "shop/web-0", "shop/db-0", kTcp80);     // db-0 not selected
}

TEST(K8sNetworkPolicy, MatchExpressions) {
  Manifests m(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: exprs, namespace: shop}
spec:
  podSelector:
    matchExpressions:
      - {key: tier, operator: Exists}
      - {key: app, operator: NotIn, values: [db]}
  ingress:
    - from:
        - podSelector:
            matchExpressions:
              - {key: app, operator: In, values: [web, db]}
              - {key: canary, operator: DoesNotExist}
)");
  ASSERT_TRUE(m.ok());
  // Selected: api-0 (tier, app=api). Not: db-0 (app=db), web-0 (no tier).
  EXPECT_ALLOWED(m, "shop/web-0", "shop/api-0", kTcp80);
  EXPECT_ALLOWED(m, "shop/db-0", "shop/api-0", kTcp80);
  EXPECT_DENIED(m, "shop/api-0", "shop/api-0", kTcp80);
  EXPECT_ALLOWED(m, "shop/api-0", "shop/db-0", kTcp80);  // db-0 not selected
  EXPECT_ALLOWED(m, "shop/api-0", "shop/web-0", kTcp80);
}

TEST(K8sNetworkPolicy, NamespaceSelectorAndCombinedPeer) {
  Manifests m(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: combined, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
    - from:
        - namespaceSelector: {matchLabels: {purpose: monitoring}}
          podSelector: {matchLabels: {app: prometheus}}
      ports: [{port: 9090}]
    - from:
        - namespaceSelector: {matchLabels: {purpose: monitoring}}
        - podSelector: {matchLabels: {app: web}}
      ports: [{port: 80}]
)");
  ASSERT_TRUE(m.ok());
  // One element: pod AND namespace.
  EXPECT_ALLOWED(m, "ops/prom-0", "shop/api-0", kTcp9090);
  EXPECT_DENIED(m, "ops/web-0", "shop/api-0", kTcp9090);
  EXPECT_DENIED(m, "shop/web-0", "shop/api-0", kTcp9090);
  // Two elements: pod OR namespace.
  EXPECT_ALLOWED(m, "ops/prom-0", "shop/api-0", kTcp80);
  EXPECT_ALLOWED(m, "ops/web-0", "shop/api-0", kTcp80);
  EXPECT_ALLOWED(m, "shop/web-0", "shop/api-0", kTcp80);
  EXPECT_DENIED(m, "shop/db-0", "shop/api-0", kTcp80);
}

TEST(K8sNetworkPolicy, EmptyNamespaceSelectorIsEveryPodNotOutside) {
  Manifests m(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: pods-only, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress: [{from: [{namespaceSelector: {}}]}]
)");
  ASSERT_TRUE(m.ok());
  EXPECT_ALLOWED(m, "ops/web-0", "shop/api-0", kTcp80);
  EXPECT_ALLOWED(m, "shop/db-0", "shop/api-0", kUdp53);
  EXPECT_DENIED(m, "world:198.19.1.1", "shop/api-0", kTcp80);
  EXPECT_DENIED(m, "host", "shop/api-0", kTcp80);
}

TEST(K8sNetworkPolicy, IpBlockWithExcept) {
  Manifests m(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  egress:
    - to:
        - ipBlock: {cidr: 198.19.0.0/16, except: [198.19.66.0/24, 198.19.67.0/24]}
        - ipBlock: {cidr: "2001:2:ff::/48", except: ["2001:2:ff:1::/64"]}
)");
  ASSERT_TRUE(m.ok());
  EXPECT_ALLOWED(m, "shop/web-0", "world:198.19.1.1", kTcp80);
  EXPECT_ALLOWED(m, "shop/web-0", "world:198.19.68.1", kUdp53);
  EXPECT_DENIED(m, "shop/web-0", "world:198.19.66.5", kTcp80);
  EXPECT_DENIED(m, "shop/web-0", "world:198.19.67.5", kTcp80);
  EXPECT_DENIED(m, "shop/web-0", "world:198.20.0.1", kTcp80);
  EXPECT_ALLOWED(m, "shop/web-0", "world:2001:2:ff:2::1", kTcp80);
  EXPECT_DENIED(m, "shop/web-0", "world:2001:2:ff:1::1", kTcp80);
  EXPECT_DENIED(m, "shop/web-0", "world:2001:2:fe::1", kTcp80);
  EXPECT_DENIED(m, "shop/web-0", "shop/api-0", kTcp80);  // egress restricted: pods not in the block
  // Egress rules present, no policyTypes: Ingress is still restricted.
  EXPECT_DENIED(m, "shop/api-0", "shop/web-0", kTcp80);
}

TEST(K8sNetworkPolicy, PortsProtocolsAndRanges) {
  Manifests m(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ports, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
    - ports:
        - {port: 80}
        - {protocol: UDP, port: 53}
        - {protocol: SCTP, port: 9000, endPort: 9010}
        - {port: 8000, endPort: 8010}
)");
  ASSERT_TRUE(m.ok());
  EXPECT_ALLOWED(m, "shop/web-0", "shop/api-0", kTcp80);
  EXPECT_DENIED(m, "shop/web-0", "shop/api-0", kUdp80);   // default protocol is TCP only
  EXPECT_DENIED(m, "shop/web-0", "shop/api-0", kSctp80);
  EXPECT_ALLOWED(m, "shop/web-0", "shop/api-0", kUdp53);
  EXPECT_DENIED(m, "shop/web-0", "shop/api-0", kTcp53);
  EXPECT_ALLOWED(m, "shop/web-0", "shop/api-0", (Traffic{ir::kSCTP, 9010}));
  EXPECT_DENIED(m, "shop/web-0", "shop/api-0", (Traffic{ir::kSCTP, 9011}));
  EXPECT_ALLOWED(m, "shop/web-0", "shop/api-0", (Traffic{ir::kTCP, 8000}));
  EXPECT_DENIED(m, "shop/web-0", "shop/api-0", (Traffic{ir::kTCP, 7999}));
  EXPECT_DENIED(m, "shop/web-0", "shop/api-0", kIcmpEcho);
  // No `from`: every source, pods, outside and the node.
  EXPECT_ALLOWED(m, "world:198.19.1.1", "shop/api-0", kTcp80);
  EXPECT_ALLOWED(m, "host", "shop/api-0", kTcp80);
  EXPECT_ALLOWED(m, "ops/web-0", "shop/api-0", kTcp80);
}

TEST(K8sNetworkPolicy, ProtocolWithoutPortMeansEveryPort) {
  Manifests m(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: udp, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress: [{from: [], ports: [{protocol: UDP}]}]
)");
  ASSERT_TRUE(m.ok());
  EXPECT_ALLOWED(m, "world:198.19.1.1", "shop/api-0", kUdp53);
  EXPECT_ALLOWED(m, "shop/web-0", "shop/api-0", kUdp80);
  EXPECT_DENIED(m, "shop/web-0", "shop/api-0", kTcp80);
}

TEST(K8sNetworkPolicy, EmptyIngressDeniesAllAndMissingPortsAllowAll) {
  Manifests m(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec:
  podSelector: {}
  ingress: []
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: []}]
)");
  ASSERT_TRUE(m.ok());
  EXPECT_DENIED(m, "shop/web-0", "shop/api-0", kTcp80);
  EXPECT_DENIED(m, "world:198.19.1.1", "shop/web-0", kTcp80);
  EXPECT_ALLOWED(m, "shop/web-0", "shop/db-0", kTcp80);  // `ports: []`: every port and protocol
  EXPECT_ALLOWED(m, "shop/web-0", "shop/db-0", kUdp53);
  EXPECT_ALLOWED(m, "shop/web-0", "shop/db-0", kIcmpEcho);
  EXPECT_DENIED(m, "shop/api-0", "shop/db-0", kTcp80);
  EXPECT_ALLOWED(m, "shop/api-0", "ops/web-0", kTcp80);  // egress untouched
}

TEST(K8sNetworkPolicy, PolicyTypes) {
  Manifests m(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-only, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  ingress: [{}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: both, namespace: ops}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
)");
  ASSERT_TRUE(m.ok());
  // [Egress]: the ingress rules are ignored, with a warning.
  EXPECT_ALLOWED(m, "shop/api-0", "shop/web-0", kTcp80);
  EXPECT_DENIED(m, "shop/web-0", "shop/api-0", kTcp80);
  EXPECT_DENIED(m, "shop/web-0", "world:198.19.1.1", kTcp80);
  EXPECT_NE(m.diagnostics().find("warning: these ingress rules have no effect"), std::string::npos)
      << m.diagnostics();
  // Both listed, no rules: all denied both ways.
  EXPECT_DENIED(m, "ops/web-0", "ops/prom-0", kTcp80);
  EXPECT_DENIED(m, "shop/api-0", "ops/prom-0", kTcp80);
  EXPECT_DENIED(m, "ops/prom-0", "world:198.19.1.1", kUdp53);
}

TEST(K8sNetworkPolicy, MultipleRulesAndPeersAreAUnion) {
  Manifests m(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
    - from: [{podSelector: {matchLabels: {app: api}}}, {ipBlock: {cidr: 198.19.5.0/24}}]
      ports: [{port: 5432}]
    - from: [{podSelector: {matchLabels: {app: web}}}]
      ports: [{port: 6379}]
)");
  ASSERT_TRUE(m.ok());
  EXPECT_ALLOWED(m, "shop/api-0", "shop/db-0", (Traffic{ir::kTCP, 5432}));
  EXPECT_ALLOWED(m, "world:198.19.5.9", "shop/db-0", (Traffic{ir::kTCP, 5432}));
  EXPECT_DENIED(m, "shop/api-0", "shop/db-0", (Traffic{ir::kTCP, 6379}));
  EXPECT_ALLOWED(m, "shop/web-0", "shop/db-0", (Traffic{ir::kTCP, 6379}));
  EXPECT_DENIED(m, "shop/web-0", "shop/db-0", (Traffic{ir::kTCP, 5432}));
}

// Kubernetes resolves an egress named port in each destination pod; so does
// membrane, so the conversion is exact and says nothing.
TEST(K8sNetworkPolicy, EgressNamedPortUsesEachDestinationsOwnNumber) {
  Manifests m(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  egress: [{ports: [{port: http}]}]
)");
  ASSERT_TRUE(m.ok());
  EXPECT_ALLOWED(m, "shop/web-0", "shop/api-0", kTcp8080);
  EXPECT_DENIED(m, "shop/web-0", "shop/api-0", kTcp80) << "80 is http on web-0, not on api-0";
  EXPECT_DENIED(m, "shop/web-0", "shop/db-0", kTcp80) << "db-0 defines no http";
  EXPECT_DENIED(m, "shop/web-0", "shop/db-0", kTcp8080);
  EXPECT_DENIED(m, "shop/web-0", "world:198.19.5.9", kTcp80) << "outside the cluster nothing defines http";
  EXPECT_EQ(m.diagnostics().find("warning"), std::string::npos) << m.diagnostics();
}

// ---- Cilium: truth tables ----------------------------------------------------------------

TEST(K8sCilium, EndpointsNamespacesAndPorts) {
  Manifests m(R"(apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  endpointSelector: {matchLabels: {"k8s:app": api}}
  ingress:
    - fromEndpoints:
        - matchLabels: {app: web}
        - matchLabels: {"k8s:io.kubernetes.pod.namespace": ops, app: prometheus}
      toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
    - fromEndpoints: [{matchLabels: {"io.cilium.k8s.namespace.labels.purpose": monitoring}}]
      toPorts: [{ports: [{port: "53"}]}]
)");
  ASSERT_TRUE(m.ok());
  EXPECT_ALLOWED(m, "shop/web-0", "shop/api-0", kTcp8080);
  EXPECT_DENIED(m, "ops/web-0", "shop/api-0", kTcp8080);  // CNP: own namespace unless named
  EXPECT_ALLOWED(m, "ops/prom-0", "shop/api-0", kTcp8080);
  EXPECT_DENIED(m, "shop/db-0", "shop/api-0", kTcp8080);
  // No protocol: ANY = TCP, UDP and SCTP.
  EXPECT_ALLOWED(m, "ops/web-0", "shop/api-0", kUdp53);
  EXPECT_ALLOWED(m, "ops/web-0", "shop/api-0", kTcp53);
  EXPECT_ALLOWED(m, "ops/web-0", "shop/api-0", (Traffic{ir::kSCTP, 53}));
  EXPECT_DENIED(m, "ops/web-0", "shop/api-0", kTcp80);
  EXPECT_DENIED(m, "shop/web-0", "shop/api-0", kUdp53);
}

TEST(K8sCilium, EntitiesCidrSetsIcmpAndDeny) {
  Manifests m(R"(apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  egress:
    - toEntities: [host]
    - toCIDRSet: [{cidr: 198.19.0.0/16, except: [198.19.66.0/24]}]
      toPorts: [{ports: [{port: "443", protocol: TCP}]}]
      icmps: [{fields: [{type: EchoRequest}, {type: 128, family: IPv6}]}]
    - toCIDR: [198.20.0.0/16]
  egressDeny:
    - toCIDR: [198.20.1.0/24]
)");
  ASSERT_TRUE(m.ok());
  EXPECT_ALLOWED(m, "shop/web-0", "host", kTcp80);
  EXPECT_ALLOWED(m, "shop/web-0", "world:198.19.1.1", (Traffic{ir::kTCP, 443}));
  EXPECT_ALLOWED(m, "shop/web-0", "world:198.19.1.1", kIcmpEcho);
  EXPECT_DENIED(m, "shop/web-0", "world:198.19.1.1", kTcp80);
  EXPECT_DENIED(m, "shop/web-0", "world:198.19.66.1", (Traffic{ir::kTCP, 443}));
  EXPECT_ALLOWED(m, "shop/web-0", "world:198.20.2.1", kUdp53);
  EXPECT_DENIED(m, "shop/web-0", "world:198.20.1.1", kUdp53);  // deny wins
  EXPECT_DENIED(m, "shop/web-0", "shop/api-0", kTcp80);
}

TEST(K8sCilium, ClusterwideSpecsAndEmptyRule) {
  Manifests m(R"(apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: web}
specs:
  - endpointSelector: {matchLabels: {app: web}}
    ingress:
      - fromEndpoints: [{matchLabels: {app: prometheus}}]
  - endpointSelector: {matchLabels: {app: db}}
    ingress: [{}]
    ingressDeny:
      - fromEntities: [world]
        toPorts: [{ports: [{port: "22"}]}]
)");
  ASSERT_TRUE(m.ok());
  // Clusterwide: endpoints of every namespace, peers in every namespace.
  EXPECT_ALLOWED(m, "ops/prom-0", "shop/web-0", kTcp80);
  EXPECT_ALLOWED(m, "ops/prom-0", "ops/web-0", kTcp80);
  EXPECT_DENIED(m, "shop/api-0", "ops/web-0", kTcp80);
  // `ingress: [{}]`: default deny, nothing allowed.
  EXPECT_DENIED(m, "shop/api-0", "shop/db-0", kTcp80);
  EXPECT_DENIED(m, "host", "shop/db-0", kTcp80);
  ASSERT_TRUE(m.compilation().checked);
  std::vector<std::string> names;
  for (const auto& c : m.compilation().ir->classes)
    for (const auto& p : c.policies) names.push_back(p);
  EXPECT_NE(std::find(names.begin(), names.end(), "web-1"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "web-2"), names.end());
  EXPECT_EQ(m.diagnostics().find("empty endpoint selector"), std::string::npos) << m.diagnostics();
}

TEST(K8sCilium, EmptySelectorInAClusterwidePolicyWarns) {
  Manifests m(R"(apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: all-pods}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress: [{fromEndpoints: [{}]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: own-ns, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress: [{fromEndpoints: [{}]}]
)");
  ASSERT_TRUE(m.ok());
  EXPECT_ALLOWED(m, "ops/web-0", "shop/db-0", kTcp80);
  EXPECT_DENIED(m, "host", "shop/db-0", kTcp80);
  EXPECT_DENIED(m, "ops/web-0", "shop/api-0", kTcp80);  // CNP: its namespace only
  EXPECT_ALLOWED(m, "shop/web-0", "shop/api-0", kTcp80);
  std::string d = m.diagnostics();
  EXPECT_NE(d.find(":" + std::to_string(Manifests::line(6)) + ":30: warning: an empty endpoint selector"),
            std::string::npos)
      << d;
  EXPECT_EQ(d.find(":" + std::to_string(Manifests::line(13)) + ":"), std::string::npos) << d;
}

TEST(K8sCilium, EntitiesAllAndCluster) {
  Manifests m(R"(apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress: [{fromEntities: [cluster]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress: [{fromEntities: [all], toPorts: [{ports: [{port: "5432", protocol: TCP}]}]}]
)");
  ASSERT_TRUE(m.ok());
  EXPECT_ALLOWED(m, "ops/web-0", "shop/api-0", kTcp80);
  EXPECT_ALLOWED(m, "host", "shop/api-0", kTcp80);
  EXPECT_DENIED(m, "world:198.19.1.1", "shop/api-0", kTcp80);
  EXPECT_ALLOWED(m, "world:198.19.1.1", "shop/db-0", (Traffic{ir::kTCP, 5432}));
  EXPECT_DENIED(m, "world:198.19.1.1", "shop/db-0", kTcp80);
  EXPECT_NE(m.diagnostics().find("warning: entity 'cluster'"), std::string::npos);
}

TEST(K8sCilium, ClusterwideForOneNamespace) {
  Manifests m(R"(apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: ops-web}
spec:
  endpointSelector: {matchLabels: {"k8s:io.kubernetes.pod.namespace": ops, app: web}}
  ingress: [{fromEndpoints: [{matchLabels: {app: api}}]}]
)");
  ASSERT_TRUE(m.ok());
  // Selects ops/web-0 only; the peer matches api pods of every namespace.
  EXPECT_ALLOWED(m, "shop/api-0", "ops/web-0", kTcp80);
  EXPECT_DENIED(m, "shop/db-0", "ops/web-0", kTcp80);
  EXPECT_ALLOWED(m, "shop/db-0", "shop/web-0", kTcp80);
  const ir::Endpoint* e = m.compilation().ir->findEndpoint("ops", "web-0");
  ASSERT_TRUE(e->classIndex);
  EXPECT_EQ(m.compilation().ir->classes[*e->classIndex].policies, std::vector<std::string>{"ops/ops-web"});
}

TEST(K8sCilium, PortZeroIsTheWildcard) {
  Manifests m(R"(apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: web}}]
      toPorts: [{ports: [{port: "0", protocol: ANY}]}]
    - fromEndpoints: [{matchLabels: {app: db}}]
      toPorts: [{ports: [{port: "0", protocol: UDP}]}]
)");
  ASSERT_TRUE(m.ok());
  // 0/ANY: every protocol, ICMP included.
  EXPECT_ALLOWED(m, "shop/web-0", "shop/api-0", kIcmpEcho);
  EXPECT_ALLOWED(m, "shop/web-0", "shop/api-0", kTcp80);
  // 0/UDP: every UDP port, nothing else.
  EXPECT_ALLOWED(m, "shop/db-0", "shop/api-0", kUdp53);
  EXPECT_DENIED(m, "shop/db-0", "shop/api-0", kTcp80);
  EXPECT_DENIED(m, "shop/db-0", "shop/api-0", kIcmpEcho);
}

// ---- errors ------------------------------------------------------------------------------

// Compiles one Cilium object (no cluster) and returns the diagnostics.
std::string ciliumErrors(const std::string& spec) {
  Manifests m("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: shop}\nspec:\n" +
                  spec,
              false);
  EXPECT_EQ(m.compilation().outcome(), pipeline::Outcome::PolicyErrors) << spec;
  return m.diagnostics();
}

TEST(K8sCiliumErrors, EveryUnsupportedFieldIsAnErrorAtItsLine) {
  struct Case {
    std::string spec;
    std::string expected;  // "LINE:COL: error: ..." within m.yaml
  };
  // Line 5 is the first line of `spec`.
  const std::vector<Case> cases = {
      {"  nodeSelector: {}\n", "5:3: error: spec: `nodeSelector` is not supported"},
      {"  endpointSelector: {}\n  egress: [{toServices: [{k8sService: {serviceName: a}, k8sServiceSelector: {}}]}]\n",
       "6:26: error: spec.egress[].toServices[]: give `k8sService` or `k8sServiceSelector`, not both"},
      {"  endpointSelector: {}\n  ingress: [{toServices: [{k8sService: {serviceName: a}}]}]\n",
       "6:14: error: spec.ingress[]: unknown field `toServices`"},
      {"  endpointSelector: {}\n  egress: [{toGroups: [{aws: {}}]}]\n", "`toGroups` is not supported"},
      {"  endpointSelector: {}\n  ingress: [{fromGroups: [{aws: {}}]}]\n", "`fromGroups` is not supported"},
      {"  endpointSelector: {}\n  ingress: [{fromRequires: [{}]}]\n", "`fromRequires` is not supported"},
      {"  endpointSelector: {}\n  egress: [{toRequires: [{}]}]\n", "`toRequires` is not supported"},
      {"  endpointSelector: {}\n  ingress: [{fromNodes: [{}]}]\n", "`fromNodes` is not supported"},
      {"  endpointSelector: {}\n  egress: [{toNodes: [{}]}]\n", "`toNodes` is not supported"},
      {"  endpointSelector: {}\n  ingress: [{authentication: {mode: required}}]\n",
       "`authentication` is not supported"},
      {"  endpointSelector: {}\n  ingress:\n    - toPorts:\n        - ports: [{port: \"80\"}]\n"
       "          rules: {l7proto: x}\n",
       "9:19: error: spec.ingress[].toPorts[].rules: `l7proto` is not supported: L7 protocol parsers are not "
       "supported yet"},
      {"  endpointSelector: {}\n  egress:\n    - toPorts:\n        - ports: [{port: \"9092\"}]\n"
       "          rules: {kafka: [{topic: t}]}\n",
       "9:19: error: spec.egress[].toPorts[].rules: `kafka` is not supported: Kafka rules are L7"},
      {"  endpointSelector: {}\n  egress: [{toPorts: [{ports: [{port: \"80\"}], rules: {l7proto: x}}]}]\n",
       "`l7proto` is not supported"},
      {"  endpointSelector: {}\n  egress: [{toPorts: [{serverNames: [a.example]}]}]\n",
       "`serverNames` is not supported"},
      {"  endpointSelector: {}\n  egress: [{toPorts: [{listener: {name: x}}]}]\n", "`listener` is not supported"},
      {"  endpointSelector: {}\n  egress: [{toPorts: [{terminatingTLS: {}}]}]\n",
       "`terminatingTLS` is not supported"},
      {"  endpointSelector: {}\n  egress: [{toPorts: [{originatingTLS: {}}]}]\n",
       "`originatingTLS` is not supported"},
      {"  endpointSelector: {}\n  egress: [{toEntities: [kube-apiserver]}]\n",
       "6:26: error: spec.egress[].toEntities[]: entity 'kube-apiserver' has no membrane equivalent"},
      {"  endpointSelector: {}\n  egress: [{toEntities: [remote-node]}]\n",
       "entity 'remote-node' has no membrane equivalent: other nodes are not in membrane's inventory"},
      {"  endpointSelector: {}\n  egress: [{toEntities: [health]}]\n", "entity 'health' has no"},
      // Each refused entity says why, and what to write instead.
      {"  endpointSelector: {}\n  egress: [{toEntities: [world-ipv4]}]\n",
       "membrane's `world` has no address family\n"},
      {"  endpointSelector: {}\n  egress: [{toEntities: [world-ipv6]}]\n", "or toCIDR ::/0, which also covers"},
      {"  endpointSelector: {}\n  ingress: [{fromEntities: [kube-apiserver]}]\n",
       "hint: allow its addresses with toCIDR, or its pods with toEndpoints"},
      {"  endpointSelector: {}\n  ingress: [{fromEntities: [init]}]\n", "labels are not known yet"},
      {"  endpointSelector: {}\n  ingress: [{fromEntities: [ingress]}]\n", "embedded ingress proxy"},
      {"  endpointSelector: {}\n  ingress: [{fromEntities: [unmanaged]}]\n", "does not manage"},
      {"  endpointSelector: {}\n  egress: [{toEntities: [wrld]}]\n", "hint: Cilium's entities: world, cluster"},
      {"  endpointSelector: {}\n  egress: [{toEntities: [wrld]}]\n", "entity 'wrld' is not a Cilium entity"},
      {"  endpointSelector: {}\n  egress: [{toCIDRSet: [{cidrGroupRef: grp}]}]\n", "`cidrGroupRef` is not supported"},
      {"  endpointSelector: {}\n  enableDefaultDeny: {ingress: false}\n  ingress: [{}]\n",
       "enableDefaultDeny.ingress: false is not supported"},
      {"  endpointSelector: {matchLabels: {\"reserved:host\": \"\"}}\n  ingress: [{}]\n",
       "label 'reserved:host' with source 'reserved:' is not supported"},
      {"  endpointSelector: {matchLabels: {\"io.kubernetes.pod.namespace\": ops}}\n  ingress: [{}]\n",
       "selecting endpoints by namespace is not supported"},
      {"  endpointSelector: {}\n  ingress: [{fromEndpoints: [{matchLabels: "
       "{\"io.cilium.k8s.policy.cluster\": x}}]}]\n",
       "label 'io.cilium.k8s.policy.cluster' is derived by Cilium"},
      {"  endpointSelector: {}\n  egress: [{toPorts: [{ports: [{port: \"80\", protocol: ICMP}]}]}]\n",
       "unknown protocol 'ICMP' (expected TCP, UDP, SCTP or ANY)"},
      {"  endpointSelector: {}\n  egress: [{icmps: [{fields: [{type: EchoRequst}]}]}]\n",
       "unknown ICMP type 'EchoRequst'"},
      {"  endpointSelector: {}\n  egress: [{icmps: [{fields: [{type: PacketTooBig}]}]}]\n",
       "unknown ICMP type 'PacketTooBig'"},  // an ICMPv6 name without family: IPv6
      {"  endpointSelector: {}\n  egres: []\n", "6:3: error: spec: unknown field `egres`"},
  };
  for (const auto& c : cases) {
    std::string d = ciliumErrors(c.spec);
    EXPECT_NE(d.find(c.expected), std::string::npos) << "spec:\n" << c.spec << "diagnostics:\n" << d;
    EXPECT_NE(d.find("m.yaml:"), std::string::npos) << d;
  }
}

TEST(K8sCiliumErrors, SupportedRuleHasNoErrors) {
  // The control for the table above: the same shapes without the bad field.
  Manifests m(R"(apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {matchLabels: {"k8s:io.kubernetes.pod.namespace": shop}}  # its own: fine
  enableDefaultDeny: {ingress: true, egress: true}
  egress: [{toEntities: [host], toPorts: [{ports: [{port: "80"}]}]}]
)");
  EXPECT_TRUE(m.ok());
}

TEST(K8sNetworkPolicyErrors, InvalidFieldsAreErrorsAtTheirLine) {
  struct Case {
    std::string spec;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"  podSelector: {}\n  ingress: [{from: [{}]}]\n", "needs `podSelector`, `namespaceSelector` or `ipBlock`"},
      {"  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 198.18.0.0/16}, podSelector: {}}]}]\n",
       "`ipBlock` cannot be combined"},
      {"  podSelector: {}\n  ingress: [{ports: [{port: http, endPort: 90}]}]\n",
       "endPort: needs a numeric `port`"},
      {"  podSelector: {}\n  ingress: [{ports: [{port: 90, endPort: 80}]}]\n",
       "endPort: 80 must be between port 90 and 65535"},
      {"  podSelector: {}\n  ingress: [{ports: [{port: 70000}]}]\n", "70000 is out of range"},
      {"  podSelector: {}\n  ingress: [{ports: [{port: \"80\"}]}]\n", "neither a port number nor a valid port name"},
      {"  podSelector: {}\n  ingress: [{ports: [{protocol: tcp}]}]\n", "unknown protocol 'tcp'"},
      {"  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 198.18.0.0/33}}]}]\n",
       "'198.18.0.0/33' is not an IPv4 or IPv6 CIDR"},
      {"  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 198.18.1.0/15}}]}]\n",
       "6:38: error: CIDR '198.18.1.0/15' has host bits set"},
      {"  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 198.18.1.7}}]}]\n",
       "6:38: error: NetworkPolicyPeer.ipBlock.cidr: '198.18.1.7' is an address, not a CIDR: the API server refuses it"},
      {"  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: \"2001:2::/48\", except: [\"2001:2::7\"]}}]}]\n",
       "'2001:2::7' is an address, not a CIDR"},
      {"  podSelector: {matchExpressions: [{key: a, operator: In, values: []}]}\n  ingress: []\n",
       "operator In needs at least one value"},
      {"  podSelector: {matchExpressions: [{key: a, operator: Exist}]}\n  ingress: []\n",
       "unknown operator 'Exist'"},
      {"  podSelector: {}\n  policyTypes: [Ingres]\n", "unknown policy type 'Ingres'"},
      {"  podSelector: {}\n  ingres: []\n", "6:3: error: NetworkPolicy spec: unknown field `ingres`"},
      {"  podSelector: {}\nspecs: []\n", "6:1: error: NetworkPolicy: unknown field `specs`"},
  };
  for (const auto& c : cases) {
    Manifests m("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: shop}\n"
                "spec:\n" + c.spec,
                false);
    std::string d = m.diagnostics();
    EXPECT_EQ(m.compilation().outcome(), pipeline::Outcome::PolicyErrors) << c.spec << d;
    EXPECT_NE(d.find(c.expected), std::string::npos) << "spec:\n" << c.spec << "diagnostics:\n" << d;
  }
}

TEST(K8sManifests, MalformedYamlIsReportedWithLineAndColumn) {
  Manifests m("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n   labels: {x: y}\n", false);
  EXPECT_EQ(m.compilation().outcome(), pipeline::Outcome::PolicyErrors);
  std::string d = m.diagnostics();
  EXPECT_NE(d.find("m.yaml:5:"), std::string::npos) << d;
  EXPECT_NE(d.find("error: invalid YAML"), std::string::npos) << d;
}

TEST(K8sManifests, UnsupportedApiVersionOfAPolicyIsAnError) {
  Manifests m("apiVersion: extensions/v1beta1\nkind: NetworkPolicy\nmetadata: {name: a}\nspec: {podSelector: {}}\n",
              false);
  EXPECT_NE(m.diagnostics().find("1:13: error: extensions/v1beta1 NetworkPolicy a: membrane does not enforce this kind of policy (it "
                                     "reads NetworkPolicy in apiVersion networking.k8s.io/v1 only)"), std::string::npos)
      << m.diagnostics();
}

TEST(K8sManifests, DuplicateObjectsAreErrors) {
  std::string np = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, namespace: shop}\n"
                   "spec: {podSelector: {}}\n";
  Manifests dup(np + "---\n" + np, false);
  EXPECT_NE(dup.diagnostics().find("NetworkPolicy shop/a is defined twice"), std::string::npos) << dup.diagnostics();
  std::string inOps = np;
  inOps.replace(inOps.find("shop"), 4, "ops");
  Manifests otherNs(np + "---\n" + inOps, false);
  EXPECT_TRUE(otherNs.ok());
}

// ---- inventory, Lists, multi-document ------------------------------------------------------

TEST(K8sInventory, ListsWorkloadsAndAddresses) {
  Manifests m(R"(apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Namespace
    metadata: {name: shop, labels: {team: web}}
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: api, namespace: shop}
    spec:
      replicas: 3
      template:
        metadata: {labels: {app: api}}
        spec: {containers: [{name: api, ports: [{name: http, containerPort: 8080}]}]}
  - apiVersion: batch/v1
    kind: CronJob
    metadata: {name: report, namespace: shop}
    spec:
      jobTemplate:
        spec:
          template:
            metadata: {labels: {app: report}}
            spec: {containers: [{name: r}]}
---
apiVersion: v1
kind: PodList
items:
  - metadata: {name: web-0, namespace: shop, labels: {app: web}}
    status: {podIP: 198.18.1.20}
---
kind: NamespaceList
apiVersion: v1
items:
  - metadata: {name: ops}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: db-0
  namespace: shop
  labels: {app: db}
  ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: db, controller: true, uid: u}]
status: {podIP: 198.18.1.30}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: http}]}]
)",
              false);
  ASSERT_TRUE(m.ok());
  const auto& inv = m.compilation().inventory;
  ASSERT_NE(inv.findNamespace("ops"), nullptr);
  EXPECT_EQ(inv.namespaceLabels("shop").size(), 2u);  // team + the name label
  const auto* api = inv.findEndpoint("shop", "api");
  ASSERT_NE(api, nullptr);
  EXPECT_TRUE(api->addresses.empty());
  EXPECT_EQ(api->workload, "api");
  ASSERT_EQ(api->ports.size(), 1u);
  EXPECT_EQ(api->ports[0].port, 8080);
  ASSERT_NE(inv.findEndpoint("shop", "report"), nullptr);
  ASSERT_NE(inv.findEndpoint("shop", "web-0"), nullptr);
  // The StatefulSet's pod was given, so it stands for the StatefulSet.
  EXPECT_EQ(inv.findEndpoint("shop", "db"), nullptr);
  ASSERT_NE(inv.findEndpoint("shop", "db-0"), nullptr);
  EXPECT_EQ(inv.findEndpoint("shop", "db-0")->workload, "db");
  // The address-less Deployment endpoint is selected and gets a class.
  const ir::Endpoint* irApi = m.compilation().ir->findEndpoint("shop", "api");
  ASSERT_NE(irApi, nullptr);
  EXPECT_TRUE(irApi->classIndex.has_value());
  // As a destination it is known by identity, so web-0 reaches it on http.
  FlowEnd dst{irApi, *net::Address::parse("198.18.1.99"), false};
  EXPECT_TRUE(ir::evaluateFlow(m.compilation().ir.value(), m.end("shop/web-0"), dst, kTcp8080).allowed());
  EXPECT_FALSE(ir::evaluateFlow(m.compilation().ir.value(), m.end("shop/web-0"), dst, kTcp80).allowed());
}

TEST(K8sManifests, TypedPolicyListItemsMayOmitKind) {
  Manifests m(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicyList
items:
  - metadata: {name: deny-web, namespace: shop}
    spec: {podSelector: {matchLabels: {app: web}}}
)");
  ASSERT_TRUE(m.ok());
  EXPECT_DENIED(m, "shop/api-0", "shop/web-0", kTcp80);
  EXPECT_ALLOWED(m, "shop/web-0", "shop/api-0", kTcp80);
}

TEST(K8sInventory, BadPodAddressIsAnErrorAtItsLine) {
  Manifests m("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nstatus:\n  podIP: 198.18.0.256\n", false);
  EXPECT_NE(m.diagnostics().find("m.yaml:5:10: error: '198.18.0.256' is not an IPv4 or IPv6 address"),
            std::string::npos)
      << m.diagnostics();
}

TEST(K8sInventory, NamespaceNameLabelMustMatch) {
  Manifests bad("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {kubernetes.io/metadata.name: web}\n",
                false);
  EXPECT_NE(bad.diagnostics().find("m.yaml:5:11: error: label kubernetes.io/metadata.name must equal"),
            std::string::npos)
      << bad.diagnostics();
  Manifests good("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {kubernetes.io/metadata.name: shop}\n",
                 false);
  EXPECT_TRUE(good.ok());
}

TEST(K8sInventory, NodesGiveTheirNameLabelsAndInternalAndExternalAddresses) {
  // As `kubectl get nodes -o yaml` prints them: a List, with fields membrane
  // does not read (spec, capacity, conditions) and address types it skips.
  const char* nodes = R"(apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Node
    metadata:
      name: worker-1
      labels: {role: worker, kubernetes.io/hostname: worker-1}
    spec: {podCIDR: 198.18.64.0/24}
    status:
      capacity: {cpu: "4"}
      addresses:
        - {type: InternalIP, address: 198.18.200.11}
        - {type: ExternalIP, address: "2001:2::c8:11"}
        - {type: Hostname, address: worker-1}
        - {type: InternalDNS, address: worker-1.cluster.internal}
  - apiVersion: v1
    kind: Node
    metadata: {name: cp-1, labels: {node-role.kubernetes.io/control-plane: ""}}
    status: {addresses: [{type: InternalIP, address: 198.18.200.1}]}
)";
  TempDir dir;
  std::string path = dir.write("nodes.yaml", nodes);
  SourceManager sources;
  DiagnosticEngine diags(sources);
  std::string error;
  auto id = sources.load(path, &error);
  ASSERT_TRUE(id) << error;
  ImportResult r = importManifests({*id}, sources, diags);
  std::ostringstream out;
  diags.print(out, false);
  // Modelled now: no "skipped" note.
  EXPECT_TRUE(diags.all().empty()) << out.str();
  EXPECT_TRUE(r.hasInventory());
  EXPECT_EQ(r.skipped, 0u);
  EXPECT_EQ(r.inventory["nodes"].dump(),
            R"([{"addresses":["198.18.200.11","2001:2::c8:11"],"labels":{"kubernetes.io/hostname":"worker-1",)"
            R"("role":"worker"},"name":"worker-1"},{"addresses":["198.18.200.1"],"labels":)"
            R"({"node-role.kubernetes.io/control-plane":""},"name":"cp-1"}])");
  // Compiled directly, they are the compile's inventory.
  Manifests m(nodes, false);
  ASSERT_TRUE(m.ok());
  const auto& inv = m.compilation().inventory;
  ASSERT_EQ(inv.nodes.size(), 2u);
  EXPECT_EQ(inv.nodes[0].name, "cp-1");
  const inventory::Node* worker = inv.findNode("worker-1");
  ASSERT_NE(worker, nullptr);
  EXPECT_EQ(worker->labels.at("role"), "worker");
  ASSERT_EQ(worker->addresses.size(), 2u);
  EXPECT_EQ(worker->addresses[1].str(), "2001:2::c8:11");
}

TEST(K8sInventory, NodeMistakesAreErrorsAtTheirLine) {
  Manifests bad("apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus:\n  addresses:\n"
                "    - {type: InternalIP, address: 198.18.200.300}\n",
                false);
  EXPECT_NE(bad.diagnostics().find("m.yaml:6:35: error: '198.18.200.300' is not an IPv4 or IPv6 address"),
            std::string::npos)
      << bad.diagnostics();
  Manifests label("apiVersion: v1\nkind: Node\nmetadata: {name: n1, labels: {\"bad key\": x}}\n", false);
  EXPECT_NE(label.diagnostics().find("m.yaml:3:31: error: "), std::string::npos) << label.diagnostics();
  Manifests name("apiVersion: v1\nkind: Node\nmetadata: {name: Node_1}\n", false);
  EXPECT_NE(name.diagnostics().find("m.yaml:3:18: error: "), std::string::npos) << name.diagnostics();
  std::string node = "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n";
  Manifests twice(node + "---\n" + node, false);
  EXPECT_NE(twice.diagnostics().find("Node n1 is defined twice"), std::string::npos) << twice.diagnostics();
  Manifests noType("apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus: {addresses: [{address: 198.18.200.1}]}\n",
                   false);
  EXPECT_NE(noType.diagnostics().find("error: status.addresses[]: `type` is required"), std::string::npos)
      << noType.diagnostics();
}

// ---- generated text ------------------------------------------------------------------------

TEST(K8sText, OutputIsFormattedAndNamesTheSource) {
  TempDir dir;
  std::string path = dir.write("api.yaml", R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector:
    matchLabels: {app: api, "app.kubernetes.io/version": "1.2"}
  ingress:
    - from:
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ops}}
          podSelector: {}
        - ipBlock: {cidr: 198.19.0.0/16, except: [198.19.1.0/24, 198.19.2.0/24]}
      ports: [{port: 80}, {protocol: UDP, port: 53}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  endpointSelector: {}
  egress: [{toEntities: [world]}]
)");
  SourceManager sources;
  DiagnosticEngine diags(sources);
  std::string error;
  FileId id = *sources.load(path, &error);
  ImportResult r = importManifests({id}, sources, diags);
  ASSERT_FALSE(diags.hasErrors());
  ASSERT_EQ(r.policies.size(), 2u);
  EXPECT_EQ(r.policies[1].name, "api-cnp");  // the NetworkPolicy keeps the name
  std::string text = renderForOutput(r.policies, "");
  const std::string expected = "# from networking.k8s.io/v1 NetworkPolicy shop/api (" + path + ":1)\n" +
                               R"(policy api {
  namespace shop
  selects { app = api, app.kubernetes.io/version = "1.2" }
  ingress {
    allow from pods {} in namespace ops, cidr 198.19.0.0/16 except (198.19.1.0/24, 198.19.2.0/24) on tcp/80, udp/53
  }
}

# from cilium.io/v2 CiliumNetworkPolicy shop/api ()" +
                               path + R"(:14)
policy api-cnp {
  namespace shop
  selects {}
  egress {
    allow to world
  }
}
)";
  EXPECT_EQ(text, expected);
}

TEST(K8sText, CiliumRuleText) {
  TempDir dir;
  std::string path = dir.write("c.yaml", R"(apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  endpointSelector:
    matchLabels: {"k8s:app": api}
    matchExpressions: [{key: "k8s:track", operator: NotIn, values: [canary]}]
  ingress:
    - fromEndpoints:
        - matchLabels: {"k8s:io.kubernetes.pod.namespace": ops}
        - matchExpressions: [{key: "k8s:io.kubernetes.pod.namespace", operator: In, values: [a, b]}]
          matchLabels: {app: x}
      fromEntities: [host]
      toPorts: [{ports: [{port: "8080", protocol: TCP}, {port: "53"}, {port: "9000", endPort: 9100, protocol: UDP}]}]
  egressDeny:
    - toCIDRSet: [{cidr: "2001:2::/48", except: ["2001:2:0:1::/64"]}]
      icmps: [{fields: [{type: 128, family: IPv6}, {type: DestinationUnreachable}, {type: Timestamp}, {type: 40}]}]
)");
  SourceManager sources;
  DiagnosticEngine diags(sources);
  std::string error;
  ImportResult r = importManifests({*sources.load(path, &error)}, sources, diags);
  ASSERT_FALSE(diags.hasErrors());
  EXPECT_EQ(renderForOutput(r.policies, ""), "# from cilium.io/v2 CiliumNetworkPolicy shop/api (" + path + R"(:1)
policy api {
  namespace shop
  selects { app = api, track != canary }
  ingress {
    allow from pods {} in namespace ops, pods { app = x } in namespaces { kubernetes.io/metadata.name in (a, b) }, host on tcp/8080, tcp/53, udp/53, sctp/53, udp/9000-9100
  }
  egress {
    deny to cidr 2001:2::/48 except 2001:2:0:1::/64 on icmpv6/echo-request, icmp/destination-unreachable, icmp/timestamp-request, icmp/40
  }
}
)");
}

TEST(K8sText, DiagnosticsOfConvertedPoliciesPointAtTheManifest) {
  // A named port no endpoint defines: the warning comes from lowering, on
  // generated text, and must be reported at the YAML node.
  Manifests m(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
    - ports:
        - port: metrics
)");
  ASSERT_TRUE(m.ok());
  std::string d = m.diagnostics();
  EXPECT_NE(d.find("m.yaml:" + std::to_string(Manifests::line(8)) + ":17: warning: named port 'metrics'"),
            std::string::npos)
      << d;
  EXPECT_EQ(d.find("<policies converted"), std::string::npos) << d;
  // Rule locations in the IR point at the manifest too.
  bool found = false;
  for (const auto& [id, info] : m.compilation().ir->rules)
    if (info.location.find(m.path() + ":") == 0) found = true;
  EXPECT_TRUE(found);
}

TEST(K8sManifests, IsManifestPath) {
  TempDir dir;
  EXPECT_TRUE(isManifestPath(dir.write("a.yaml", "")));
  EXPECT_TRUE(isManifestPath(dir.write("a.yml", "")));
  EXPECT_TRUE(isManifestPath(dir.write("pods.json", R"({"apiVersion": "v1", "kind": "List", "items": []})")));
  EXPECT_FALSE(isManifestPath(dir.write("inventory.json", R"({"endpoints": []})")));
  EXPECT_FALSE(isManifestPath(dir.write("a.policy", "")));
}

TEST(K8sManifests, DirectoriesMixPoliciesAndManifests) {
  TempDir dir;
  dir.write("m/cluster.yaml", kCluster);
  dir.write("m/pods.json", R"({"apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "extra", "namespace": "shop", "labels": {"app": "extra"}},
    "status": {"podIP": "198.18.1.99"}})");
  dir.write("m/inventory.json", R"({"endpoints": "not read: not a manifest"})");
  dir.write("m/api.policy", "namespace shop\npolicy api { selects { app = api } ingress {} }\n");
  pipeline::Compilation c;
  pipeline::run({{dir.path() + "/m"}, {}}, c);
  ASSERT_EQ(c.outcome(), pipeline::Outcome::Ok);
  EXPECT_EQ(c.files.size(), 3u);
  ASSERT_TRUE(c.ir);
  EXPECT_NE(c.ir->findEndpoint("shop", "extra"), nullptr);
  EXPECT_TRUE(c.ir->findEndpoint("shop", "api-0")->classIndex.has_value());
}

}  // namespace
}  // namespace membrane::k8s
