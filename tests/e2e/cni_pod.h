// A pod made the way a container runtime makes one, for the CNI tests:
// its network namespace first, then ADD through the plugin chain (Debian's
// ptp with host-local IPAM, then membrane-cni) with each previous result
// handed on; DEL in reverse. Shared by cni_e2e.cpp and agent_e2e.cpp.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "topology.h"

namespace membrane::e2e {

inline const char* kCniDir = "/usr/lib/cni";

// A pod made the way a runtime makes one: its network namespace, then the
// plugin chain. The destructor runs DEL through the chain and deletes the
// namespace.
class CniPod {
 public:
  // Pod x/<name> of the node whose bpffs and state directory are under
  // `nodeDir` (bpf/, state/), its interfaces in `topo`'s host namespace
  // unless nodeNetns says otherwise.
  CniPod(Topology& topo, const std::filesystem::path& nodeDir, std::string name, int index)
      : topo_(topo), nodeDir_(nodeDir), name_(std::move(name)) {
    netns_ = topo.tag() + "-cni-" + std::to_string(index);
    ExecResult r = Topology::exec("", {"ip", "netns", "add", netns_});
    if (!r.succeeded()) throw std::runtime_error(r.describe());
    ipamDir_ = (nodeDir / "ipam").string();
  }
  ~CniPod() {
    del();
    Topology::exec("", {"ip", "netns", "del", netns_});
  }

  nlohmann::json ptpConfig() const {
    return {{"cniVersion", "1.0.0"},
            {"name", "pods"},
            {"type", "ptp"},
            {"ipMasq", false},
            {"ipam",
             {{"type", "host-local"},
              {"ranges", nlohmann::json::array({nlohmann::json::array({{{"subnet", subnet}}})})},
              {"dataDir", ipamDir_},
              {"routes", nlohmann::json::array({{{"dst", "0.0.0.0/0"}}})}}}};
  }
  nlohmann::json membraneConfig(const nlohmann::json& prevResult) const {
    nlohmann::json c = {{"cniVersion", "1.0.0"},
              {"name", "pods"},
              {"type", "membrane-cni"},
              {"bpffs", (nodeDir_ / "bpf").string()},
              {"stateDir", (nodeDir_ / "state").string()}};
    if (!prevResult.is_null()) c["prevResult"] = prevResult;
    if (!labels.is_null()) c["runtimeConfig"] = {{"podLabels", labels}};
    return c;
  }

  // One plugin, in the node's namespace, as the runtime calls it.
  ExecResult plugin(const std::string& binary, const std::string& command, const nlohmann::json& config,
                    const std::string& args = "") const {
    std::string input = config.dump();
    std::vector<std::string> argv = {"/usr/bin/env",
                                     "CNI_COMMAND=" + command,
                                     "CNI_CONTAINERID=" + netns_,
                                     "CNI_NETNS=/run/netns/" + netns_,
                                     "CNI_IFNAME=eth0",
                                     "CNI_PATH=" + std::string(kCniDir),
                                     "CNI_ARGS=" + (args.empty() ? "IgnoreUnknown=1;K8S_POD_NAMESPACE=x;K8S_POD_NAME=" + name_ : args),
                                     binary};
    return Topology::exec(nodeNetns.empty() ? topo_.hostNamespace() : nodeNetns, argv, Millis(30000), &input);
  }
  ExecResult membrane(const std::string& command, const nlohmann::json& prevResult, const std::string& args = "") const {
    return plugin(MEMBRANE_CNI_BIN, command, membraneConfig(prevResult), args);
  }

  // ADD through ptp, then membrane-cni. The final result, or the failing
  // plugin's output.
  ExecResult add() {
    ExecResult ptp = plugin(std::string(kCniDir) + "/ptp", "ADD", ptpConfig());
    if (!ptp.succeeded()) return ptp;
    prevResult_ = nlohmann::json::parse(ptp.out);
    return membrane("ADD", prevResult_);
  }
  ExecResult del() {
    ExecResult r = membrane("DEL", prevResult_);
    plugin(std::string(kCniDir) + "/ptp", "DEL", ptpConfig());
    return r;
  }
  const nlohmann::json& ptpResult() const { return prevResult_; }
  std::string address() const {
    std::string cidr = prevResult_["ips"][0]["address"];
    return cidr.substr(0, cidr.find('/'));
  }
  std::string hostVeth() const { return prevResult_["interfaces"][0]["name"]; }
  const std::string& netns() const { return netns_; }

  nlohmann::json labels;                          // runtimeConfig.podLabels
  std::string subnet = "198.18.50.0/24";  // host-local's range
  // Where the runtime runs the plugins (the node's namespace, which gets
  // the pod's host-side veth); empty: the topology's host namespace.
  std::string nodeNetns;

 private:
  Topology& topo_;
  std::filesystem::path nodeDir_;
  std::string name_, netns_, ipamDir_;
  nlohmann::json prevResult_;
};

}  // namespace membrane::e2e
