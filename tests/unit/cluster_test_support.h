// A small cluster for analysis tests (diff, explain): namespaces x, y, z
// labelled ns=<name>, each with pods a, b, c labelled pod=<name>, each pod
// its own workload; x/a is 198.18.1.1 and 2001:2::1:1, y/b 198.18.2.2, ...
// Policies are compiled in memory with pipeline::runText.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/pipeline.h"
#include "inventory/inventory.h"

namespace membrane::testing {

inline nlohmann::json xyzInventory() {
  using nlohmann::json;
  const std::vector<std::string> namespaces = {"x", "y", "z"};
  const std::vector<std::string> pods = {"a", "b", "c"};
  json inv = {{"namespaces", json::array()}, {"endpoints", json::array()}};
  for (size_t n = 0; n < namespaces.size(); ++n) {
    inv["namespaces"].push_back({{"name", namespaces[n]}, {"labels", {{"ns", namespaces[n]}}}});
    for (size_t p = 0; p < pods.size(); ++p) {
      std::string v4 = "198.18." + std::to_string(n + 1) + "." + std::to_string(p + 1);
      std::string v6 = "2001:2::" + std::to_string(n + 1) + ":" + std::to_string(p + 1);
      inv["endpoints"].push_back({{"name", pods[p]},
                                  {"namespace", namespaces[n]},
                                  {"labels", {{"pod", pods[p]}}},
                                  {"addresses", json::array({v4, v6})}});
    }
  }
  return inv;
}

class XyzCluster {
 public:
  explicit XyzCluster(std::vector<std::pair<std::string, std::string>> files,
                      const nlohmann::json& inv = xyzInventory()) {
    c_ = std::make_unique<pipeline::Compilation>();
    if (!inventory::loadInventoryText("inventory.json", inv.dump(), c_->inventory, &inventoryError_)) return;
    pipeline::runText(files, *c_);
  }
  explicit XyzCluster(const std::string& policy, const std::string& file = "t.policy")
      : XyzCluster(std::vector<std::pair<std::string, std::string>>{{file, policy}}) {}

  ::testing::AssertionResult ok() const {
    if (!inventoryError_.empty()) return ::testing::AssertionFailure() << "inventory: " << inventoryError_;
    if (c_->diags.hasErrors() || !c_->ir) {
      std::ostringstream out;
      c_->diags.print(out, false);
      return ::testing::AssertionFailure() << "policy did not compile:\n" << out.str();
    }
    return ::testing::AssertionSuccess();
  }
  const ir::Program& ir() const { return *c_->ir; }
  const pipeline::Compilation& compilation() const { return *c_; }
  std::vector<std::string> policyKeys() const {
    std::vector<std::string> keys;
    if (c_->checked)
      for (const auto& p : c_->checked->policies) keys.push_back(p.key());
    return keys;
  }

 private:
  std::unique_ptr<pipeline::Compilation> c_;
  std::string inventoryError_;
};

}  // namespace membrane::testing
