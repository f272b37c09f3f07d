// Which workload a pod belongs to, from its owner references: one rule for
// both readers of pods (kubectl's JSON in kubectl_pods.cpp, manifests in
// k8s/workloads.cpp), so the same pod gets the same workload either way.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "labels/selector.h"

namespace membrane::inventory {

// One entry of metadata.ownerReferences, as far as membrane reads it.
struct OwnerReference {
  std::string kind;  // "" when absent
  std::string name;
  bool controller = false;
};

// The controller among `owners`: the one marked `controller: true`, else
// (with firstIfNone) the first; nullopt when there is none. The API server
// refuses an object with two controller owners ("Only one reference can have
// Controller set to true"); `twoControllers` is then set to the second one's
// index and the result is nullopt.
std::optional<size_t> controllerIndex(const std::vector<OwnerReference>& owners, bool firstIfNone,
                                      std::optional<size_t>* twoControllers);

// The workload of a pod named `podName` with these labels, owned by `owner`
// (its controller owner; nullptr if it has none):
//  - a ReplicaSet `<name>-<hash>`, where the pod's `pod-template-hash` label
//    is `<hash>`: the Deployment `<name>`;
//  - a Job `<name>-<8 or more digits>`: the CronJob `<name>` (CronJobs name
//    their Jobs after the scheduled time in minutes);
//  - any other owner: its name; no owner: the pod's own name.
std::string podWorkload(const std::string& podName, const labels::LabelSet& podLabels, const OwnerReference* owner);

}  // namespace membrane::inventory
