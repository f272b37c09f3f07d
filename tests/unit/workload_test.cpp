// inventory/workload.h: a pod's workload from its owner references, the one
// rule both readers of pods use (kubectl JSON in kubectl_pods.cpp, manifests in
// k8s/workloads.cpp). The same pod must get the same workload either way,
// and two controller owners (which the API server refuses) are refused.
#include "inventory/workload.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "inventory/inventory.h"
#include "k8s_test_support.h"

namespace membrane::inventory {
namespace {

OwnerReference owner(const std::string& kind, const std::string& name, bool controller = false) {
  return {kind, name, controller};
}

TEST(Workload, TheControllerOwnerIsTheOneMarkedElseTheFirst) {
  std::optional<size_t> second;
  EXPECT_EQ(controllerIndex({owner("A", "a"), owner("B", "b", true)}, true, &second), 1u);
  EXPECT_EQ(controllerIndex({owner("A", "a"), owner("B", "b")}, true, &second), 0u);
  EXPECT_EQ(controllerIndex({owner("A", "a"), owner("B", "b")}, false, &second), std::nullopt);
  EXPECT_EQ(controllerIndex({}, true, &second), std::nullopt);
  EXPECT_FALSE(second);
}

TEST(Workload, TwoControllerOwnersAreNoControllerAndNameTheSecond) {
  std::optional<size_t> second;
  EXPECT_EQ(controllerIndex({owner("A", "a", true), owner("B", "b"), owner("C", "c", true)}, true, &second),
            std::nullopt);
  EXPECT_EQ(second, 2u);
}

TEST(Workload, DeploymentsCronJobsAndOtherOwners) {
  labels::LabelSet hash = {{"pod-template-hash", "5f7c9d"}};
  OwnerReference rs = owner("ReplicaSet", "web-5f7c9d", true);
  EXPECT_EQ(podWorkload("p", hash, &rs), "web");
  EXPECT_EQ(podWorkload("p", {}, &rs), "web-5f7c9d");
  OwnerReference job = owner("Job", "backup-28570080");
  EXPECT_EQ(podWorkload("p", {}, &job), "backup");
  OwnerReference shortJob = owner("Job", "backup-2857008");
  EXPECT_EQ(podWorkload("p", {}, &shortJob), "backup-2857008");
  OwnerReference sts = owner("StatefulSet", "db", true);
  EXPECT_EQ(podWorkload("db-0", {}, &sts), "db");
  EXPECT_EQ(podWorkload("lonely", {}, nullptr), "lonely");
}

// One pod, its owners given as a flow-style YAML/JSON list, read both ways.
struct BothReaders {
  std::string kubectl, manifest;  // the workload, or the error
};
BothReaders readBothWays(const std::string& owners) {
  BothReaders out;
  std::string pod = R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pod-abc", "namespace": "shop",
      "labels": {"pod-template-hash": "5f7c9d"}, "ownerReferences": )" +
                    owners + "}}";
  Inventory inv;
  std::string error;
  if (loadInventoryText("pods.json", pod, inv, &error) && inv.endpoints.size() == 1)
    out.kubectl = inv.endpoints[0].workload;
  else
    out.kubectl = "error: " + error;
  // JSON is YAML: the same text as a manifest.
  k8s::fixtures::Manifests m(pod, false);
  if (const auto* e = m.compilation().inventory.findEndpoint("shop", "pod-abc"))
    out.manifest = e->workload;
  else
    out.manifest = "error: " + m.diagnostics();
  return out;
}

TEST(Workload, KubectlOutputAndManifestsGiveTheSamePodTheSameWorkload) {
  for (const std::string owners : {
           R"([{"kind": "ReplicaSet", "name": "web-5f7c9d", "controller": true}])",
           R"([{"kind": "Foo", "name": "first"}, {"kind": "StatefulSet", "name": "ctl", "controller": true}])",
           R"([{"kind": "Foo", "name": "first", "controller": false}, {"kind": "Bar", "name": "second"}])",
           R"([{"kind": "Job", "name": "backup-28570080"}])",
           R"([])",
       }) {
    BothReaders r = readBothWays(owners);
    EXPECT_EQ(r.kubectl, r.manifest) << owners;
    EXPECT_EQ(r.kubectl.rfind("error", 0), std::string::npos) << owners << ": " << r.kubectl;
  }
}

// The API server refuses an object with two controller owners; the readers
// used to disagree on it (the first won in kubectl output, the last in
// manifests).
TEST(Workload, BothReadersRefuseTwoControllerOwnersAtTheSecond) {
  BothReaders r = readBothWays(R"([{"kind": "ReplicaSet", "name": "a", "controller": true},
      {"kind": "ReplicaSet", "name": "b", "controller": true}])");
  EXPECT_EQ(r.kubectl,
            "error: pods.json: metadata.ownerReferences[1].controller: a second owner marked controller (Kubernetes "
            "allows one)");
  EXPECT_NE(r.manifest.find("m.yaml:3:57: error: metadata.ownerReferences[].controller"), std::string::npos) << r.manifest;
  EXPECT_NE(r.manifest.find("a second owner marked controller (Kubernetes allows one)"), std::string::npos)
      << r.manifest;
}

}  // namespace
}  // namespace membrane::inventory
