// The cluster agent (`membrane agent`, docs/cluster.md): keeps one node's
// knowledge of the other nodes' endpoints in step with the cluster, through
// etcd. It
//   - publishes the endpoints this node enforces (the state directory's,
//     re-read whenever an apply or the CNI plugin changes it) under the
//     node's own keys, with a lease, so that a dead node's endpoints go
//     away by themselves;
//   - watches every node's endpoints and hands the others' to the loader
//     (loader::clusterEndpointsSet), which updates the current version's
//     identity trie where it changes: a pod started on node B is recognised
//     on node A by its labels, with no recompile and no program reload;
//   - resumes its watch from the last revision it saw after a disconnect,
//     and reads everything again when etcd compacted that revision away;
//   - keeps the last known state while etcd is unreachable (enforcement
//     goes on as it was) and says so in agent.json, which `membrane status`
//     reports.
//
// Key layout (docs/cluster.md), under a prefix (default /membrane/v1):
//   <prefix>/endpoints/<node>/<namespace>/<name>   {"name", "namespace", "labels", "addresses", "ports"}
//   <prefix>/nodes/<node>                           {"node", "version", "endpoints"}
// both put with the node's lease, and one key an operator writes:
//   <prefix>/artifacts                              {"source": DIR or URL, "manifest": SHA-256}
// the version every node should run, which each agent fetches (fetch.h),
// checks and applies to the endpoints its node enforces. A record is the NODE.json peer form, and is
// read as strictly as NODE.json (another node's records are input like any
// other).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cluster/agent_report.h"
#include "cluster/etcd.h"
#include "loader/loader.h"

namespace membrane::cluster {

struct KeyLayout {
  std::string prefix = "/membrane/v1";
  std::string endpointsPrefix() const { return prefix + "/endpoints/"; }
  std::string endpointKey(const std::string& node, const std::string& ns, const std::string& name) const {
    return endpointsPrefix() + node + "/" + ns + "/" + name;
  }
  std::string nodeKey(const std::string& node) const { return prefix + "/nodes/" + node; }
  std::string artifactsKey() const { return prefix + "/artifacts"; }
};

// The value published for one endpoint.
std::string endpointRecord(const loader::NodeEndpoint& endpoint);

// A record read from etcd as another node's endpoint; nullopt with `why`
// when its key is not under endpointsPrefix() as <node>/<namespace>/<name>
// with names Kubernetes allows, or its value is not a valid record of that
// endpoint.
std::optional<loader::ClusterEndpoint> parseEndpointRecord(const KeyLayout& layout, const KeyValue& kv,
                                                           std::string* why);

struct AgentOptions {
  std::vector<std::string> etcd;  // member URLs
  EtcdTls tls;                    // for https:// members
  std::string node;               // this node's name (a DNS-1123 subdomain)
  KeyLayout layout;
  std::chrono::seconds leaseTtl{10};
  loader::Paths paths;
  // Where the node's interfaces are when that is not the agent's own network
  // namespace (which must reach etcd): rollouts apply there. Empty: here.
  std::string nodeNetns;
  // One line per thing worth telling (connected, lost etcd, endpoints
  // taken or left out, ...); the CLI prints them with a timestamp.
  std::function<void(const std::string&)> log;
};


// Runs until `stop` is true (checked at least every 200 ms). Throws
// std::invalid_argument for options it cannot run with.
void runAgent(const AgentOptions& options, const std::atomic<bool>& stop);

}  // namespace membrane::cluster
