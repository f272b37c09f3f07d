// See workload.h: a pod's workload from its owner references.
#include "inventory/workload.h"

#include <algorithm>

namespace membrane::inventory {

std::optional<size_t> controllerIndex(const std::vector<OwnerReference>& owners, bool firstIfNone,
                                      std::optional<size_t>* twoControllers) {
  std::optional<size_t> found;
  for (size_t i = 0; i < owners.size(); ++i) {
    if (!owners[i].controller) continue;
    if (found) {
      if (twoControllers) *twoControllers = i;
      return std::nullopt;
    }
    found = i;
  }
  if (!found && firstIfNone && !owners.empty()) found = 0;
  return found;
}

std::string podWorkload(const std::string& podName, const labels::LabelSet& podLabels, const OwnerReference* owner) {
  if (!owner) return podName;
  const std::string& name = owner->name;
  if (owner->kind == "ReplicaSet") {
    auto hash = podLabels.find("pod-template-hash");
    if (hash != podLabels.end() && !hash->second.empty()) {
      std::string suffix = "-" + hash->second;
      if (name.size() > suffix.size() && name.ends_with(suffix)) return name.substr(0, name.size() - suffix.size());
    }
  } else if (owner->kind == "Job") {
    auto dash = name.rfind('-');
    std::string_view digits = std::string_view(name).substr(dash == std::string::npos ? name.size() : dash + 1);
    if (dash != std::string::npos && dash > 0 && digits.size() >= 8 &&
        std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return name.substr(0, dash);
  }
  return name;
}

}  // namespace membrane::inventory
