// The endpoints known at compile time. Schema: docs/inventory.md.
//
// Accepts membrane's own inventory JSON and, as they are, the JSON printed by
// `kubectl get pods -A -o json`, `kubectl get namespaces -o json` and
// `kubectl get nodes -o json` (List, PodList, NamespaceList, NodeList, or a
// single Pod / Namespace / Node object).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "labels/selector.h"
#include "net/address.h"

namespace membrane::inventory {

// The label every namespace carries implicitly, as Kubernetes sets it.
using labels::kNamespaceNameLabel;
// The label Cilium derives from a pod's service account
// (`spec.serviceAccountName`; "default" when unset, as the API server's
// admission sets it). The Kubernetes readers add it to every pod they read,
// so that Cilium selectors on it are pod selectors like any other
// (docs/kubernetes.md, "Derived labels").
inline constexpr const char* kServiceAccountLabel = "io.cilium.k8s.policy.serviceaccount";
// A pod's service account, as the API server's admission fills it in:
// `serviceAccountName`, else the deprecated `serviceAccount`, else
// "default" (an empty string counts as unset). The one rule both pod
// readers (kubectl JSON, manifests) follow.
std::string serviceAccountOf(const std::optional<std::string>& serviceAccountName,
                             const std::optional<std::string>& serviceAccount);

using labels::NamedPort;

struct Endpoint {
  std::string name;
  std::string ns = "default";
  labels::LabelSet labels;
  std::vector<net::Address> addresses;
  std::vector<NamedPort> ports;
  // Owning workload name (Deployment, StatefulSet, ...) or the pod's own name.
  std::string workload;
  std::string source;  // file the endpoint came from, for messages
  // The executables its processes may run, as absolute paths
  // (labels::executablePathProblem), sorted, unique; absent when the
  // inventory does not say (docs/inventory.md). Only lint reads them
  // (MB120 process-exe-not-in-inventory). Last, so that brace
  // initializations of the fields above stay as they are.
  std::optional<std::vector<std::string>> executables;
};

struct Namespace {
  std::string name;
  labels::LabelSet labels;  // always includes kNamespaceNameLabel
};

// A Kubernetes Service, for the policy peers that name one (`service NAME`,
// Cilium's toServices): it stands for the pods its selector picks or, when
// it has no selector, for the addresses of its Endpoints or EndpointSlices
// (docs/inventory.md, "Services").
struct Service {
  std::string name;
  std::string ns = "default";
  labels::LabelSet labels;
  // The pods it selects, in its namespace; absent for a service without a
  // selector (an empty one is none, as in Kubernetes).
  std::optional<labels::LabelSet> selector;
  std::vector<net::Address> addresses;  // without a selector: its endpoints' addresses
  std::string externalName;             // type ExternalName: a DNS name, no endpoints
  std::string source;                   // file it came from, for messages
  std::string key() const { return ns + "/" + name; }
};

// A node of the cluster, for the policy peers that name nodes by their
// labels (`nodes { ... }`, AdminNetworkPolicy's `nodes`): it stands for its
// addresses (docs/inventory.md, "Nodes"). Nodes are not endpoints: no
// policy selects them, and their addresses are matched as CIDRs.
struct Node {
  std::string name;
  labels::LabelSet labels;
  std::vector<net::Address> addresses;  // sorted, unique
  std::string source;                   // file it came from, for messages
};

struct Inventory {
  std::vector<Namespace> namespaces;  // sorted by name, unique
  std::vector<Endpoint> endpoints;    // sorted by (namespace, name), unique
  std::vector<Service> services;      // sorted by (namespace, name), unique
  std::vector<Node> nodes;            // sorted by name, unique

  const Namespace* findNamespace(const std::string& name) const;
  // Labels of a namespace; a namespace that is referenced by an endpoint but
  // not declared gets only its name label.
  labels::LabelSet namespaceLabels(const std::string& name) const;
  const Endpoint* findEndpoint(const std::string& ns, const std::string& name) const;
  const Service* findService(const std::string& ns, const std::string& name) const;
  const Node* findNode(const std::string& name) const;
};

// The largest inventory file loadInventoryFile reads (docs/cli.md#inputs):
// room for a million endpoints in membrane's format.
inline constexpr size_t kMaxInventoryFileBytes = size_t{256} << 20;

// Loads and merges inventory files. On any error nothing is merged into `inv`
// and `error` says which file and field is wrong, e.g.
//   inventory.json: endpoints[2].addresses[0]: "10.1.2.300" is not an IPv4 or IPv6 address
// Never throws.
bool loadInventoryFile(const std::string& path, Inventory& inv, std::string* error);
// Same, from text already in memory (`path` is used in messages only).
bool loadInventoryText(const std::string& path, const std::string& text, Inventory& inv,
                       std::string* error);

}  // namespace membrane::inventory
