#include "inventory/inventory.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>

#include <nlohmann/json.hpp>

#include "heap_peak.h"

namespace membrane::inventory {
namespace {

const std::string kData = std::string(MEMBRANE_TEST_DATA) + "/inventory/";

net::Address addr(const char* text) { return *net::Address::parse(text); }

// A complete, comparable rendering, to check that a failed load left the
// inventory exactly as it was.
std::string dump(const Inventory& inv) {
  std::ostringstream out;
  for (const auto& ns : inv.namespaces) {
    out << "ns " << ns.name;
    for (const auto& [k, v] : ns.labels) out << " " << k << "=" << v;
    out << "\n";
  }
  for (const auto& e : inv.endpoints) {
    out << "ep " << e.ns << "/" << e.name << " workload=" << e.workload << " source=" << e.source;
    for (const auto& [k, v] : e.labels) out << " " << k << "=" << v;
    for (const auto& a : e.addresses) out << " " << a.str();
    for (const auto& p : e.ports) out << " " << p.name << ":" << p.port << "/" << int(p.protocol);
    out << "\n";
  }
  for (const auto& n : inv.nodes) {
    out << "node " << n.name << " source=" << n.source;
    for (const auto& [k, v] : n.labels) out << " " << k << "=" << v;
    for (const auto& a : n.addresses) out << " " << a.str();
    out << "\n";
  }
  return out.str();
}

std::string loadError(const std::string& text, const std::string& file = "inventory.json") {
  Inventory inv;
  std::string error;
  EXPECT_FALSE(loadInventoryText(file, text, inv, &error)) << text;
  EXPECT_EQ(dump(inv), "");
  return error;
}

Inventory loadOk(const std::string& text) {
  Inventory inv;
  std::string error;
  EXPECT_TRUE(loadInventoryText("inventory.json", text, inv, &error)) << error;
  return inv;
}

#define EXPECT_CONTAINS(haystack, needle)                                  \
  do {                                                                     \
    std::string h_ = (haystack);                                           \
    EXPECT_NE(h_.find(needle), std::string::npos)                          \
        << "  message: " << h_ << "\n  expected to contain: " << (needle); \
  } while (0)

// ---- membrane's own format --------------------------------------------------------

TEST(InventoryOwnFormat, LoadsFixtureWithDefaults) {
  Inventory inv;
  std::string error;
  ASSERT_TRUE(loadInventoryFile(kData + "membrane.json", inv, &error)) << error;

  ASSERT_EQ(inv.namespaces.size(), 1u);
  EXPECT_EQ(inv.namespaces[0].name, "shop");
  EXPECT_EQ(inv.namespaces[0].labels, (labels::LabelSet{{"team", "web"}, {kNamespaceNameLabel, "shop"}}));

  // Sorted by (namespace, name): "default" < "shop".
  ASSERT_EQ(inv.endpoints.size(), 2u);
  const Endpoint& probe = inv.endpoints[0];
  EXPECT_EQ(probe.ns, "default");
  EXPECT_EQ(probe.name, "probe");
  EXPECT_EQ(probe.workload, "probe");
  EXPECT_TRUE(probe.labels.empty());
  ASSERT_EQ(probe.ports.size(), 1u);
  EXPECT_EQ(probe.ports[0].protocol, 17);  // "udp", case-insensitive
  EXPECT_EQ(probe.ports[0].port, 53);
  EXPECT_EQ(probe.source, kData + "membrane.json");

  const Endpoint* api = inv.findEndpoint("shop", "api-0");
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->workload, "api");
  EXPECT_EQ(api->labels, (labels::LabelSet{{"app", "api"}}));
  EXPECT_EQ(api->addresses, (std::vector<net::Address>{addr("198.18.1.11"), addr("2001:2::1:11")}));
  ASSERT_EQ(api->ports.size(), 1u);
  EXPECT_EQ(api->ports[0].name, "http");
  EXPECT_EQ(api->ports[0].port, 8080);
  EXPECT_EQ(api->ports[0].protocol, 6);
}

TEST(InventoryOwnFormat, MinimalEndpoint) {
  Inventory inv = loadOk(R"({"endpoints": [{"name": "a"}]})");
  ASSERT_EQ(inv.endpoints.size(), 1u);
  EXPECT_EQ(inv.endpoints[0].ns, "default");
  EXPECT_EQ(inv.endpoints[0].workload, "a");
  EXPECT_TRUE(inv.endpoints[0].addresses.empty());
  EXPECT_TRUE(inv.endpoints[0].ports.empty());
  EXPECT_TRUE(inv.namespaces.empty());
}

TEST(InventoryOwnFormat, EmptyInventories) {
  EXPECT_EQ(dump(loadOk("{}")), "");
  EXPECT_EQ(dump(loadOk(R"({"namespaces": [], "endpoints": []})")), "");
}

TEST(InventoryOwnFormat, ProtocolsAndDefaults) {
  Inventory inv = loadOk(R"({"endpoints": [{"name": "a", "ports": [
      {"name": "p1", "port": 1},
      {"name": "p2", "port": 65535, "protocol": "Sctp"},
      {"name": "p3", "port": 53, "protocol": "UDP"},
      {"name": "p3", "port": 53, "protocol": "TCP"}]}]})");
  const auto& ports = inv.endpoints.at(0).ports;
  ASSERT_EQ(ports.size(), 4u);
  EXPECT_EQ(ports[0].protocol, 6);
  EXPECT_EQ(ports[1].protocol, 132);
  EXPECT_EQ(ports[1].port, 65535);
  EXPECT_EQ(ports[2].protocol, 17);
  EXPECT_EQ(ports[3].protocol, 6);
}

TEST(InventoryOwnFormat, RepeatedAddressesAndPortsAreKeptOnce) {
  Inventory inv = loadOk(R"({"endpoints": [{"name": "a",
      "addresses": ["198.18.0.7", "2001:2::7", "198.18.0.7", "2001:2:0::7"],
      "ports": [{"name": "http", "port": 80}, {"name": "http", "port": 80, "protocol": "tcp"}]}]})");
  EXPECT_EQ(inv.endpoints.at(0).addresses,
            (std::vector<net::Address>{addr("198.18.0.7"), addr("2001:2::7")}));
  EXPECT_EQ(inv.endpoints.at(0).ports.size(), 1u);
}

TEST(InventoryOwnFormat, EmptyLabelValueIsAllowed) {
  Inventory inv = loadOk(R"({"endpoints": [{"name": "a", "labels": {"canary": ""}}]})");
  EXPECT_EQ(inv.endpoints.at(0).labels, (labels::LabelSet{{"canary", ""}}));
}

TEST(InventoryOwnFormat, ExecutablesAreOptionalSortedAndKeptOnce) {
  Inventory inv = loadOk(R"({"endpoints": [
      {"name": "a", "executables": ["/usr/local/bin/api", "/usr/bin/python3.11", "/usr/local/bin/api"]},
      {"name": "b", "executables": []},
      {"name": "c"}]})");
  EXPECT_EQ(inv.endpoints.at(0).executables,
            (std::vector<std::string>{"/usr/bin/python3.11", "/usr/local/bin/api"}));
  EXPECT_EQ(inv.endpoints.at(1).executables, std::vector<std::string>{}) << "listed: none";
  EXPECT_FALSE(inv.endpoints.at(2).executables) << "absent: not known";
}

TEST(InventoryOwnFormat, AnExecutableIsHeldToTheRuleOfProcessPaths) {
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a", "executables": ["/usr/bin/api", "usr/bin/api"]}]})"),
            "inventory.json: endpoints[0].executables[1]: executable \"usr/bin/api\" is not an absolute path (it "
            "must start with '/') (byte 1)");
  EXPECT_CONTAINS(loadError(R"({"endpoints": [{"name": "a", "executables": ["/opt/../api"]}]})"),
                  "endpoints[0].executables[0]: executable \"/opt/../api\" has a '..' component");
  EXPECT_CONTAINS(loadError(R"({"endpoints": [{"name": "a", "executables": ["/opt/\u0007api"]}]})"),
                  "executable \"/opt/\\u0007api\" holds a control character (byte 6)");
  EXPECT_CONTAINS(loadError(R"({"endpoints": [{"name": "a", "executables": "/usr/bin/api"}]})"),
                  "endpoints[0].executables: expected an array");
  EXPECT_CONTAINS(loadError(R"({"endpoints": [{"name": "a", "executables": [7]}]})"),
                  "endpoints[0].executables[0]: expected a string");
}

// ---- kubectl output -------------------------------------------------------------------

TEST(InventoryKubectl, PodsFixture) {
  Inventory inv;
  std::string error;
  ASSERT_TRUE(loadInventoryFile(kData + "pods.json", inv, &error)) << error;
  ASSERT_EQ(inv.endpoints.size(), 4u);
  EXPECT_EQ(inv.endpoints[0].name, "debug");                  // default/debug
  EXPECT_EQ(inv.endpoints[1].name, "report-28570080-q7w2z");  // ops/...
  EXPECT_EQ(inv.endpoints[2].name, "api-7d9f8b6c5d-x2x9k");   // shop/api-...
  EXPECT_EQ(inv.endpoints[3].name, "db-0");                   // shop/db-0
  EXPECT_TRUE(inv.namespaces.empty());

  // Deployment → ReplicaSet → Pod, dual-stack.
  const Endpoint* api = inv.findEndpoint("shop", "api-7d9f8b6c5d-x2x9k");
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->workload, "api");
  EXPECT_EQ(api->labels.at("app"), "api");
  EXPECT_EQ(api->labels.at("pod-template-hash"), "7d9f8b6c5d");
  EXPECT_EQ(api->addresses, (std::vector<net::Address>{addr("198.18.1.10"), addr("2001:2::1:10")}));
  // Named ports from every container; the unnamed 9090 is dropped.
  ASSERT_EQ(api->ports.size(), 3u);
  EXPECT_EQ(api->ports[0].name, "http");
  EXPECT_EQ(api->ports[0].port, 8080);
  EXPECT_EQ(api->ports[0].protocol, 6);
  EXPECT_EQ(api->ports[1].name, "metrics");
  EXPECT_EQ(api->ports[1].port, 9100);
  EXPECT_EQ(api->ports[2].name, "dns");
  EXPECT_EQ(api->ports[2].port, 5353);
  EXPECT_EQ(api->ports[2].protocol, 17);

  // StatefulSet; port without protocol defaults to TCP.
  const Endpoint* db = inv.findEndpoint("shop", "db-0");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->workload, "db");
  EXPECT_EQ(db->addresses, (std::vector<net::Address>{addr("198.18.1.20")}));
  ASSERT_EQ(db->ports.size(), 1u);
  EXPECT_EQ(db->ports[0].name, "pg");
  EXPECT_EQ(db->ports[0].protocol, 6);

  // Bare pod: its own name; only status.podIP is set.
  const Endpoint* debug = inv.findEndpoint("default", "debug");
  ASSERT_NE(debug, nullptr);
  EXPECT_EQ(debug->workload, "debug");
  EXPECT_EQ(debug->addresses, (std::vector<net::Address>{addr("198.18.2.5")}));
  EXPECT_TRUE(debug->ports.empty());

  // CronJob → Job → Pod, still Pending, so no address yet.
  const Endpoint* report = inv.findEndpoint("ops", "report-28570080-q7w2z");
  ASSERT_NE(report, nullptr);
  EXPECT_EQ(report->workload, "report");
  EXPECT_TRUE(report->addresses.empty());
}

TEST(InventoryKubectl, NamespacesFixture) {
  Inventory inv;
  std::string error;
  ASSERT_TRUE(loadInventoryFile(kData + "namespaces.json", inv, &error)) << error;
  ASSERT_EQ(inv.namespaces.size(), 2u);
  EXPECT_EQ(inv.namespaces[0].name, "default");
  EXPECT_EQ(inv.namespaces[1].name, "shop");
  EXPECT_EQ(inv.namespaceLabels("shop"), (labels::LabelSet{{kNamespaceNameLabel, "shop"}, {"team", "web"}}));
}

TEST(InventoryKubectl, SinglePodAndNamespaceObjects) {
  Inventory inv = loadOk(R"({"apiVersion": "v1", "kind": "Pod",
      "metadata": {"name": "solo", "labels": {"app": "solo"}},
      "status": {"podIPs": [{"ip": "2001:2::5"}]}})");
  ASSERT_EQ(inv.endpoints.size(), 1u);
  EXPECT_EQ(inv.endpoints[0].ns, "default");
  EXPECT_EQ(inv.endpoints[0].workload, "solo");
  EXPECT_EQ(inv.endpoints[0].addresses, (std::vector<net::Address>{addr("2001:2::5")}));

  // kubectl of old clusters: no name label yet; it is added.
  inv = loadOk(
      R"({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ops", "labels": {"tier": "1"}}})");
  ASSERT_EQ(inv.namespaces.size(), 1u);
  EXPECT_EQ(inv.namespaces[0].labels, (labels::LabelSet{{kNamespaceNameLabel, "ops"}, {"tier", "1"}}));
}

TEST(InventoryKubectl, TypedListsMayOmitItemKinds) {
  Inventory inv = loadOk(R"({"kind": "PodList", "apiVersion": "v1", "items": [
      {"metadata": {"name": "p", "namespace": "x"}}]})");
  EXPECT_NE(inv.findEndpoint("x", "p"), nullptr);
  inv = loadOk(R"({"kind": "NamespaceList", "apiVersion": "v1", "items": [{"metadata": {"name": "x"}}]})");
  EXPECT_NE(inv.findNamespace("x"), nullptr);
}

TEST(InventoryKubectl, OtherKindsInAListAreSkipped) {
  Inventory inv = loadOk(R"({"kind": "List", "apiVersion": "v1", "items": [
      {"kind": "Service", "apiVersion": "v1", "metadata": {"name": "svc"}, "spec": {"clusterIP": 5}},
      {"kind": "Deployment", "apiVersion": "apps/v1"},
      {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p"}},
      {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "n"}}]})");
  EXPECT_EQ(inv.endpoints.size(), 1u);
  EXPECT_EQ(inv.namespaces.size(), 1u);
  EXPECT_EQ(dump(loadOk(R"({"kind": "List", "apiVersion": "v1", "items": []})")), "");
  EXPECT_EQ(dump(loadOk(R"({"kind": "List", "apiVersion": "v1", "items": null})")), "");
}

TEST(InventoryKubectl, NullsAndUnknownFieldsAreTolerated) {
  Inventory inv = loadOk(R"({"kind": "Pod", "apiVersion": "v1", "someFutureField": {"x": [1]},
      "metadata": {"name": "p", "namespace": null, "labels": null, "ownerReferences": null, "annotations": {"a": 1}},
      "spec": {"containers": [{"name": "c", "ports": null}, {"name": "d",
          "ports": [{"containerPort": 70000}, {"name": "", "containerPort": 0}, {"name": null}]}]},
      "status": {"podIPs": null, "podIP": null}})");
  ASSERT_EQ(inv.endpoints.size(), 1u);
  EXPECT_EQ(inv.endpoints[0].ns, "default");
  EXPECT_TRUE(inv.endpoints[0].ports.empty());
}

std::string workloadOf(const std::string& labelsJson, const std::string& ownersJson) {
  Inventory inv = loadOk(R"({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "pod-abc", "labels": )" +
                         labelsJson + R"(, "ownerReferences": )" + ownersJson + "}}");
  return inv.endpoints.empty() ? "<none>" : inv.endpoints[0].workload;
}

TEST(InventoryKubectl, Workloads) {
  const std::string hash = R"({"pod-template-hash": "5f7c9d"})";
  EXPECT_EQ(workloadOf(hash, R"([{"kind": "ReplicaSet", "name": "web-5f7c9d", "controller": true}])"), "web");
  // Hash missing or not matching: a bare ReplicaSet.
  EXPECT_EQ(workloadOf("{}", R"([{"kind": "ReplicaSet", "name": "web-5f7c9d"}])"), "web-5f7c9d");
  EXPECT_EQ(workloadOf(hash, R"([{"kind": "ReplicaSet", "name": "web-123"}])"), "web-123");
  EXPECT_EQ(workloadOf(hash, R"([{"kind": "ReplicaSet", "name": "-5f7c9d"}])"), "-5f7c9d");
  EXPECT_EQ(workloadOf(hash, R"([{"kind": "ReplicaSet", "name": "web5f7c9d"}])"), "web5f7c9d");
  EXPECT_EQ(workloadOf("{}", R"([{"kind": "StatefulSet", "name": "db", "controller": true}])"), "db");
  EXPECT_EQ(workloadOf("{}", R"([{"kind": "DaemonSet", "name": "agent"}])"), "agent");
  // Jobs: CronJob-made names end in at least 8 digits.
  EXPECT_EQ(workloadOf("{}", R"([{"kind": "Job", "name": "backup-28570080"}])"), "backup");
  EXPECT_EQ(workloadOf("{}", R"([{"kind": "Job", "name": "backup-2857008"}])"), "backup-2857008");
  EXPECT_EQ(workloadOf("{}", R"([{"kind": "Job", "name": "migrate"}])"), "migrate");
  EXPECT_EQ(workloadOf("{}", R"([{"kind": "Job", "name": "-28570080"}])"), "-28570080");
  EXPECT_EQ(workloadOf("{}", R"([{"kind": "Job", "name": "a-2857008x"}])"), "a-2857008x");
  // The controller reference wins over the first one; without one, the first.
  EXPECT_EQ(workloadOf("{}", R"([{"kind": "Foo", "name": "first"},
                                 {"kind": "StatefulSet", "name": "ctl", "controller": true}])"),
            "ctl");
  EXPECT_EQ(workloadOf("{}", R"([{"kind": "Foo", "name": "first", "controller": false},
                                 {"kind": "Bar", "name": "second"}])"),
            "first");
  EXPECT_EQ(workloadOf("{}", "[]"), "pod-abc");
}

TEST(InventoryKubectl, PodIPFallback) {
  // An empty podIPs falls back to podIP; an empty podIP means no address.
  Inventory inv = loadOk(R"({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p"},
      "status": {"podIPs": [], "podIP": "198.18.9.9"}})");
  EXPECT_EQ(inv.endpoints.at(0).addresses, (std::vector<net::Address>{addr("198.18.9.9")}));
  inv = loadOk(R"({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p"}, "status": {"podIP": ""}})");
  EXPECT_TRUE(inv.endpoints.at(0).addresses.empty());
}

// ---- namespaces ---------------------------------------------------------------------

TEST(InventoryNamespaces, NameLabelAndImplicitNamespaces) {
  Inventory inv = loadOk(R"({"namespaces": [{"name": "shop"}],
      "endpoints": [{"name": "a", "namespace": "shop"}, {"name": "b", "namespace": "ops"}]})");
  ASSERT_NE(inv.findNamespace("shop"), nullptr);
  EXPECT_EQ(inv.findNamespace("shop")->labels, (labels::LabelSet{{kNamespaceNameLabel, "shop"}}));
  // "ops" is only referenced: it exists implicitly, with just its name label.
  EXPECT_EQ(inv.findNamespace("ops"), nullptr);
  EXPECT_EQ(inv.namespaceLabels("ops"), (labels::LabelSet{{kNamespaceNameLabel, "ops"}}));
  EXPECT_EQ(inv.namespaceLabels("shop"), (labels::LabelSet{{kNamespaceNameLabel, "shop"}}));
}

TEST(InventoryNamespaces, ExplicitNameLabelMustMatch) {
  loadOk(R"({"namespaces": [{"name": "shop", "labels": {"kubernetes.io/metadata.name": "shop"}}]})");
  EXPECT_EQ(
      loadError(R"({"namespaces": [{"name": "shop", "labels": {"kubernetes.io/metadata.name": "web"}}]})"),
      R"(inventory.json: namespaces[0].labels["kubernetes.io/metadata.name"]: must equal the namespace name "shop", got "web")");
  EXPECT_EQ(
      loadError(
          R"({"kind": "Namespace", "metadata": {"name": "a", "labels": {"kubernetes.io/metadata.name": "b"}}})"),
      R"(inventory.json: metadata.labels["kubernetes.io/metadata.name"]: must equal the namespace name "a", got "b")");
}

// ---- merging ------------------------------------------------------------------------------

TEST(InventoryMerge, BothFormatsTogether) {
  Inventory inv;
  std::string error;
  for (const char* f : {"pods.json", "membrane.json", "namespaces.json"})
    ASSERT_TRUE(loadInventoryFile(kData + f, inv, &error)) << error;
  // The membrane file's "shop" equals kubectl's once the name label is added.
  ASSERT_EQ(inv.namespaces.size(), 2u);
  EXPECT_EQ(inv.namespaces[0].name, "default");
  EXPECT_EQ(inv.namespaces[1].name, "shop");
  std::vector<std::string> names;
  for (const auto& e : inv.endpoints) names.push_back(e.ns + "/" + e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"default/debug", "default/probe", "ops/report-28570080-q7w2z",
                                             "shop/api-0", "shop/api-7d9f8b6c5d-x2x9k", "shop/db-0"}));
  EXPECT_EQ(inv.findEndpoint("shop", "api-0")->source, kData + "membrane.json");
  EXPECT_EQ(inv.findEndpoint("shop", "db-0")->source, kData + "pods.json");
  EXPECT_EQ(inv.findEndpoint("shop", "nope"), nullptr);
}

TEST(InventoryMerge, SortedAcrossFiles) {
  Inventory inv;
  std::string error;
  ASSERT_TRUE(loadInventoryText("a.json", R"({"namespaces": [{"name": "z"}, {"name": "b"}],
      "endpoints": [{"name": "y", "namespace": "b"}, {"name": "x"}]})",
                                inv, &error))
      << error;
  ASSERT_TRUE(loadInventoryText("b.json", R"({"namespaces": [{"name": "m"}, {"name": "a"}],
      "endpoints": [{"name": "a", "namespace": "b"}, {"name": "z", "namespace": "a"}]})",
                                inv, &error))
      << error;
  std::string order;
  for (const auto& n : inv.namespaces) order += n.name + " ";
  EXPECT_EQ(order, "a b m z ");
  order.clear();
  for (const auto& e : inv.endpoints) order += e.ns + "/" + e.name + " ";
  EXPECT_EQ(order, "a/z b/a b/y default/x ");
}

TEST(InventoryMerge, DuplicateEndpoints) {
  EXPECT_EQ(
      loadError(R"({"endpoints": [{"name": "api", "namespace": "shop"}, {"name": "b"},
                                        {"name": "api", "namespace": "shop"}]})"),
      R"(inventory.json: endpoints[2]: duplicate endpoint "shop/api", first defined at endpoints[0] in inventory.json)");
  // Same name in different namespaces is fine.
  loadOk(R"({"endpoints": [{"name": "api", "namespace": "a"}, {"name": "api", "namespace": "b"}]})");

  Inventory inv;
  std::string error;
  ASSERT_TRUE(
      loadInventoryText("a.json", R"({"endpoints": [{"name": "api", "namespace": "shop"}]})", inv, &error));
  EXPECT_FALSE(loadInventoryText("b.json", R"({"kind": "List", "apiVersion": "v1", "items": [
      {"kind": "Pod", "metadata": {"name": "api", "namespace": "shop"}}]})",
                                 inv, &error));
  EXPECT_EQ(error, R"(b.json: items[0]: duplicate endpoint "shop/api", first defined in a.json)");
  // Loading the very same file twice is a duplicate too.
  EXPECT_FALSE(
      loadInventoryText("a.json", R"({"endpoints": [{"name": "api", "namespace": "shop"}]})", inv, &error));
  EXPECT_EQ(error, R"(a.json: endpoints[0]: duplicate endpoint "shop/api", first defined in a.json)");
}

// Two endpoints with one address were accepted silently; on the node the
// address then maps to whichever came last (and an endpoint's address
// overrides the node's own), so a pod could be taken for another.
TEST(InventoryMerge, RefusesTwoEndpointsSharingAnAddress) {
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a", "addresses": ["198.18.1.1", "2001:2::1"]},
                                        {"name": "b", "addresses": ["198.18.1.2"]},
                                        {"name": "c", "namespace": "x", "addresses": ["2001:2:0::1"]}]})"),
            R"(inventory.json: endpoints[2]: address 2001:2::1 is also the address of endpoint "default/a" at endpoints[0])");
  // The first repeat in file order is reported, whatever the addresses' order.
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a", "addresses": ["198.18.9.9", "198.18.1.1"]},
                                        {"name": "b", "addresses": ["198.18.1.1"]},
                                        {"name": "c", "addresses": ["198.18.9.9"]}]})"),
            R"(inventory.json: endpoints[1]: address 198.18.1.1 is also the address of endpoint "default/a" at endpoints[0])");
  // An endpoint repeating its own address is fine: kept once.
  loadOk(R"({"endpoints": [{"name": "a", "addresses": ["198.18.1.1", "198.18.1.1"]}]})");

  Inventory inv;
  std::string error;
  ASSERT_TRUE(loadInventoryText("a.json", R"({"endpoints": [{"name": "a", "addresses": ["198.18.1.1"]}]})", inv,
                                &error));
  EXPECT_FALSE(loadInventoryText("b.json", R"({"kind": "Pod", "metadata": {"name": "p", "namespace": "shop"},
                                              "status": {"podIP": "198.18.1.1"}})",
                                 inv, &error));
  EXPECT_EQ(error, R"(b.json: address 198.18.1.1 is also the address of endpoint "default/a" in a.json)");
  EXPECT_EQ(inv.endpoints.size(), 1u);
}

// kubectl lists pods that have no address of their own: hostNetwork pods
// (the node's address, which is the `host` entity) and finished ones (whose
// address may already be another pod's). They are endpoints without
// addresses.
TEST(InventoryKubectl, HostNetworkAndFinishedPodsHaveNoAddress) {
  Inventory inv = loadOk(R"({"kind": "List", "items": [
      {"kind": "Pod", "metadata": {"name": "proxy-a", "namespace": "kube-system"},
       "spec": {"hostNetwork": true}, "status": {"phase": "Running", "podIP": "198.18.0.1"}},
      {"kind": "Pod", "metadata": {"name": "proxy-b", "namespace": "kube-system"},
       "spec": {"hostNetwork": true}, "status": {"phase": "Running", "podIP": "198.18.0.1"}},
      {"kind": "Pod", "metadata": {"name": "job-1", "namespace": "ops"},
       "status": {"phase": "Succeeded", "podIPs": [{"ip": "198.18.2.7"}]}},
      {"kind": "Pod", "metadata": {"name": "job-2", "namespace": "ops"},
       "status": {"phase": "Failed", "podIP": "198.18.2.7"}},
      {"kind": "Pod", "metadata": {"name": "web", "namespace": "ops"},
       "spec": {"hostNetwork": false}, "status": {"phase": "Running", "podIP": "198.18.2.7"}}]})");
  ASSERT_EQ(inv.endpoints.size(), 5u);
  EXPECT_TRUE(inv.findEndpoint("kube-system", "proxy-a")->addresses.empty());
  EXPECT_TRUE(inv.findEndpoint("kube-system", "proxy-b")->addresses.empty());
  EXPECT_TRUE(inv.findEndpoint("ops", "job-1")->addresses.empty());
  EXPECT_TRUE(inv.findEndpoint("ops", "job-2")->addresses.empty());
  EXPECT_EQ(inv.findEndpoint("ops", "web")->addresses, (std::vector<net::Address>{addr("198.18.2.7")}));
  EXPECT_EQ(loadError(R"({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"hostNetwork": "yes"}})"),
            "inventory.json: spec.hostNetwork: expected a boolean, got string");
  EXPECT_EQ(loadError(R"({"kind": "Pod", "metadata": {"name": "p"}, "status": {"phase": 1}})"),
            "inventory.json: status.phase: expected a string, got number");
}

TEST(InventoryMerge, NamespaceDeclaredTwice) {
  // Identical declarations are fine, within a file and across files.
  Inventory inv = loadOk(R"({"namespaces": [{"name": "shop", "labels": {"team": "web"}},
                                             {"name": "shop", "labels": {"team": "web"}}]})");
  std::string error;
  ASSERT_TRUE(loadInventoryText("b.json", R"({"namespaces": [{"name": "shop", "labels": {"team": "web"}}]})",
                                inv, &error))
      << error;
  EXPECT_EQ(inv.namespaces.size(), 1u);

  EXPECT_FALSE(loadInventoryText("b.json", R"({"namespaces": [{"name": "shop", "labels": {"team": "db"}}]})",
                                 inv, &error));
  EXPECT_EQ(
      error,
      R"(b.json: namespaces[0]: namespace "shop" is declared again with different labels: label "team": "db" here, "web" in an earlier inventory file)");
  EXPECT_FALSE(loadInventoryText("b.json", R"({"namespaces": [{"name": "shop"}]})", inv, &error));
  EXPECT_CONTAINS(error, R"(label "team": not set here, "web" in an earlier inventory file)");

  EXPECT_EQ(
      loadError(R"({"namespaces": [{"name": "a"}, {"name": "shop", "labels": {"team": "web"}},
                                         {"name": "shop", "labels": {"team": "web", "x": "y"}}]})"),
      R"(inventory.json: namespaces[2]: namespace "shop" is declared again with different labels: label "x": "y" here, not set at namespaces[1])");
}

TEST(InventoryMerge, FailedLoadLeavesInventoryUnchanged) {
  Inventory inv;
  std::string error;
  ASSERT_TRUE(loadInventoryFile(kData + "membrane.json", inv, &error)) << error;
  ASSERT_TRUE(loadInventoryFile(kData + "namespaces.json", inv, &error)) << error;
  const std::string before = dump(inv);

  const char* bad[] = {
      // Valid entries first, then a bad field: nothing of the file may stick.
      R"({"namespaces": [{"name": "new"}], "endpoints": [{"name": "fresh"}, {"name": "x", "addresses": ["198.18.1.300"]}]})",
      // Conflicts with what is already loaded.
      R"({"namespaces": [{"name": "new"}], "endpoints": [{"name": "fresh"}, {"name": "api-0", "namespace": "shop"}]})",
      R"({"endpoints": [{"name": "fresh"}], "namespaces": [{"name": "aaa"}, {"name": "shop", "labels": {"team": "ops"}}]})",
      R"({"kind": "List", "apiVersion": "v1", "items": [{"kind": "Pod", "metadata": {"name": "p"}}, {"kind": "Pod"}]})",
      R"({"endpoints": [{"name": "fresh"}]] )",
  };
  for (const char* text : bad) {
    EXPECT_FALSE(loadInventoryText("bad.json", text, inv, &error)) << text;
    EXPECT_EQ(dump(inv), before) << text;
  }
  EXPECT_FALSE(loadInventoryFile(kData + "does-not-exist.json", inv, &error));
  EXPECT_EQ(dump(inv), before);
}

// ---- errors -----------------------------------------------------------------------------------

TEST(InventoryErrors, InvalidAddresses) {
  EXPECT_EQ(
      loadError(
          R"({"endpoints": [{"name": "a"}, {"name": "b"}, {"name": "c", "addresses": ["198.18.1.300"]}]})"),
      R"(inventory.json: endpoints[2].addresses[0]: "198.18.1.300" is not an IPv4 or IPv6 address)");
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a", "addresses": ["198.18.1.1", "2001:2::1::2"]}]})"),
            R"(inventory.json: endpoints[0].addresses[1]: "2001:2::1::2" is not an IPv4 or IPv6 address)");
  EXPECT_EQ(
      loadError(R"({"endpoints": [{"name": "a", "addresses": ["198.18.1.0/24"]}]})"),
      R"(inventory.json: endpoints[0].addresses[0]: "198.18.1.0/24" is not an IPv4 or IPv6 address (a single address, not a prefix, is expected))");
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a", "addresses": [""]}]})"),
            R"(inventory.json: endpoints[0].addresses[0]: "" is not an IPv4 or IPv6 address)");
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a", "addresses": [3]}]})"),
            R"(inventory.json: endpoints[0].addresses[0]: expected a string, got number)");
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a", "addresses": "198.18.1.1"}]})"),
            R"(inventory.json: endpoints[0].addresses: expected an array, got string)");
  // Long junk is cut short in the message.
  std::string longJunk(5000, 'x');
  std::string err = loadError(R"({"endpoints": [{"name": "a", "addresses": [")" + longJunk + R"("]}]})");
  EXPECT_LT(err.size(), 200u);
  EXPECT_CONTAINS(err, R"(xxx..." is not an IPv4 or IPv6 address)");
  // ... at a character boundary, whatever the encoding.
  for (size_t pad = 0; pad < 9; ++pad) {
    std::string wide = std::string(pad, 'x');
    for (int i = 0; i < 40; ++i) wide += "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80";  // 2-, 3- and 4-byte
    err = loadError(R"({"endpoints": [{"name": "a", "addresses": [")" + wide + R"("]}]})");
    EXPECT_CONTAINS(err, R"(..." is not an IPv4 or IPv6 address)");
    err = loadError(R"({"endpoints": [{"name": "a", "labels": {")" + wide + R"(": 1}}]})");
    EXPECT_CONTAINS(err, R"(..."]: expected a string, got number)");
  }
}

TEST(InventoryErrors, KubectlAddressPaths) {
  EXPECT_EQ(loadError(R"({"apiVersion": "v1", "kind": "List", "items": [
      {"kind": "Namespace", "metadata": {"name": "n"}},
      {"kind": "Service", "metadata": {"name": "s"}},
      {"kind": "Pod", "metadata": {"name": "p1"}, "status": {"podIPs": [{"ip": "198.18.0.1"}]}},
      {"kind": "Pod", "metadata": {"name": "p2"}, "status": {"podIPs": [{"ip": "198.18.0.256"}]}}]})"),
            R"(inventory.json: items[3].status.podIPs[0].ip: "198.18.0.256" is not an IPv4 or IPv6 address)");
  EXPECT_EQ(loadError(R"({"kind": "Pod", "metadata": {"name": "p"}, "status": {"podIP": "fe80::1%eth0"}})"),
            R"(inventory.json: status.podIP: "fe80::1%eth0" is not an IPv4 or IPv6 address)");
  EXPECT_EQ(
      loadError(
          R"({"kind": "Pod", "metadata": {"name": "p"}, "status": {"podIPs": [{"address": "198.18.0.1"}]}})"),
      R"(inventory.json: status.podIPs[0]: missing required key "ip")");
  EXPECT_EQ(loadError(R"({"kind": "Pod", "metadata": {"name": "p"}, "status": {"podIPs": ["198.18.0.1"]}})"),
            R"(inventory.json: status.podIPs[0]: expected an object, got string)");
}

TEST(InventoryErrors, UnknownKeys) {
  EXPECT_EQ(loadError(R"({"endpoint": []})"),
            R"(inventory.json: unknown top-level key "endpoint" (did you mean "endpoints"?))");
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a", "lables": {}}]})"),
            R"(inventory.json: endpoints[0]: unknown key "lables" (did you mean "labels"?))");
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a", "colour": "red"}]})"),
            R"(inventory.json: endpoints[0]: unknown key "colour")");
  EXPECT_EQ(
      loadError(R"({"endpoints": [{"name": "a", "ports": [{"name": "h", "port": 1, "proto": "TCP"}]}]})"),
      R"(inventory.json: endpoints[0].ports[0]: unknown key "proto" (did you mean "protocol"?))");
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a", "addr": []}]})"),
            R"(inventory.json: endpoints[0]: unknown key "addr" (did you mean "addresses"?))");
  EXPECT_EQ(loadError(R"({"namespaces": [{"name": "a", "label": {}}]})"),
            R"(inventory.json: namespaces[0]: unknown key "label" (did you mean "labels"?))");
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a", "containerPort": 80}]})"),
            R"(inventory.json: endpoints[0]: unknown key "containerPort")");
}

TEST(InventoryErrors, Ports) {
  auto portError = [](const std::string& port) {
    return loadError(R"({"endpoints": [{"name": "a", "ports": [{"name": "h", "port": )" + port + "}]}]}");
  };
  const std::string prefix =
      "inventory.json: endpoints[0].ports[0].port: expected a port number between 1 and 65535, got ";
  EXPECT_EQ(portError("0"), prefix + "0");
  EXPECT_EQ(portError("-1"), prefix + "-1");
  EXPECT_EQ(portError("65536"), prefix + "65536");
  EXPECT_EQ(portError("18446744073709551615"), prefix + "18446744073709551615");
  EXPECT_EQ(portError("99999999999999999999"), prefix + "1e+20");
  EXPECT_EQ(portError("80.5"), prefix + "80.5");
  EXPECT_EQ(portError(R"("80")"), prefix + R"("80")");
  EXPECT_EQ(portError("null"), prefix + "null");
  EXPECT_EQ(portError("[80]"), prefix + "an array");
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a", "ports": [{"name": "h"}]}]})"),
            R"(inventory.json: endpoints[0].ports[0]: missing required key "port")");
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a", "ports": [{"port": 80}]}]})"),
            R"(inventory.json: endpoints[0].ports[0]: missing required key "name")");
  EXPECT_EQ(
      loadError(
          R"({"endpoints": [{"name": "a", "ports": [{"name": "h", "port": 80, "protocol": "ICMP"}]}]})"),
      R"(inventory.json: endpoints[0].ports[0].protocol: unknown protocol "ICMP" (expected TCP, UDP or SCTP))");
  EXPECT_EQ(
      loadError(R"({"endpoints": [{"name": "a", "ports": [{"name": "h", "port": 80, "protocol": 6}]}]})"),
      R"(inventory.json: endpoints[0].ports[0].protocol: expected a string, got number)");
  EXPECT_EQ(
      loadError(
          R"({"endpoints": [{"name": "a", "ports": [{"name": "http", "port": 8080}, {"name": "http", "port": 8081}]}]})"),
      R"(inventory.json: endpoints[0].ports[1]: port name "http" (TCP) is 8081 here but 8080 at endpoints[0].ports[0])");
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a", "ports": {"name": "h", "port": 80}}]})"),
            R"(inventory.json: endpoints[0].ports: expected an array, got object)");
}

TEST(InventoryErrors, KubectlPorts) {
  EXPECT_EQ(loadError(R"({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [
      {"name": "a"}, {"name": "b", "ports": [{"name": "http", "containerPort": 0}]}]}})"),
            "inventory.json: spec.containers[1].ports[0].containerPort: expected a port number between 1 and "
            "65535, got 0");
  EXPECT_EQ(loadError(R"({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [
      {"name": "b", "ports": [{"name": "http"}]}]}})"),
            R"(inventory.json: spec.containers[0].ports[0]: missing required key "containerPort")");
  EXPECT_EQ(
      loadError(R"({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [
      {"name": "b", "ports": [{"name": "dns", "containerPort": 53, "protocol": "QUIC"}]}]}})"),
      R"(inventory.json: spec.containers[0].ports[0].protocol: unknown protocol "QUIC" (expected TCP, UDP or SCTP))");
  EXPECT_EQ(loadError(R"({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": {}}})"),
            R"(inventory.json: spec.containers: expected an array, got object)");
}

TEST(InventoryErrors, NamesAndNamespaces) {
  EXPECT_EQ(loadError(R"({"endpoints": [{"namespace": "a"}]})"),
            R"(inventory.json: endpoints[0]: missing required key "name")");
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": ""}]})"),
            "inventory.json: endpoints[0].name: must not be empty");
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": 7}]})"),
            "inventory.json: endpoints[0].name: expected a string, got number");
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": null}]})"),
            "inventory.json: endpoints[0].name: expected a string, got null");
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a", "namespace": ""}]})"),
            "inventory.json: endpoints[0].namespace: must not be empty");
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a", "workload": ""}]})"),
            "inventory.json: endpoints[0].workload: must not be empty");
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a", "workload": false}]})"),
            "inventory.json: endpoints[0].workload: expected a string, got boolean");
  EXPECT_EQ(loadError(R"({"namespaces": [{}]})"),
            R"(inventory.json: namespaces[0]: missing required key "name")");
  EXPECT_EQ(loadError(R"({"namespaces": ["shop"]})"),
            "inventory.json: namespaces[0]: expected an object, got string");
  EXPECT_EQ(loadError(R"({"namespaces": {"name": "shop"}})"),
            "inventory.json: namespaces: expected an array, got object");
  EXPECT_EQ(loadError(R"({"endpoints": null})"), "inventory.json: endpoints: expected an array, got null");
}

TEST(InventoryErrors, Labels) {
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a", "labels": ["app"]}]})"),
            "inventory.json: endpoints[0].labels: expected an object, got array");
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a", "labels": {"app": "x", "tier": 2}}]})"),
            "inventory.json: endpoints[0].labels.tier: expected a string, got number");
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a", "labels": {"app.kubernetes.io/name": null}}]})"),
            R"(inventory.json: endpoints[0].labels["app.kubernetes.io/name"]: expected a string, got null)");
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a", "labels": {"": "x"}}]})"),
            "inventory.json: endpoints[0].labels: label key must not be empty");
  EXPECT_EQ(loadError(R"({"namespaces": [{"name": "a", "labels": {"team": true}}]})"),
            "inventory.json: namespaces[0].labels.team: expected a string, got boolean");
  EXPECT_EQ(loadError(R"({"kind": "Pod", "metadata": {"name": "p", "labels": {"v": 1}}})"),
            "inventory.json: metadata.labels.v: expected a string, got number");
}

TEST(InventoryErrors, TopLevel) {
  EXPECT_EQ(loadError("[]"), "inventory.json: expected a JSON object at the top level, got array");
  EXPECT_EQ(loadError("null"), "inventory.json: expected a JSON object at the top level, got null");
  EXPECT_EQ(loadError("\"x\""), "inventory.json: expected a JSON object at the top level, got string");
}

TEST(InventoryErrors, JsonSyntax) {
  EXPECT_CONTAINS(loadError("{\n  \"endpoints\": [,]\n}"), "inventory.json:2:17: invalid JSON: ");
  EXPECT_CONTAINS(loadError("{\n  \"endpoints\": [,]\n}"), "unexpected ','");
  EXPECT_CONTAINS(loadError(""), "inventory.json:1:1: invalid JSON: ");
  EXPECT_CONTAINS(loadError("{\"endpoints\": []}\n\n  x"), "inventory.json:3:3: invalid JSON: ");
  EXPECT_CONTAINS(loadError("{\"endpoints\": [\n"), "inventory.json:2:1: invalid JSON: ");
  EXPECT_CONTAINS(loadError("{\"endpoints\": [{\"name\": \"\xff\"}]}"),
                  "inventory.json:1:26: invalid JSON: ");
  // Comments are not JSON.
  EXPECT_CONTAINS(loadError("{\n// c\n}"), "inventory.json:2:1: invalid JSON: ");
  // Numbers too large for a double: nlohmann gives no position, so it is found.
  EXPECT_EQ(
      loadError(
          "{\"endpoints\": [{\"name\": \"1e400\",\n  \"ports\": [{\"name\": \"h\", \"port\": 1e400}]}]}"),
      "inventory.json:2:35: invalid JSON: number 1e400 is out of range");
  EXPECT_EQ(loadError("{\"a\": [11e400, -1e400]}"),
            "inventory.json:1:8: invalid JSON: number 11e400 is out of range");
}

TEST(InventoryErrors, DuplicateKeys) {
  EXPECT_EQ(loadError(R"({"endpoints": [], "endpoints": []})"),
            R"(inventory.json: duplicate key "endpoints")");
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a"}, {"name": "b", "labels": {}, "labels": {"x": "y"}}]})"),
            R"(inventory.json: endpoints[1]: duplicate key "labels")");
  EXPECT_EQ(
      loadError(
          R"({"endpoints": [{"name": "a", "ports": [[], {"name": "h", "port": 1}, {"name": "h", "port": 1, "port": 2}]}]})"),
      R"(inventory.json: endpoints[0].ports[2]: duplicate key "port")");
  EXPECT_EQ(
      loadError(R"({"kind": "Pod", "metadata": {"name": "p", "labels": {"a.b/c": "1", "a.b/c": "2"}}})"),
      R"(inventory.json: metadata.labels: duplicate key "a.b/c")");
}

TEST(InventoryErrors, Kubectl) {
  EXPECT_EQ(loadError(R"({"apiVersion": "v1", "kind": "pod"})"),
            R"(inventory.json: kind: unsupported kind "pod" (did you mean "Pod"?))");
  EXPECT_EQ(
      loadError(R"({"apiVersion": "v1", "kind": "Service"})"),
      R"(inventory.json: kind: unsupported kind "Service" (expected List, PodList, NamespaceList, NodeList, Pod, )"
      R"(Namespace or Node))");
  EXPECT_EQ(loadError(R"({"apiVersion": "v1", "items": []})"),
            R"(inventory.json: missing "kind" (expected List, PodList, NamespaceList, NodeList, Pod, Namespace )"
            R"(or Node))");
  EXPECT_EQ(loadError(R"({"apiVersion": "v1", "kind": 1})"),
            "inventory.json: kind: expected a string, got number");
  EXPECT_EQ(loadError(R"({"kind": "List", "items": {}})"),
            "inventory.json: items: expected an array, got object");
  EXPECT_EQ(loadError(R"({"kind": "List", "items": [7]})"),
            "inventory.json: items[0]: expected an object, got number");
  EXPECT_EQ(loadError(R"({"kind": "List", "items": [{"metadata": {"name": "p"}}]})"),
            R"(inventory.json: items[0]: missing "kind")");
  EXPECT_EQ(loadError(R"({"kind": "List", "items": [{"kind": "Pod"}]})"),
            R"(inventory.json: items[0]: missing required key "metadata")");
  EXPECT_EQ(loadError(R"({"kind": "List", "items": [{"kind": "Pod", "metadata": {"namespace": "x"}}]})"),
            R"(inventory.json: items[0].metadata: missing required key "name")");
  EXPECT_EQ(loadError(R"({"kind": "List", "items": [{"kind": "Namespace", "metadata": {"name": ""}}]})"),
            "inventory.json: items[0].metadata.name: must not be empty");
  EXPECT_EQ(loadError(R"({"kind": "Pod", "metadata": {"name": "p", "ownerReferences": {"kind": "Job"}}})"),
            "inventory.json: metadata.ownerReferences: expected an array, got object");
  EXPECT_EQ(loadError(R"({"kind": "Pod", "metadata": {"name": "p", "ownerReferences": [{"kind": "Job"}]}})"),
            R"(inventory.json: metadata.ownerReferences[0]: missing required key "name")");
  EXPECT_EQ(loadError(R"({"kind": "Pod", "metadata": {"name": "p"}, "status": "Running"})"),
            "inventory.json: status: expected an object, got string");
}

TEST(InventoryErrors, Files) {
  Inventory inv;
  std::string error;
  EXPECT_FALSE(loadInventoryFile("/nonexistent/inventory.json", inv, &error));
  EXPECT_EQ(error, "cannot open '/nonexistent/inventory.json': No such file or directory");
  const std::string dir = std::string(MEMBRANE_TEST_DATA) + "/inventory";
  EXPECT_FALSE(loadInventoryFile(dir, inv, &error));
  EXPECT_EQ(error, "'" + dir + "' is not a regular file (a directory); an inventory file must be a file");
  // A null error pointer is allowed.
  EXPECT_FALSE(loadInventoryText("x.json", "[", inv, nullptr));
  EXPECT_FALSE(loadInventoryFile("/nonexistent/inventory.json", inv, nullptr));
}

// /dev/zero never ends and a FIFO without a writer never answers: both used
// to be read until memory ran out or forever.
TEST(InventoryErrors, DevicesAndFifosAreRefusedWithoutReading) {
  Inventory inv;
  std::string error;
  EXPECT_FALSE(loadInventoryFile("/dev/zero", inv, &error));
  EXPECT_EQ(error, "'/dev/zero' is not a regular file (a character device); an inventory file must be a file");

  std::string dir = (std::filesystem::temp_directory_path() / "membrane-inventory-XXXXXX").string();
  ASSERT_TRUE(::mkdtemp(dir.data()));
  std::string fifo = dir + "/pods.json";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_FALSE(loadInventoryFile(fifo, inv, &error));
  EXPECT_EQ(error, "'" + fifo + "' is not a regular file (a FIFO); an inventory file must be a file");
  std::filesystem::remove_all(dir);
  EXPECT_TRUE(inv.endpoints.empty());
}

TEST(InventoryErrors, FilesPastTheCapAreRefusedWithoutReading) {
  std::string dir = (std::filesystem::temp_directory_path() / "membrane-inventory-XXXXXX").string();
  ASSERT_TRUE(::mkdtemp(dir.data()));
  std::string big = dir + "/big.json";
  std::ofstream{big};
  // Sparse: refused by its size before a byte is read.
  ASSERT_EQ(::truncate(big.c_str(), static_cast<off_t>(kMaxInventoryFileBytes + (size_t{1} << 20))), 0);
  Inventory inv;
  std::string error;
  EXPECT_FALSE(loadInventoryFile(big, inv, &error));
  EXPECT_EQ(error, "'" + big + "' is 257 MiB; membrane reads an inventory file of at most 256 MiB");
  std::filesystem::remove_all(dir);
}

// ---- large inventories ----------------------------------------------------------------------
//
// The entries of a file are read one at a time as the text is parsed,
// never as one JSON document. What that must not change:

TEST(InventoryStreaming, TheFormatIsKnownWhateverTheOrderOfTopLevelKeys) {
  // "items" before "kind", as kubectl prints them; the items of a typed
  // list have no kind of their own.
  Inventory inv = loadOk(R"({"apiVersion": "v1", "items": [{"metadata": {"name": "p", "namespace": "x"}}],
                             "kind": "PodList"})");
  EXPECT_NE(inv.findEndpoint("x", "p"), nullptr);
  // An "endpoints" key in kubectl output is not membrane's: ignored, as any
  // unknown field there.
  inv = loadOk(R"({"endpoints": [{"bogus": 1}], "kind": "List", "items": []})");
  EXPECT_TRUE(inv.endpoints.empty());
}

TEST(InventoryStreaming, TopLevelMistakesAreReportedBeforeEntries) {
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": ""}], "endpionts": {}})"),
            R"(inventory.json: unknown top-level key "endpionts" (did you mean "endpoints"?))");
  EXPECT_EQ(loadError(R"({"items": [{"kind": "Pod"}], "kind": "PodLst"})"),
            R"(inventory.json: kind: unsupported kind "PodLst" (did you mean "PodList"?))");
  // A syntax error anywhere comes first, then a repeated key.
  EXPECT_CONTAINS(loadError(R"({"endpoints": [{"name": ""}], "namespaces": [})"), "inventory.json:1:46: invalid JSON");
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": ""}, {"name": "a", "name": "b"}]})"),
            R"(inventory.json: endpoints[1]: duplicate key "name")");
}

TEST(InventoryStreaming, EntriesKeepTheirIndexAndTypesAreChecked) {
  EXPECT_EQ(loadError(R"({"endpoints": [{"name": "a"}, 7, {"name": "b"}]})"),
            "inventory.json: endpoints[1]: expected an object, got number");
  EXPECT_EQ(loadError(R"({"namespaces": [{"name": "a"}], "endpoints": [{"name": "a"}, [], {}]})"),
            "inventory.json: endpoints[1]: expected an object, got array");
  EXPECT_EQ(loadError(R"({"endpoints": {"name": "a"}})"), "inventory.json: endpoints: expected an array, got object");
  EXPECT_EQ(loadError(R"({"kind": "List", "items": [{"kind": "Pod", "metadata": {"name": "p"}}, {"metadata": {}}]})"),
            R"(inventory.json: items[1]: missing "kind")");
}

// A million endpoints took 2.3 GB and 3 minutes: the whole file became one
// JSON document (about 1.2 KB per endpoint) through nlohmann's callback
// parser, which also rescanned the enclosing array after every object.
TEST(InventoryStreaming, LoadingKeepsLittleMoreThanTheEndpoints) {
  std::string text = R"({"endpoints": [)";
  const size_t n = 20000;
  for (size_t i = 0; i < n; ++i) {
    text += (i ? "," : "") + std::string(R"({"name": "pod-)") + std::to_string(i) +
            R"(", "namespace": "ns)" + std::to_string(i % 50) + R"(", "labels": {"app": "a)" +
            std::to_string(i % 1000) + R"(", "tier": "t"}, "addresses": ["198.18.)" + std::to_string(i / 250) +
            "." + std::to_string(i % 250) + R"("], "ports": [{"name": "http", "port": 8080}]})";
  }
  text += "]}";
  Inventory inv;
  std::string error;
  size_t before = testing::resetHeapPeak();
  ASSERT_TRUE(loadInventoryText("big.json", text, inv, &error)) << error;
  size_t peak = testing::heapPeak.load() - before;
  size_t kept = testing::heapInUse.load() - before;
  ASSERT_EQ(inv.endpoints.size(), n);
  // What the endpoints keep, and at most as much again while loading.
  EXPECT_LT(peak, 2 * kept) << "peak " << peak / n << " bytes per endpoint, kept " << kept / n;
}

// ---- robustness ------------------------------------------------------------------------------

// Replaces every value in a document, one at a time, by values of every other
// type and range; the loader must answer without crashing or throwing.
void forEachMutation(const nlohmann::json& doc, const std::function<void(const nlohmann::json&)>& check) {
  const std::vector<nlohmann::json> replacements = {nullptr,
                                                    true,
                                                    0,
                                                    -1,
                                                    65536,
                                                    1e300,
                                                    18446744073709551615ull,
                                                    "",
                                                    "x",
                                                    "198.18.0.1",
                                                    nlohmann::json::array(),
                                                    nlohmann::json::object(),
                                                    nlohmann::json::array({nullptr}),
                                                    nlohmann::json::object({{"", nullptr}})};
  nlohmann::json flat = doc.flatten();
  std::vector<nlohmann::json::json_pointer> pointers;
  // Containers too, not just leaves.
  for (const auto& [path, value] : flat.items()) {
    nlohmann::json::json_pointer p(path);
    while (!p.empty()) {
      pointers.push_back(p);
      p = p.parent_pointer();
    }
  }
  std::sort(pointers.begin(), pointers.end());
  pointers.erase(std::unique(pointers.begin(), pointers.end()), pointers.end());
  for (const auto& p : pointers) {
    for (const auto& r : replacements) {
      nlohmann::json copy = doc;
      copy[p] = r;
      check(copy);
    }
  }
}

TEST(InventoryRobustness, EveryFieldWithEveryType) {
  for (const char* file : {"pods.json", "namespaces.json", "membrane.json"}) {
    std::ifstream in(kData + file);
    nlohmann::json doc = nlohmann::json::parse(in);
    size_t failures = 0;
    forEachMutation(doc, [&](const nlohmann::json& mutated) {
      Inventory inv;
      std::string error;
      bool ok = false;
      EXPECT_NO_THROW(ok = loadInventoryText(file, mutated.dump(), inv, &error));
      if (!ok) {
        ++failures;
        EXPECT_EQ(dump(inv), "");
        EXPECT_EQ(error.rfind(std::string(file) + ":", 0), 0u) << error;
      }
    });
    EXPECT_GT(failures, 0u);
  }
}

TEST(InventoryRobustness, TruncatedAndDeeplyNestedInput) {
  std::ifstream in(kData + "pods.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(text.empty());
  for (size_t n = 0; n + 2 < text.size(); n += 7) {
    Inventory inv;
    std::string error;
    EXPECT_FALSE(loadInventoryText("pods.json", text.substr(0, n), inv, &error));
    EXPECT_EQ(error.rfind("pods.json:", 0), 0u) << error;
  }
  std::string deep = R"({"endpoints": [{"name": "a", "labels": )" + std::string(100000, '[') +
                     std::string(100000, ']') + "}]}";
  EXPECT_EQ(loadError(deep), "inventory.json: endpoints[0].labels: expected an object, got array");
  std::string deepKeys;
  for (int i = 0; i < 50000; ++i) deepKeys += R"({"a":)";
  deepKeys += "1" + std::string(50000, '}');
  EXPECT_EQ(loadError(deepKeys), R"(inventory.json: unknown top-level key "a")");
}

// ---- nodes ------------------------------------------------------------------------------

TEST(InventoryNodes, AreSortedByNameWithEachAddressOnceAndInOrder) {
  Inventory inv;
  std::string error;
  ASSERT_TRUE(loadInventoryText("a.json", R"({"nodes": [
      {"name": "worker-2", "labels": {"role": "worker"},
       "addresses": ["2001:2::c8:12", "198.18.200.12", "198.18.200.12"]},
      {"name": "cp-1", "labels": {"node-role.kubernetes.io/control-plane": ""}, "addresses": ["198.18.200.1"]}]})",
                                inv, &error))
      << error;
  ASSERT_TRUE(loadInventoryText("b.json", R"({"nodes": [{"name": "worker-1.example.com"}]})", inv, &error)) << error;
  EXPECT_EQ(dump(inv),
            "node cp-1 source=a.json node-role.kubernetes.io/control-plane= 198.18.200.1\n"
            "node worker-1.example.com source=b.json\n"
            "node worker-2 source=a.json role=worker 198.18.200.12 2001:2::c8:12\n");
  ASSERT_NE(inv.findNode("worker-2"), nullptr);
  EXPECT_EQ(inv.findNode("worker-2")->labels.at("role"), "worker");
  EXPECT_EQ(inv.findNode("worker-3"), nullptr);
}

TEST(InventoryNodes, MistakesInTheNodesListAreErrorsNamingTheField) {
  EXPECT_EQ(loadError(R"({"node": []})"), R"(inventory.json: unknown top-level key "node" (did you mean "nodes"?))");
  EXPECT_EQ(loadError(R"({"nodes": {}})"), "inventory.json: nodes: expected an array, got object");
  EXPECT_EQ(loadError(R"({"nodes": [{"name": "a", "adresses": []}]})"),
            R"(inventory.json: nodes[0]: unknown key "adresses" (did you mean "addresses"?))");
  EXPECT_EQ(loadError(R"({"nodes": [{"name": "a", "namespace": "x"}]})"),
            R"(inventory.json: nodes[0]: unknown key "namespace")");
  EXPECT_EQ(loadError(R"({"nodes": [{"labels": {}}]})"), R"(inventory.json: nodes[0]: missing required key "name")");
  EXPECT_EQ(loadError(R"({"nodes": [{"name": "Node_1"}]})"),
            R"(inventory.json: nodes[0].name: node name "Node_1" is not a Kubernetes object name (lowercase letters, )"
            R"(digits, '-' and '.', at most 253 characters))");
  EXPECT_EQ(loadError(R"({"nodes": [{"name": "a", "addresses": ["198.18.200.300"]}]})"),
            R"(inventory.json: nodes[0].addresses[0]: "198.18.200.300" is not an IPv4 or IPv6 address)");
  EXPECT_EQ(loadError(R"({"nodes": [{"name": "a", "addresses": ["198.18.200.0/24"]}]})"),
            R"(inventory.json: nodes[0].addresses[0]: "198.18.200.0/24" is not an IPv4 or IPv6 address (a single )"
            R"(address, not a prefix, is expected))");
  EXPECT_EQ(loadError(R"({"nodes": [{"name": "a", "labels": {"role": 1}}]})"),
            "inventory.json: nodes[0].labels.role: expected a string, got number");
  // Listed twice, even alike: one of the two is a mistake.
  EXPECT_EQ(loadError(R"({"nodes": [{"name": "a"}, {"name": "b"}, {"name": "a"}]})"),
            R"(inventory.json: nodes[2]: node "a" is defined again: first at nodes[0])");
}

TEST(InventoryNodes, ANodeInTwoFilesIsAnErrorThatLeavesTheInventoryAsItWas) {
  Inventory inv;
  std::string error;
  ASSERT_TRUE(loadInventoryText("a.json", R"({"nodes": [{"name": "n1", "addresses": ["198.18.200.1"]}]})", inv,
                                &error))
      << error;
  std::string before = dump(inv);
  EXPECT_FALSE(loadInventoryText("b.json", R"({"nodes": [{"name": "n0"}, {"name": "n1"}]})", inv, &error));
  EXPECT_EQ(error, R"(b.json: nodes[1]: node "n1" is defined again: first in a.json)");
  EXPECT_EQ(dump(inv), before);
}

TEST(InventoryNodes, KubectlNodesGiveTheirInternalAndExternalAddresses) {
  // `kubectl get nodes -o json`: a List of Nodes; Hostname and the DNS
  // types name the node and are skipped.
  Inventory inv = loadOk(R"({"apiVersion": "v1", "kind": "List", "items": [
      {"apiVersion": "v1", "kind": "Node",
       "metadata": {"name": "worker-1", "labels": {"role": "worker", "kubernetes.io/hostname": "worker-1"}},
       "spec": {"podCIDR": "198.18.64.0/24"},
       "status": {"addresses": [{"type": "InternalIP", "address": "198.18.200.11"},
                                {"type": "ExternalIP", "address": "2001:2::c8:11"},
                                {"type": "Hostname", "address": "worker-1"},
                                {"type": "InternalDNS", "address": "worker-1.cluster.internal"}],
                  "capacity": {"cpu": "4"}}},
      {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "pending"}, "status": {"addresses": null}}]})");
  EXPECT_EQ(dump(inv),
            "node pending source=inventory.json\n"
            "node worker-1 source=inventory.json kubernetes.io/hostname=worker-1 role=worker 198.18.200.11 "
            "2001:2::c8:11\n");
  // A NodeList's items may omit their kind; a single Node is read too.
  inv = loadOk(R"({"apiVersion": "v1", "kind": "NodeList", "items": [{"metadata": {"name": "n1"}}]})");
  EXPECT_NE(inv.findNode("n1"), nullptr);
  inv = loadOk(R"({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2"},
      "status": {"addresses": [{"type": "InternalIP", "address": "198.18.200.2"}]}})");
  ASSERT_NE(inv.findNode("n2"), nullptr);
  EXPECT_EQ(inv.findNode("n2")->addresses, (std::vector<net::Address>{addr("198.18.200.2")}));
  EXPECT_EQ(loadError(R"({"kind": "NodeList", "items": [{"metadata": {"name": "n"},
      "status": {"addresses": [{"type": "InternalIP", "address": "worker-1"}]}}]})"),
            R"(inventory.json: items[0].status.addresses[0].address: "worker-1" is not an IPv4 or IPv6 address)");
  EXPECT_EQ(loadError(R"({"kind": "Node", "metadata": {"name": "n"}, "status": {"addresses": [{"type": 4}]}})"),
            "inventory.json: status.addresses[0].type: expected a string, got number");
}

}  // namespace
}  // namespace membrane::inventory
