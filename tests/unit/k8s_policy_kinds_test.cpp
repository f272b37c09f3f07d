// Policy kinds membrane does not enforce (docs/kubernetes.md, "Policies
// membrane does not enforce"): a Calico or Istio policy, an
// AdminNetworkPolicy of a version membrane does not read, ... in the manifests is an error naming it and its place, in every
// command that reads manifests (they all go through k8s::importManifests),
// unless --skip-kind names it; then it is a warning, never silence. Kinds
// that are not policy (Service, ConfigMap, ...) are skipped as before.
#include <gtest/gtest.h>

#include <sstream>

#include "k8s/import.h"
#include "k8s_test_support.h"
#include "pipeline/pipeline.h"

namespace membrane::k8s {
namespace {

using fixtures::TempDir;

struct Checked {
  pipeline::Outcome outcome;
  std::string diagnostics;
  size_t policies = 0;
  size_t warnings = 0;
};

// `membranec check FILE [--skip-kind K]...` on `yaml`, written as FILE.
Checked check(const std::string& yaml, const std::vector<std::string>& skipKinds = {},
              const std::string& file = "m.yaml") {
  TempDir dir;
  std::string path = dir.write(file, yaml);
  pipeline::Compilation c;
  pipeline::run({{path}, {}, skipKinds}, c);
  std::ostringstream d;
  for (const auto& e : c.inputErrors) d << e << "\n";
  c.diags.print(d, false);
  return {c.outcome(), d.str(), c.checked ? c.checked->policies.size() : 0, c.diags.warningCount()};
}

// `membranec import k8s FILE`: the diagnostics and whether there were errors.
std::pair<bool, std::string> import(const std::string& yaml, const std::vector<std::string>& skipKinds = {}) {
  TempDir dir;
  std::string path = dir.write("m.yaml", yaml);
  SourceManager sources;
  DiagnosticEngine diags(sources);
  std::string error;
  auto id = sources.load(path, &error);
  EXPECT_TRUE(id) << error;
  importManifests({*id}, sources, diags, {.skipKinds = skipKinds});
  std::ostringstream d;
  diags.print(d, false);
  return {diags.hasErrors(), d.str()};
}

const char* kNamespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n";

const char* kGlobalNetworkPolicy = R"(apiVersion: crd.projectcalico.org/v1
kind: GlobalNetworkPolicy
metadata:
  name: deny-all
spec:
  selector: all()
  types: [Ingress]
)";

TEST(K8sPolicyKinds, ACalicoGlobalNetworkPolicyIsAnErrorNamingItAndWhereItIs) {
  Checked r = check(std::string(kNamespace) + kGlobalNetworkPolicy);
  EXPECT_EQ(r.outcome, pipeline::Outcome::PolicyErrors) << r.diagnostics;
  EXPECT_NE(r.diagnostics.find("m.yaml:5:1: error: crd.projectcalico.org/v1 GlobalNetworkPolicy deny-all: "
                               "membrane does not enforce this kind of policy"),
            std::string::npos)
      << r.diagnostics;
  EXPECT_NE(r.diagnostics.find("--skip-kind crd.projectcalico.org/GlobalNetworkPolicy"), std::string::npos)
      << r.diagnostics;
}

TEST(K8sPolicyKinds, ImportRefusesWhatCheckRefuses) {
  auto [errors, diagnostics] = import(std::string(kNamespace) + kGlobalNetworkPolicy);
  EXPECT_TRUE(errors);
  EXPECT_NE(diagnostics.find("m.yaml:5:1: error: crd.projectcalico.org/v1 GlobalNetworkPolicy deny-all"),
            std::string::npos)
      << diagnostics;
}

TEST(K8sPolicyKinds, EveryPolicyKindMembraneDoesNotEnforceIsAnError) {
  // apiVersion, kind: each alone in a file, after a Namespace.
  const std::vector<std::pair<std::string, std::string>> kinds = {
      // The group's later version, whose ClusterNetworkPolicy replaces the
      // v1alpha1 kinds membrane reads; and a v1alpha1 kind in it.
      {"policy.networking.k8s.io/v1alpha2", "ClusterNetworkPolicy"},
      {"policy.networking.k8s.io/v1alpha2", "AdminNetworkPolicy"},
      {"crd.projectcalico.org/v1", "NetworkPolicy"},
      {"projectcalico.org/v3", "GlobalNetworkPolicy"},
      {"crd.projectcalico.org/v1", "GlobalNetworkSet"},  // by its group: it changes what Calico rules match
      {"security.istio.io/v1", "AuthorizationPolicy"},
      {"security.istio.io/v1beta1", "PeerAuthentication"},
      {"crd.antrea.io/v1beta1", "ClusterNetworkPolicy"},
      {"cilium.io/v2alpha1", "CiliumBGPPeeringPolicy"},
      {"cilium.io/v2alpha1", "CiliumNetworkPolicy"},  // a kind membrane reads, in an apiVersion it does not
      {"networking.k8s.io/v1beta1", "NetworkPolicy"},
      {"example.com/v1", "FirewallPolicy"},
  };
  for (const auto& [apiVersion, kind] : kinds) {
    Checked r = check(std::string(kNamespace) + "apiVersion: " + apiVersion + "\nkind: " + kind +
                      "\nmetadata: {name: p, namespace: shop}\nspec: {}\n");
    EXPECT_EQ(r.outcome, pipeline::Outcome::PolicyErrors) << kind << "\n" << r.diagnostics;
    EXPECT_NE(r.diagnostics.find("m.yaml:5:"), std::string::npos) << r.diagnostics;
    EXPECT_NE(r.diagnostics.find(kind + " p"), std::string::npos) << r.diagnostics;
    EXPECT_NE(r.diagnostics.find(apiVersion), std::string::npos) << r.diagnostics;
  }
}

TEST(K8sPolicyKinds, APolicyInAListIsReportedAtTheItem) {
  Checked r = check(std::string(kNamespace) + R"(apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: settings}
  - apiVersion: security.istio.io/v1
    kind: AuthorizationPolicy
    metadata: {name: allow-nothing, namespace: shop}
)");
  EXPECT_EQ(r.outcome, pipeline::Outcome::PolicyErrors);
  EXPECT_NE(r.diagnostics.find("m.yaml:11:5: error: security.istio.io/v1 AuthorizationPolicy allow-nothing"),
            std::string::npos)
      << r.diagnostics;
}

TEST(K8sPolicyKinds, SkipKindSkipsTheObjectWithAWarning) {
  for (const char* pattern : {"GlobalNetworkPolicy", "crd.projectcalico.org/GlobalNetworkPolicy",
                              "crd.projectcalico.org/*"}) {
    Checked r = check(std::string(kNamespace) + kGlobalNetworkPolicy, {pattern});
    EXPECT_EQ(r.outcome, pipeline::Outcome::Ok) << pattern << "\n" << r.diagnostics;
    EXPECT_EQ(r.warnings, 1u);
    EXPECT_NE(r.diagnostics.find(std::string("m.yaml:5:1: warning: skipped crd.projectcalico.org/v1 "
                                             "GlobalNetworkPolicy deny-all (--skip-kind ") +
                                 pattern + "): its rules are not enforced"),
              std::string::npos)
        << r.diagnostics;
  }
  auto [errors, diagnostics] = import(std::string(kNamespace) + kGlobalNetworkPolicy, {"GlobalNetworkPolicy"});
  EXPECT_FALSE(errors) << diagnostics;
  EXPECT_NE(diagnostics.find("warning: skipped crd.projectcalico.org/v1 GlobalNetworkPolicy"), std::string::npos);
}

TEST(K8sPolicyKinds, SkipKindSkipsOnlyTheKindsItNames) {
  Checked r = check(std::string(kNamespace) + kGlobalNetworkPolicy +
                        "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
                        "metadata: {name: deny, namespace: shop}\nspec: {}\n",
                    {"GlobalNetworkPolicy", "projectcalico.org/*", "networking.istio.io/AuthorizationPolicy"});
  EXPECT_EQ(r.outcome, pipeline::Outcome::PolicyErrors);
  EXPECT_NE(r.diagnostics.find("warning: skipped crd.projectcalico.org/v1 GlobalNetworkPolicy deny-all"),
            std::string::npos)
      << r.diagnostics;
  EXPECT_NE(r.diagnostics.find("error: security.istio.io/v1 AuthorizationPolicy deny"), std::string::npos)
      << r.diagnostics;
}

TEST(K8sPolicyKinds, SkipKindNeverSkipsAPolicyMembraneEnforces) {
  // `--skip-kind NetworkPolicy`, meant for Calico's, leaves Kubernetes' own
  // NetworkPolicy enforced.
  Checked r = check(std::string(kNamespace) + R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec: {podSelector: {}, ingress: []}
---
apiVersion: crd.projectcalico.org/v1
kind: NetworkPolicy
metadata: {name: calico, namespace: shop}
spec: {}
)",
                    {"NetworkPolicy"});
  EXPECT_EQ(r.outcome, pipeline::Outcome::Ok) << r.diagnostics;
  EXPECT_EQ(r.policies, 1u);
  EXPECT_NE(r.diagnostics.find("warning: skipped crd.projectcalico.org/v1 NetworkPolicy calico"), std::string::npos)
      << r.diagnostics;
}

TEST(K8sPolicyKinds, SkipKindNeverSkipsAnAdminNetworkPolicyMembraneEnforces) {
  // policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy is converted
  // (k8s_admin_network_policy_test.cpp): --skip-kind leaves it enforced, and
  // still skips the group's versions membrane does not read.
  Checked r = check(std::string(kNamespace) + R"(apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny-all}
spec:
  priority: 10
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: later}
spec: {}
)",
                    {"AdminNetworkPolicy", "policy.networking.k8s.io/*"});
  EXPECT_EQ(r.outcome, pipeline::Outcome::Ok) << r.diagnostics;
  EXPECT_EQ(r.policies, 1u);
  EXPECT_EQ(r.warnings, 1u) << r.diagnostics;
  EXPECT_NE(r.diagnostics.find("warning: skipped policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy later"),
            std::string::npos)
      << r.diagnostics;
}

TEST(K8sPolicyKinds, KindsThatAreNotPolicyAreStillSkippedSilentlyByCheckAndWithANoteByImport) {
  std::string yaml = std::string(kNamespace) +
                     "apiVersion: v1\nkind: Secret\nmetadata: {name: api, namespace: shop}\n---\n"
                     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\n---\n"
                     "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: pdb, namespace: shop}\n";
  Checked r = check(yaml);
  EXPECT_EQ(r.outcome, pipeline::Outcome::Ok) << r.diagnostics;
  EXPECT_EQ(r.diagnostics, "");
  auto [errors, diagnostics] = import(yaml);
  EXPECT_FALSE(errors) << diagnostics;
  EXPECT_NE(diagnostics.find("note: skipped v1 Secret api: membrane does not model this kind"), std::string::npos);
  EXPECT_NE(diagnostics.find("note: skipped policy/v1 PodDisruptionBudget pdb"), std::string::npos);
}

TEST(K8sPolicyKinds, PolicyLikeMeansAPolicyKindNameOrAPolicyGroup) {
  EXPECT_TRUE(isPolicyLike("policy.networking.k8s.io/v1alpha1", "AdminNetworkPolicy"));
  EXPECT_TRUE(isPolicyLike("example.com/v1", "EgressPolicy"));
  EXPECT_TRUE(isPolicyLike("crd.projectcalico.org/v1", "NetworkSet"));
  EXPECT_TRUE(isPolicyLike("security.istio.io/v1", "RequestAuthentication"));
  EXPECT_FALSE(isPolicyLike("v1", "Service"));
  EXPECT_FALSE(isPolicyLike("policy/v1", "PodDisruptionBudget"));
  EXPECT_FALSE(isPolicyLike("cilium.io/v2", "CiliumEndpoint"));
  EXPECT_FALSE(isPolicyLike("networking.k8s.io/v1", "Ingress"));
}

TEST(K8sPolicyKinds, SkipKindValuesAreAKindAGroupAndKindOrAWholeGroup) {
  for (const char* ok : {"AdminNetworkPolicy", "crd.projectcalico.org/NetworkPolicy", "security.istio.io/*"})
    EXPECT_EQ(checkSkipKind(ok), "") << ok;
  for (const char* bad : {"", "*", "/NetworkPolicy", "a/b/c", "Admin Policy", "crd.projectcalico.org/", "x/Foo*"})
    EXPECT_NE(checkSkipKind(bad), "") << bad;
  EXPECT_TRUE(skipKindMatches("NetworkPolicy", "projectcalico.org/v3", "NetworkPolicy"));
  EXPECT_TRUE(skipKindMatches("projectcalico.org/*", "projectcalico.org/v3", "Tier"));
  EXPECT_FALSE(skipKindMatches("crd.projectcalico.org/*", "projectcalico.org/v3", "Tier"));
  EXPECT_FALSE(skipKindMatches("AdminNetworkPolicy", "policy.networking.k8s.io/v1alpha1", "BaselineAdminNetworkPolicy"));
}

}  // namespace
}  // namespace membrane::k8s
