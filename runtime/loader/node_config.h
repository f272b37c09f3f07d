// NODE.json: what `membrane apply` enforces on this node. Schema in
// docs/runtime.md.
//
//   {"host": {"addresses": ["198.18.255.1"]},
//    "endpoints": [
//      {"name": "api-0", "namespace": "shop", "interface": "mbh1"},
//      {"name": "db-0", "namespace": "shop", "cgroup": "/sys/fs/cgroup/unified/db"},
//      {"name": "api-0", "namespace": "shop", "interface": "mbh2",
//       "cgroup": "/sys/fs/cgroup/unified/api-0", "root": "/proc/4242/root"},
//      {"name": "new-0", "namespace": "shop", "labels": {"app": "api"},
//       "addresses": ["198.18.1.99"], "ports": [{"name": "web", "port": 80}],
//       "interface": "mbh9"}],
//    "peers": [{"name": "far-0", "namespace": "shop", "labels": {...}, "addresses": [...]}]}
//
// Local endpoints name where to enforce: a host-side veth (`interface`) or a
// cgroup v2 directory (`cgroup`), or both: the packet programs then go on the
// interface, and the programs that need the calling task (process rules,
// docs/process.md) on the cgroup. An endpoint the manifest knows needs only
// its name; one learned after compile also gives labels and addresses.
// `peers` are endpoints elsewhere that this node should recognise by address.
//
// Refused, with the key path and line:column: a key repeated in any object,
// names Kubernetes would refuse (namespace: DNS-1123 label; name: DNS-1123
// subdomain), two endpoints (or peers) with one namespace/name, two local
// endpoints on one interface or cgroup, an address claimed twice.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "labels/selector.h"
#include "net/address.h"

namespace membrane::loader {

struct NodeEndpoint {
  std::string name, ns = "default";
  std::optional<labels::LabelSet> labels;       // set: learned after compile
  std::vector<net::Address> addresses;          // with labels
  std::vector<labels::NamedPort> ports;         // with labels: for egress named ports (sorted)
  std::string interface;                        // host-side veth, or
  std::string cgroup;                           // cgroup v2 directory
  // Where its processes' "/" is, for the executables of process rules
  // (docs/process.md): /proc/<pid>/root of one of them, or its root
  // filesystem's directory. Default "/".
  std::string root = "/";
  std::string key() const { return ns + "/" + name; }
};

struct NodeConfig {
  std::vector<net::Address> hostAddresses;
  std::vector<NodeEndpoint> endpoints;  // local: enforced here
  std::vector<NodeEndpoint> peers;      // known by address only
  labels::LabelSet namespaceLabels(const std::string& ns) const;

  // Errors read "<source>:<line>:<col>: <key path>: <problem>".
  static std::optional<NodeConfig> parse(const std::string& text, std::string* error,
                                         const std::string& source = "NODE.json");
  // A regular file of at most 16 MiB (FIFOs and devices are refused at once).
  static std::optional<NodeConfig> load(const std::string& path, std::string* error);
};

// Why Kubernetes would refuse `ns` as a namespace name (a DNS-1123 label) or
// `name` as a pod name (a DNS-1123 subdomain), or "" if it would not:
//   "\"b%x\" is not a DNS-1123 subdomain: ... (as Kubernetes requires of pod names)"
std::string namespaceNameProblem(const std::string& ns);
std::string podNameProblem(const std::string& name);

}  // namespace membrane::loader
