// Cilium rule arrays (`[{"endpointSelector": ..., "ingress": [...]}]`, what
// `cilium policy import` reads; docs/kubernetes.md, "Cilium rule arrays"):
// recognised in *.json files by their content, read by the same converter as
// a CiliumClusterwideNetworkPolicy's `specs` (so they compile to the same IR
// and verdicts), errors located in the JSON, and membrane's own JSON files
// not mistaken for them.
#include <gtest/gtest.h>

#include <sstream>

#include "evaluator/evaluator.h"
#include "ir_print/ir_json.h"
#include "k8s/import.h"
#include "k8s_test_support.h"
#include "pipeline/pipeline.h"

namespace membrane::k8s {
namespace {

using fixtures::kCluster;
using fixtures::TempDir;
using ir::FlowEnd;
using ir::Traffic;

// The same three rules as a JSON rule array and as the specs of a
// CiliumClusterwideNetworkPolicy named like the JSON file.
const char* kRulesJson = R"([
  {
    "labels": [{"key": "name", "value": "api", "source": "unspec"}],
    "endpointSelector": {"matchLabels": {"app": "api"}},
    "ingress": [{
      "fromEndpoints": [{"matchLabels": {"app": "web"}}],
      "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}]
    }]
  },
  {
    "endpointSelector": {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "shop", "app": "db"}},
    "ingress": [{"fromEndpoints": [{"matchLabels": {"app": "api"}}]}],
    "ingressDeny": [{"fromEndpoints": [{"matchLabels": {"tier": "backend", "app": "api"}}],
                     "toPorts": [{"ports": [{"port": "22", "protocol": "TCP"}]}]}]
  },
  {
    "endpointSelector": {"matchLabels": {"app": "web"}},
    "egress": [{"toCIDR": ["198.19.0.0/16"]}, {"toEndpoints": [{"matchLabels": {"app": "api"}}]}],
    "egressDeny": [{"toCIDRSet": [{"cidr": "198.19.66.0/24"}]}]
  }
]
)";

const char* kRulesCrd = R"(apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: rules}
specs:
  - labels: [{key: name, value: api, source: unspec}]
    endpointSelector: {matchLabels: {app: api}}
    ingress:
      - fromEndpoints: [{matchLabels: {app: web}}]
        toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
  - endpointSelector: {matchLabels: {k8s:io.kubernetes.pod.namespace: shop, app: db}}
    ingress: [{fromEndpoints: [{matchLabels: {app: api}}]}]
    ingressDeny:
      - fromEndpoints: [{matchLabels: {tier: backend, app: api}}]
        toPorts: [{ports: [{port: "22", protocol: TCP}]}]
  - endpointSelector: {matchLabels: {app: web}}
    egress: [{toCIDR: [198.19.0.0/16]}, {toEndpoints: [{matchLabels: {app: api}}]}]
    egressDeny: [{toCIDRSet: [{cidr: 198.19.66.0/24}]}]
)";

// Files written to a temporary directory and compiled as `membranec check
// FILES...` does.
struct Compiled {
  TempDir dir;
  pipeline::Compilation c;
  explicit Compiled(const std::vector<std::pair<std::string, std::string>>& files) {
    std::vector<std::string> paths;
    for (const auto& [name, text] : files) paths.push_back(dir.write(name, text));
    pipeline::run({paths, {}}, c);
  }
  std::string diagnostics() const {
    std::ostringstream out;
    for (const auto& e : c.inputErrors) out << e << "\n";
    c.diags.print(out, false);
    return out.str();
  }
  FlowEnd end(const std::string& who) const {
    if (who.rfind("world:", 0) == 0) return {nullptr, *net::Address::parse(who.substr(6)), false};
    auto slash = who.find('/');
    const ir::Endpoint* e = c.ir->findEndpoint(who.substr(0, slash), who.substr(slash + 1));
    if (!e) throw std::runtime_error("no endpoint " + who);
    return {e, e->addresses.at(0), false};
  }
  bool allowed(const std::string& src, const std::string& dst, Traffic t) const {
    return ir::evaluateFlow(*c.ir, end(src), end(dst), t).allowed();
  }
  // The IR as JSON without rule locations (file names and lines differ).
  nlohmann::json ir() const {
    nlohmann::json j = ir::toJson(*c.ir);
    j.erase("rules");
    return j;
  }
};

TEST(CiliumRuleArrays, CompileToTheSameIrAndVerdictsAsTheSameRulesInAClusterwidePolicy) {
  Compiled json({{"cluster.yaml", kCluster}, {"rules.json", kRulesJson}});
  Compiled crd({{"cluster.yaml", kCluster}, {"rules.yaml", kRulesCrd}});
  ASSERT_EQ(json.c.outcome(), pipeline::Outcome::Ok) << json.diagnostics();
  ASSERT_EQ(crd.c.outcome(), pipeline::Outcome::Ok) << crd.diagnostics();
  ASSERT_TRUE(json.c.checked && json.c.ir);
  EXPECT_EQ(json.c.checked->policies.size(), 3u);
  EXPECT_EQ(json.ir(), crd.ir());

  // The meaning, as Cilium gives rules imported through its API: selectors
  // without a namespace label range over every namespace.
  const std::vector<std::tuple<std::string, std::string, Traffic, bool>> flows = {
      {"shop/web-0", "shop/api-0", Traffic{ir::kTCP, 8080}, true},
      {"ops/web-0", "shop/api-0", Traffic{ir::kTCP, 8080}, true},  // a peer in another namespace
      {"shop/web-0", "shop/api-0", Traffic{ir::kTCP, 8081}, false},
      {"ops/prom-0", "shop/api-0", Traffic{ir::kTCP, 8080}, false},
      {"shop/api-0", "shop/db-0", Traffic{ir::kTCP, 5432}, true},
      {"shop/api-0", "shop/db-0", Traffic{ir::kTCP, 22}, false},  // ingressDeny
      {"shop/web-0", "shop/db-0", Traffic{ir::kTCP, 5432}, false},
      {"ops/web-0", "world:198.19.1.1", Traffic{ir::kTCP, 443}, true},  // web in every namespace is selected
      {"ops/web-0", "world:198.19.66.1", Traffic{ir::kTCP, 443}, false},  // egressDeny
      {"ops/web-0", "world:198.20.0.1", Traffic{ir::kTCP, 443}, false},
  };
  for (const auto& [src, dst, t, allowed] : flows) {
    EXPECT_EQ(json.allowed(src, dst, t), allowed) << src << " -> " << dst << " " << t.port;
    EXPECT_EQ(crd.allowed(src, dst, t), allowed) << src << " -> " << dst << " " << t.port;
  }
}

TEST(CiliumRuleArrays, ErrorsPointAtTheFieldInTheJson) {
  Compiled r({{"cluster.yaml", kCluster},
              {"bad.json", "[{\"endpointSelector\": {\"matchLabels\": {\"app\": \"api\"}},\n"
                           "  \"ingress\": [{\"fromEntities\": [\"kube-apiserver\"],\n"
                           "               \"toPorts\": [{\"ports\": [{\"port\": \"http\", \"protocl\": \"TCP\"}]}]}]},\n"
                           " {\"ingress\": []}]\n"}});
  EXPECT_EQ(r.c.outcome(), pipeline::Outcome::PolicyErrors);
  std::string d = r.diagnostics();
  EXPECT_NE(d.find("bad.json:2:33: error: [0].ingress[].fromEntities[]: entity 'kube-apiserver'"), std::string::npos)
      << d;
  EXPECT_NE(d.find("bad.json:3:56: error: [0].ingress[].toPorts[].ports[]: unknown field `protocl`"), std::string::npos)
      << d;
  EXPECT_NE(d.find("bad.json:4:2: error: [1]: `endpointSelector` is required"), std::string::npos) << d;
}

TEST(CiliumRuleArrays, ImportConvertsThemWithAHeaderNamingTheRule) {
  TempDir dir;
  std::string path = dir.write("allow-web.json", kRulesJson);
  SourceManager sources;
  DiagnosticEngine diags(sources);
  std::string error;
  auto id = sources.load(path, &error);
  ASSERT_TRUE(id) << error;
  ImportResult r = importManifests({*id}, sources, diags);
  std::ostringstream d;
  diags.print(d, false);
  ASSERT_FALSE(diags.hasErrors()) << d.str();
  ASSERT_EQ(r.policies.size(), 3u);
  EXPECT_EQ(r.objects, 1u);
  EXPECT_EQ(r.policies[0].name, "allow-web-1");
  EXPECT_TRUE(r.policies[0].clusterwide);
  EXPECT_EQ(r.policies[0].header, "from Cilium rule array allow-web [0] (" + path + ":2)");
  // The rule for the endpoints of one namespace is that namespace's policy.
  EXPECT_FALSE(r.policies[1].clusterwide);
  EXPECT_EQ(r.policies[1].ns, "shop");
  EXPECT_EQ(r.policies[2].header, "from Cilium rule array allow-web [2] (" + path + ":16)");
}

TEST(CiliumRuleArrays, AreRecognisedInJsonFilesByATopLevelArrayOfObjects) {
  TempDir dir;
  EXPECT_TRUE(isManifestPath(dir.write("rules.json", kRulesJson)));
  EXPECT_TRUE(isManifestPath(dir.write("empty.json", "[]")));
  EXPECT_FALSE(isManifestPath(dir.write("numbers.json", "[1, 2]")));
  EXPECT_FALSE(isManifestPath(dir.write("inventory.json", R"({"namespaces": [], "endpoints": []})")));
  EXPECT_FALSE(isManifestPath(dir.write("NODE.json", R"({"node": "n1", "endpoints": [{"name": "a"}]})")));
  // Not by content alone: a YAML file holding a sequence is not a rule array.
  Compiled r({{std::string("rules.yaml"), std::string("- endpointSelector: {}\n")}});
  EXPECT_NE(r.diagnostics().find("rules.yaml:1:1: error: expected a Kubernetes object"), std::string::npos)
      << r.diagnostics();
}

TEST(CiliumRuleArrays, ADirectoryMixesThemWithManifestsPoliciesAndInventoryJson) {
  TempDir dir;
  dir.write("m/cluster.yaml", kCluster);
  dir.write("m/rules.json", kRulesJson);
  dir.write("m/inventory.json", R"({"endpoints": "not read: not a manifest"})");
  dir.write("m/api.policy", "namespace shop\npolicy api { selects { app = api } ingress {} }\n");
  pipeline::Compilation c;
  pipeline::run({{dir.path() + "/m"}, {}}, c);
  std::ostringstream d;
  c.diags.print(d, false);
  ASSERT_EQ(c.outcome(), pipeline::Outcome::Ok) << d.str();
  EXPECT_EQ(c.files.size(), 3u);
  EXPECT_EQ(c.checked->policies.size(), 4u);
}

TEST(CiliumRuleArrays, TakeTheirNameFromTheFileName) {
  EXPECT_EQ(ruleArrayName("dir/allow-web.json"), "allow-web");
  EXPECT_EQ(ruleArrayName("My Rules (v2).json"), "my-rules-v2");
  EXPECT_EQ(ruleArrayName("_.json"), "cilium-rules");
  EXPECT_EQ(ruleArrayName("a..b--c.json"), "a.b-c");
  // Two arrays from files with one stem get distinct names.
  Compiled r({{"a/rules.json", R"([{"endpointSelector": {"matchLabels": {"app": "api"}}, "ingress": [{}]}])"},
              {"b/rules.json", R"([{"endpointSelector": {"matchLabels": {"app": "web"}}, "ingress": [{}]}])"}});
  ASSERT_EQ(r.c.outcome(), pipeline::Outcome::Ok) << r.diagnostics();
  ASSERT_EQ(r.c.checked->policies.size(), 2u);
  EXPECT_NE(r.c.checked->policies[0].key(), r.c.checked->policies[1].key());
}

}  // namespace
}  // namespace membrane::k8s
