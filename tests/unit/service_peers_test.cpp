// Services as peers (lowering::resolveServicePeers, k8s/services.cpp,
// docs/language.md "Service peers"): a `service` peer or a Cilium
// `toServices` stands for the pods the Service selects, or for the addresses
// of its Endpoints and EndpointSlices when it has none; anything the
// compiler cannot resolve is an error at the peer, never an empty match.
#include <gtest/gtest.h>

#include "evaluator/evaluator.h"
#include "inventory/inventory.h"
#include "k8s_test_support.h"
#include "pipeline/pipeline.h"

namespace membrane {
namespace {

using k8s::fixtures::Manifests;
using k8s::fixtures::TempDir;
using ir::Traffic;

const Traffic kTcp80{ir::kTCP, 80}, kTcp5432{ir::kTCP, 5432};

#define EXPECT_ALLOWED(m, src, dst, t) EXPECT_TRUE((m).allowed(src, dst, t)) << src << " -> " << dst
#define EXPECT_DENIED(m, src, dst, t) EXPECT_FALSE((m).allowed(src, dst, t)) << src << " -> " << dst

// web-0 may open connections only to the services it names.
const char* kWebEgress = R"(apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  egress:
  - toServices: [{k8sService: {serviceName: SERVICE}}]
    toPorts: [{ports: [{port: "PORT", protocol: TCP}]}]
)";

std::string webEgressTo(const std::string& service, const std::string& port) {
  std::string s = kWebEgress;
  s.replace(s.find("SERVICE"), 7, service);
  s.replace(s.find("PORT"), 4, port);
  return s;
}

TEST(ServicePeers, ACiliumToServicesReachesThePodsTheServiceSelectsAndNoOthers) {
  Manifests m(webEgressTo("api", "8080") + R"(---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: api}
  ports: [{port: 80, targetPort: 8080}]
)");
  ASSERT_TRUE(m.ok());
  EXPECT_ALLOWED(m, "shop/web-0", "shop/api-0", (Traffic{ir::kTCP, 8080}));
  EXPECT_DENIED(m, "shop/web-0", "shop/api-0", kTcp80);
  EXPECT_DENIED(m, "shop/web-0", "shop/db-0", (Traffic{ir::kTCP, 8080}));
  EXPECT_DENIED(m, "shop/web-0", "ops/web-0", (Traffic{ir::kTCP, 8080}));
  // The peer is the service's selector, so a pod the node learns later is
  // matched as the inventory's pods are.
  const auto& selectors = m.compilation().ir->selectors;
  ASSERT_EQ(selectors.size(), 1u);
  EXPECT_EQ(selectors[0].str(), "pods {app = api} in namespace shop");
}

TEST(ServicePeers, AServiceWithoutASelectorStandsForItsEndpointSliceAddresses) {
  Manifests m(webEgressTo("pg", "5432") + R"(---
apiVersion: v1
kind: Service
metadata: {name: pg, namespace: shop}
spec: {ports: [{port: 5432}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: pg-abc, namespace: shop, labels: {kubernetes.io/service-name: pg}}
addressType: IPv4
endpoints: [{addresses: [198.18.7.1]}, {addresses: [198.18.7.2]}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: pg-v6, namespace: shop, labels: {kubernetes.io/service-name: pg}}
addressType: IPv6
endpoints: [{addresses: ["2001:2::7:1"]}]
)");
  ASSERT_TRUE(m.ok());
  EXPECT_ALLOWED(m, "shop/web-0", "world:198.18.7.1", kTcp5432);
  EXPECT_ALLOWED(m, "shop/web-0", "world:198.18.7.2", kTcp5432);
  EXPECT_ALLOWED(m, "shop/web-0", "world:2001:2::7:1", kTcp5432);
  EXPECT_DENIED(m, "shop/web-0", "world:198.18.7.3", kTcp5432);
  EXPECT_DENIED(m, "shop/web-0", "shop/db-0", kTcp5432);
}

TEST(ServicePeers, EndpointsObjectsGiveTheAddressesTooReadyOrNot) {
  Manifests m(webEgressTo("pg", "5432") + R"(---
apiVersion: v1
kind: Service
metadata: {name: pg, namespace: shop}
spec: {ports: [{port: 5432}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: pg, namespace: shop}
subsets:
- addresses: [{ip: 198.18.7.1}]
  notReadyAddresses: [{ip: 198.18.7.9}]
  ports: [{port: 5432}]
)");
  ASSERT_TRUE(m.ok());
  EXPECT_ALLOWED(m, "shop/web-0", "world:198.18.7.1", kTcp5432);
  EXPECT_ALLOWED(m, "shop/web-0", "world:198.18.7.9", kTcp5432);
  EXPECT_DENIED(m, "shop/web-0", "world:198.18.7.2", kTcp5432);
}

TEST(ServicePeers, AServiceWithASelectorIgnoresItsEndpointsObject) {
  // Kubernetes derives such a service's Endpoints from the pods it selects:
  // the selector is the truth, stale addresses are not.
  Manifests m(webEgressTo("api", "8080") + R"(---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec: {selector: {app: api}}
---
apiVersion: v1
kind: Endpoints
metadata: {name: api, namespace: shop}
subsets: [{addresses: [{ip: 198.18.7.1}]}]
)");
  ASSERT_TRUE(m.ok());
  EXPECT_ALLOWED(m, "shop/web-0", "shop/api-0", (Traffic{ir::kTCP, 8080}));
  EXPECT_DENIED(m, "shop/web-0", "world:198.18.7.1", (Traffic{ir::kTCP, 8080}));
}

TEST(ServicePeers, AServiceTheInputsLackIsAnErrorAtThePeer) {
  Manifests m(webEgressTo("api", "8080"));
  EXPECT_FALSE(m.ok());
  const int line = Manifests::line(7);
  EXPECT_NE(m.diagnostics().find("m.yaml:" + std::to_string(line) + ":18: error: no namespace this peer names has a "
                                 "service 'api' in the inventory"),
            std::string::npos)
      << m.diagnostics();
  Manifests named(R"(apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  egress: [{toServices: [{k8sService: {serviceName: api, namespace: shop}}]}]
)");
  EXPECT_FALSE(named.ok());
  EXPECT_NE(named.diagnostics().find("m.yaml:" + std::to_string(Manifests::line(6)) +
                                     ":26: error: service 'shop/api' is not in the inventory"),
            std::string::npos)
      << named.diagnostics();
}

TEST(ServicePeers, AnExternalNameServiceIsAnErrorThatSuggestsADnsPeer) {
  Manifests m(webEgressTo("mail", "25") + R"(---
apiVersion: v1
kind: Service
metadata: {name: mail, namespace: shop}
spec: {type: ExternalName, externalName: mail.example.com}
)");
  EXPECT_FALSE(m.ok());
  EXPECT_NE(m.diagnostics().find("error: service 'shop/mail' is of type ExternalName (mail.example.com)"),
            std::string::npos)
      << m.diagnostics();
  EXPECT_NE(m.diagnostics().find("`dns \"mail.example.com\"`"), std::string::npos) << m.diagnostics();
}

TEST(ServicePeers, AServiceWithNoAddressesWarnsThatThePeerMatchesNothing) {
  Manifests m(webEgressTo("pg", "5432") + R"(---
apiVersion: v1
kind: Service
metadata: {name: pg, namespace: shop}
spec: {ports: [{port: 5432}]}
)");
  ASSERT_TRUE(m.ok());
  EXPECT_NE(m.diagnostics().find("warning: service 'shop/pg' has no selector and no endpoint addresses: it "
                                 "matches nothing"),
            std::string::npos)
      << m.diagnostics();
  EXPECT_DENIED(m, "shop/web-0", "shop/db-0", kTcp5432);
  EXPECT_DENIED(m, "shop/web-0", "world:198.18.7.1", kTcp5432);
}

// Two services named api: shop's selects the api pods, ops's the prometheus
// pod. Both are tagged tier=backend, as is shop's db.
const char* kTwoApis = R"(---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop, labels: {tier: backend}}
spec: {selector: {app: api}}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: ops, labels: {tier: backend}}
spec: {selector: {app: prometheus}}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop, labels: {tier: backend}}
spec: {selector: {app: db}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop, labels: {tier: front}}
spec: {selector: {app: web}}
)";

std::string webEgressToServices(const std::string& items) {
  return R"(apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  egress: [{toServices: )" +
         items + "}]\n" + kTwoApis;
}

TEST(ServicePeers, WithoutANamespaceCiliumMatchesTheNamedServiceInEveryNamespace) {
  // Cilium compares a toServices namespace only when one is given.
  Manifests any(webEgressToServices("[{k8sService: {serviceName: api}}]"));
  ASSERT_TRUE(any.ok());
  EXPECT_ALLOWED(any, "shop/web-0", "shop/api-0", kTcp80);
  EXPECT_ALLOWED(any, "shop/web-0", "ops/prom-0", kTcp80);
  EXPECT_DENIED(any, "shop/web-0", "shop/db-0", kTcp80);
  Manifests one(webEgressToServices("[{k8sService: {serviceName: api, namespace: ops}}]"));
  ASSERT_TRUE(one.ok());
  EXPECT_DENIED(one, "shop/web-0", "shop/api-0", kTcp80);
  EXPECT_ALLOWED(one, "shop/web-0", "ops/prom-0", kTcp80);
}

TEST(ServicePeers, K8sServiceSelectorPicksServicesByTheirOwnLabels) {
  Manifests shop(webEgressToServices(
      "[{k8sServiceSelector: {selector: {matchLabels: {tier: backend}}, namespace: shop}}]"));
  ASSERT_TRUE(shop.ok());
  EXPECT_ALLOWED(shop, "shop/web-0", "shop/api-0", kTcp80);
  EXPECT_ALLOWED(shop, "shop/web-0", "shop/db-0", kTcp80);
  EXPECT_DENIED(shop, "shop/web-0", "ops/prom-0", kTcp80);
  EXPECT_DENIED(shop, "shop/web-0", "ops/web-0", kTcp80);
  Manifests everywhere(webEgressToServices(
      "[{k8sServiceSelector: {selector: {matchExpressions: [{key: tier, operator: In, values: [backend]}]}}}]"));
  ASSERT_TRUE(everywhere.ok());
  EXPECT_ALLOWED(everywhere, "shop/web-0", "shop/db-0", kTcp80);
  EXPECT_ALLOWED(everywhere, "shop/web-0", "ops/prom-0", kTcp80);
  EXPECT_DENIED(everywhere, "shop/web-0", "ops/web-0", kTcp80);
  // A selector no service matches is a warning, and allows nothing.
  Manifests none(webEgressToServices("[{k8sServiceSelector: {selector: {matchLabels: {tier: cache}}}}]"));
  ASSERT_TRUE(none.ok());
  EXPECT_NE(none.diagnostics().find("warning: no service of the inventory matches this peer: it matches nothing"),
            std::string::npos)
      << none.diagnostics();
  EXPECT_DENIED(none, "shop/web-0", "shop/api-0", kTcp80);
}

// The language's own `service` peer, with services from an inventory file,
// in both directions.
TEST(ServicePeers, ThePolicyLanguagesServicePeerReadsServicesFromTheInventory) {
  TempDir dir;
  std::string policy = dir.write("p.policy", R"(namespace shop
policy db {
  selects { app = db }
  ingress { allow from service web on tcp/5432 }
  egress {
    allow to service backup/store on tcp/443
    allow to service { tier = batch } in namespaces { team = data } on tcp/9000
    allow to service report in namespaces {} on tcp/8443
  }
}
)");
  std::string inventory = dir.write("inventory.json", R"({
  "endpoints": [
    {"name": "web-0", "namespace": "shop", "labels": {"app": "web"}, "addresses": ["198.18.1.20"]},
    {"name": "db-0", "namespace": "shop", "labels": {"app": "db"}, "addresses": ["198.18.1.30"]},
    {"name": "other-0", "namespace": "shop", "labels": {"app": "other"}, "addresses": ["198.18.1.40"]},
    {"name": "etl-0", "namespace": "lake", "labels": {"app": "etl"}, "addresses": ["198.18.3.10"]},
    {"name": "etl-0", "namespace": "misc", "labels": {"app": "etl"}, "addresses": ["198.18.4.10"]}
  ],
  "namespaces": [{"name": "lake", "labels": {"team": "data"}}, {"name": "misc"}],
  "services": [
    {"name": "web", "namespace": "shop", "selector": {"app": "web"}},
    {"name": "store", "namespace": "backup", "addresses": ["198.18.8.1", "2001:2::8:1"]},
    {"name": "etl", "namespace": "lake", "labels": {"tier": "batch"}, "selector": {"app": "etl"}},
    {"name": "etl", "namespace": "misc", "labels": {"tier": "batch"}, "selector": {"app": "etl"}},
    {"name": "report", "namespace": "lake", "addresses": ["198.18.9.1"]},
    {"name": "report", "namespace": "misc", "addresses": ["198.18.9.2"]}
  ]
})");
  pipeline::Compilation c;
  pipeline::run({{policy}, {inventory}}, c);
  ASSERT_EQ(c.outcome(), pipeline::Outcome::Ok);
  const ir::Program& p = *c.ir;
  auto end = [&](const std::string& name) {
    const ir::Endpoint* e = p.findEndpoint("shop", name);
    return ir::FlowEnd{e, e->addresses.at(0), false};
  };
  auto world = [](const char* a) { return ir::FlowEnd{nullptr, *net::Address::parse(a), false}; };
  const Traffic tcp5432{ir::kTCP, 5432}, tcp443{ir::kTCP, 443};
  EXPECT_TRUE(ir::evaluateFlow(p, end("web-0"), end("db-0"), tcp5432).allowed());
  EXPECT_FALSE(ir::evaluateFlow(p, end("other-0"), end("db-0"), tcp5432).allowed());
  EXPECT_TRUE(ir::evaluateFlow(p, end("db-0"), world("198.18.8.1"), tcp443).allowed());
  EXPECT_TRUE(ir::evaluateFlow(p, end("db-0"), world("2001:2::8:1"), tcp443).allowed());
  EXPECT_FALSE(ir::evaluateFlow(p, end("db-0"), world("198.18.8.2"), tcp443).allowed());
  // By labels, in the namespaces labelled team=data: lake's etl, not misc's.
  const Traffic tcp9000{ir::kTCP, 9000}, tcp8443{ir::kTCP, 8443};
  auto in = [&](const std::string& ns, const std::string& name) {
    const ir::Endpoint* e = p.findEndpoint(ns, name);
    return ir::FlowEnd{e, e->addresses.at(0), false};
  };
  EXPECT_TRUE(ir::evaluateFlow(p, end("db-0"), in("lake", "etl-0"), tcp9000).allowed());
  EXPECT_FALSE(ir::evaluateFlow(p, end("db-0"), in("misc", "etl-0"), tcp9000).allowed());
  // By name in every namespace: both reports.
  EXPECT_TRUE(ir::evaluateFlow(p, end("db-0"), world("198.18.9.1"), tcp8443).allowed());
  EXPECT_TRUE(ir::evaluateFlow(p, end("db-0"), world("198.18.9.2"), tcp8443).allowed());
}

// ---- the inventory's `services` -------------------------------------------------------

std::string inventoryError(const std::string& text) {
  inventory::Inventory inv;
  std::string error;
  EXPECT_FALSE(inventory::loadInventoryText("inventory.json", text, inv, &error)) << text;
  return error;
}

TEST(InventoryServices, AreSortedAndFoundByNamespaceAndName) {
  inventory::Inventory inv;
  std::string error;
  ASSERT_TRUE(inventory::loadInventoryText("a.json", R"({"services": [
      {"name": "web", "namespace": "shop", "selector": {"app": "web"}, "labels": {"tier": "front"}},
      {"name": "pg", "addresses": ["198.18.7.2", "198.18.7.1", "198.18.7.2"]}]})",
                                           inv, &error))
      << error;
  ASSERT_TRUE(inventory::loadInventoryText("b.json", R"({"services": [{"name": "mail", "namespace": "shop",
      "externalName": "mail.example.com"}, {"name": "none", "namespace": "shop", "selector": {}}]})",
                                           inv, &error))
      << error;
  ASSERT_EQ(inv.services.size(), 4u);
  EXPECT_EQ(inv.services[0].key(), "default/pg");
  EXPECT_EQ(inv.services[1].key(), "shop/mail");
  const inventory::Service* pg = inv.findService("default", "pg");
  ASSERT_TRUE(pg);
  EXPECT_FALSE(pg->selector);
  ASSERT_EQ(pg->addresses.size(), 2u);  // sorted, once each
  EXPECT_EQ(pg->addresses[0].str(), "198.18.7.1");
  const inventory::Service* web = inv.findService("shop", "web");
  ASSERT_TRUE(web && web->selector);
  EXPECT_EQ(web->selector->at("app"), "web");
  EXPECT_EQ(web->labels.at("tier"), "front");
  EXPECT_EQ(inv.findService("shop", "mail")->externalName, "mail.example.com");
  // An empty selector is none, as in Kubernetes.
  EXPECT_FALSE(inv.findService("shop", "none")->selector);
  EXPECT_FALSE(inv.findService("shop", "pg"));
}

TEST(InventoryServices, MistakesAreErrorsNamingTheField) {
  EXPECT_EQ(inventoryError(R"({"services": [{"name": "a", "selector": {"x": "y"}, "addresses": ["198.18.7.1"]}]})"),
            "inventory.json: services[0].addresses: a service with a selector stands for the pods it selects: give "
            "`selector` or `addresses`, not both");
  EXPECT_EQ(inventoryError(R"({"services": [{"name": "a", "externalName": "a.example.com", "addresses": []}]})"),
            "inventory.json: services[0].externalName: an ExternalName service has no selector and no addresses");
  EXPECT_EQ(inventoryError(R"({"services": [{"name": "a", "selectr": {}}]})"),
            "inventory.json: services[0]: unknown key \"selectr\" (did you mean \"selector\"?)");
  EXPECT_EQ(inventoryError(R"({"services": [{"name": "a"}, {"name": "a", "namespace": "default"}]})"),
            "inventory.json: services[1]: service \"default/a\" is defined again: first at services[0]");
  EXPECT_EQ(inventoryError(R"({"services": [{"name": "a", "addresses": ["198.18.7.300"]}]})"),
            "inventory.json: services[0].addresses[0]: \"198.18.7.300\" is not an IPv4 or IPv6 address");
}

TEST(InventoryServices, AServiceDefinedInTwoFilesIsAnError) {
  inventory::Inventory inv;
  std::string error;
  ASSERT_TRUE(inventory::loadInventoryText("a.json", R"({"services": [{"name": "a"}]})", inv, &error)) << error;
  EXPECT_FALSE(inventory::loadInventoryText("b.json", R"({"services": [{"name": "a"}]})", inv, &error));
  EXPECT_EQ(error, "b.json: services[0]: service \"default/a\" is defined again: first in a.json");
  EXPECT_EQ(inv.services.size(), 1u);
}

// ---- the service-account label Cilium derives ---------------------------------------

TEST(ServiceAccountLabel, EveryPodFromManifestsCarriesItsServiceAccountAsCiliumDerivesIt) {
  Manifests m(R"(apiVersion: v1
kind: Pod
metadata: {name: robot-0, namespace: shop, labels: {app: robot}}
spec: {serviceAccountName: robot, containers: [{name: r}]}
status: {podIP: 198.18.1.90}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: batch, namespace: shop}
spec:
  template:
    metadata: {labels: {app: batch}}
    spec: {serviceAccount: robot, containers: [{name: b}]}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - fromEndpoints: [{matchLabels: {"k8s:io.cilium.k8s.policy.serviceaccount": robot}}]
)");
  ASSERT_TRUE(m.ok());
  const ir::Program& p = *m.compilation().ir;
  auto label = [&](const char* ns, const char* name) {
    return p.identity(p.findEndpoint(ns, name)->identity)->labels.at(inventory::kServiceAccountLabel);
  };
  EXPECT_EQ(label("shop", "robot-0"), "robot");
  EXPECT_EQ(label("shop", "batch"), "robot");  // the deprecated field, from a template
  EXPECT_EQ(label("shop", "web-0"), "default");  // unset: what admission fills in
  EXPECT_ALLOWED(m, "shop/robot-0", "shop/api-0", kTcp80);
  EXPECT_DENIED(m, "shop/web-0", "shop/api-0", kTcp80);
}

TEST(ServiceAccountLabel, ALabelThatContradictsTheServiceAccountIsAnError) {
  Manifests m(R"(apiVersion: v1
kind: Pod
metadata: {name: odd-0, namespace: shop, labels: {io.cilium.k8s.policy.serviceaccount: admin}}
spec: {serviceAccountName: robot, containers: [{name: r}]}
)");
  EXPECT_FALSE(m.ok());
  EXPECT_NE(m.diagnostics().find("error: the pod's label io.cilium.k8s.policy.serviceaccount is 'admin' but its "
                                 "service account is 'robot'"),
            std::string::npos)
      << m.diagnostics();
  Manifests longName("apiVersion: v1\nkind: Pod\nmetadata: {name: long-0, namespace: shop}\nspec: "
                     "{serviceAccountName: " + std::string(64, 'a') + ", containers: [{name: r}]}\n");
  EXPECT_FALSE(longName.ok());
  EXPECT_NE(longName.diagnostics().find("spec.serviceAccountName (as a label value)"), std::string::npos)
      << longName.diagnostics();
}

TEST(ServiceAccountLabel, KubectlPodsCarryItToo) {
  inventory::Inventory inv;
  std::string error;
  ASSERT_TRUE(inventory::loadInventoryText("pods.json", R"({"kind": "PodList", "items": [
      {"metadata": {"name": "a", "namespace": "shop"}, "spec": {"serviceAccountName": "robot", "containers": []}},
      {"metadata": {"name": "b", "namespace": "shop"}, "spec": {"containers": []}}]})",
                                           inv, &error))
      << error;
  EXPECT_EQ(inv.findEndpoint("shop", "a")->labels.at(inventory::kServiceAccountLabel), "robot");
  EXPECT_EQ(inv.findEndpoint("shop", "b")->labels.at(inventory::kServiceAccountLabel), "default");
  // membrane's own format takes labels as written: nothing is derived.
  inventory::Inventory own;
  ASSERT_TRUE(inventory::loadInventoryText("inventory.json", R"({"endpoints": [{"name": "a"}]})", own, &error));
  EXPECT_TRUE(own.endpoints[0].labels.empty());
}

TEST(ServiceAccountLabel, BothReadersPreferServiceAccountNameAndRefuseANameNoLabelCanHold) {
  // The newer field wins whichever order the object writes them in; an
  // empty one counts as unset.
  inventory::Inventory inv;
  std::string error;
  ASSERT_TRUE(inventory::loadInventoryText("pods.json", R"({"kind": "PodList", "items": [
      {"metadata": {"name": "a", "namespace": "shop"},
       "spec": {"serviceAccountName": "robot", "serviceAccount": "old", "containers": []}},
      {"metadata": {"name": "b", "namespace": "shop"},
       "spec": {"serviceAccountName": "", "serviceAccount": "old", "containers": []}}]})",
                                           inv, &error))
      << error;
  EXPECT_EQ(inv.findEndpoint("shop", "a")->labels.at(inventory::kServiceAccountLabel), "robot");
  EXPECT_EQ(inv.findEndpoint("shop", "b")->labels.at(inventory::kServiceAccountLabel), "old");
  EXPECT_EQ(inventory::serviceAccountOf(std::nullopt, std::nullopt), "default");
  // A 64-character name is a valid object name but no label value: refused
  // from kubectl JSON as it is from manifests.
  inventory::Inventory refused;
  std::string long64(64, 'r');
  EXPECT_FALSE(inventory::loadInventoryText(
      "pods.json",
      R"({"kind": "PodList", "items": [{"metadata": {"name": "a", "namespace": "shop"}, "spec": {"serviceAccountName": ")" +
          long64 + R"(", "containers": []}}]})",
      refused, &error));
  EXPECT_NE(error.find("cannot be the label \"io.cilium.k8s.policy.serviceaccount\""), std::string::npos) << error;
}

}  // namespace
}  // namespace membrane
