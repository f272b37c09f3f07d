// What one inventory file contributes before it is merged (inventory.cpp),
// and what both formats read alike: an endpoint's names and labels, a
// namespace, ports, addresses.
#pragma once

#include <string>
#include <vector>

#include "inventory/inventory.h"
#include "inventory/json_reader.h"

namespace membrane::inventory::detail {

struct Loaded {
  struct Ns {
    Namespace ns;
    std::string path;  // JSON path of the declaration, for messages
  };
  struct Ep {
    Endpoint ep;
    std::string path;
  };
  struct Svc {
    Service service;
    std::string path;
  };
  struct Nd {
    Node node;
    std::string path;
  };
  std::vector<Ns> namespaces;
  std::vector<Svc> services;
  std::vector<Nd> nodes;
  // Endpoints and their JSON paths apart, so that the endpoints can become
  // the inventory's without a copy.
  std::vector<Endpoint> endpoints;
  std::vector<std::string> endpointPaths;

  void add(Ep&& e) {
    endpoints.push_back(std::move(e.ep));
    endpointPaths.push_back(std::move(e.path));
  }
};

// The fields an endpoint has in both formats: its name, namespace and
// labels, read from `obj` at `objPath` (the entry itself, or a pod's
// metadata); the entry is at `path`. `nullIsAbsent` as in Reader::find.
Loaded::Ep readEndpointNames(const Reader& r, const std::string& file, const nlohmann::json& obj,
                             const std::string& objPath, const std::string& path, bool nullIsAbsent);
// A namespace declared at `path`: its name and labels read from `obj` at
// `objPath`. Its labels always carry the name label, as Kubernetes
// guarantees, so that `namespaceSelector: {kubernetes.io/metadata.name: x}`
// works everywhere; a different value for that label fails.
void addNamespace(const Reader& r, const nlohmann::json& obj, const std::string& objPath, const std::string& path,
                  bool nullIsAbsent, Loaded& out);

// Adds `p` (read at `path`) to the endpoint; `portPaths` holds the paths of
// its ports so far. Identical duplicates are harmless (two containers may
// repeat a port), but one name meaning two numbers would make named-port
// resolution ambiguous: that fails.
void addPort(const Reader& r, Loaded::Ep& e, std::vector<std::string>& portPaths, NamedPort p,
             const std::string& path);
// The pod's service account (`serviceAccountName`, else the deprecated
// `serviceAccount`, else "default") as the label kServiceAccountLabel, read
// from a pod spec at `specPath`. A pod label of that key with another value
// fails: the two would disagree on who the pod is.
void addServiceAccountLabel(const Reader& r, const nlohmann::json& spec, const std::string& specPath, Loaded::Ep& e);
// A node declared at `path`: its name (a Kubernetes object name, since
// Node objects are named so) and labels read from `obj` at `objPath`; the
// caller adds its addresses.
Loaded::Nd readNodeNames(const Reader& r, const std::string& file, const nlohmann::json& obj,
                         const std::string& objPath, const std::string& path, bool nullIsAbsent);
// Adds `a` unless the node has it already; the addresses stay sorted.
void addNodeAddress(Node& n, const net::Address& a);
// Adds `a` unless the endpoint has it already.
void addAddress(Endpoint& e, const net::Address& a);

}  // namespace membrane::inventory::detail
