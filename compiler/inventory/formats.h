// The two inventory formats (docs/inventory.md): membrane's own, strict
// (membrane_format.cpp), and kubectl's pod, namespace and node JSON, lenient
// (kubectl_pods.cpp). The loader (inventory.cpp) hands each the elements of
// the top-level arrays one at a time as it parses them, then the rest of the
// document with those arrays left empty.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "inventory/json_reader.h"
#include "inventory/loaded.h"

namespace membrane::inventory::detail {

// ---- membrane's format: {"namespaces": [...], "endpoints": [...], "services": [...], "nodes": [...]} ----
void checkMembraneTopLevel(const Reader& r, const nlohmann::json& root);
void readMembraneNamespace(const Reader& r, const nlohmann::json& v, const std::string& path, Loaded& out);
void readMembraneEndpoint(const Reader& r, const std::string& file, const nlohmann::json& v, const std::string& path,
                          Loaded& out);
void readMembraneService(const Reader& r, const std::string& file, const nlohmann::json& v, const std::string& path,
                         Loaded& out);
void readMembraneNode(const Reader& r, const std::string& file, const nlohmann::json& v, const std::string& path,
                      Loaded& out);
void readMembrane(const Reader& r, const std::string& file, const nlohmann::json& root, Loaded& out);

// ---- kubectl's: List, PodList, NamespaceList, NodeList, Pod, Namespace or Node ----
// The top-level kind, checked.
std::string kubectlKind(const Reader& r, const nlohmann::json& root);
// The kind of the items of a list: the API server omits kind on items of a
// typed list; `kubectl get -o json` always sets it.
std::string impliedItemKind(const std::string& listKind);
// One element of "items" (`implied`: its kind when it has none).
void readKubectlItem(const Reader& r, const std::string& file, const nlohmann::json& value, const std::string& path,
                     const std::string& implied, Loaded& out);
void readKubectl(const Reader& r, const std::string& file, const nlohmann::json& root, Loaded& out);

}  // namespace membrane::inventory::detail
