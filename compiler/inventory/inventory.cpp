// The inventory's entry points (inventory.h): a file is read (json_stream.cpp)
// in one of two formats (membrane_format.cpp, kubectl_pods.cpp), then merged
// into what earlier files gave, all or nothing.
#include "inventory/inventory.h"

#include <algorithm>
#include <functional>
#include <iterator>
#include <map>
#include <numeric>
#include <set>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "inventory/formats.h"
#include "inventory/json_reader.h"
#include "inventory/json_stream.h"
#include "inventory/loaded.h"
#include "io/file.h"

namespace membrane::inventory {

using nlohmann::json;
using namespace detail;

const Namespace* Inventory::findNamespace(const std::string& name) const {
  auto it = std::lower_bound(namespaces.begin(), namespaces.end(), name,
                             [](const Namespace& n, const std::string& key) { return n.name < key; });
  return it != namespaces.end() && it->name == name ? &*it : nullptr;
}

labels::LabelSet Inventory::namespaceLabels(const std::string& name) const {
  if (const Namespace* ns = findNamespace(name)) return ns->labels;
  return {{kNamespaceNameLabel, name}};
}

const Endpoint* Inventory::findEndpoint(const std::string& ns, const std::string& name) const {
  auto key = std::tie(ns, name);
  auto it = std::lower_bound(endpoints.begin(), endpoints.end(), key,
                             [](const Endpoint& e, const auto& k) { return std::tie(e.ns, e.name) < k; });
  return it != endpoints.end() && it->ns == ns && it->name == name ? &*it : nullptr;
}

const Service* Inventory::findService(const std::string& ns, const std::string& name) const {
  auto key = std::tie(ns, name);
  auto it = std::lower_bound(services.begin(), services.end(), key,
                             [](const Service& s, const auto& k) { return std::tie(s.ns, s.name) < k; });
  return it != services.end() && it->ns == ns && it->name == name ? &*it : nullptr;
}

const Node* Inventory::findNode(const std::string& name) const {
  auto it = std::lower_bound(nodes.begin(), nodes.end(), name,
                             [](const Node& n, const std::string& key) { return n.name < key; });
  return it != nodes.end() && it->name == name ? &*it : nullptr;
}

namespace {

// ---- reading a file -------------------------------------------------------------------

void load(const std::string& file, const std::string& text, Loaded& out) {
  Outline o = outline(file, text);
  const json& top = o.top;
  Reader r(file);
  if (!top.is_object())
    r.fail("", std::string("expected a JSON object at the top level, got ") + top.type_name());
  // kubectl output always has kind and apiVersion; membrane's format has neither.
  bool kubectl = top.contains("kind") || top.contains("apiVersion") || top.contains("items");
  std::set<std::string> streamed;
  ElementReader onElement;
  if (kubectl) {
    std::string kind = kubectlKind(r, top);
    if (kind != "Pod" && kind != "Namespace" && kind != "Node") {
      streamed = {"items"};
      out.endpoints.reserve(o.elements["items"]);
      out.endpointPaths.reserve(o.elements["items"]);
      onElement = [&, implied = impliedItemKind(kind)](const std::string&, size_t i, const json& item) {
        readKubectlItem(r, file, item, element("items", i), implied, out);
      };
    }
  } else {
    checkMembraneTopLevel(r, top);
    streamed = {"namespaces", "endpoints"};
    out.namespaces.reserve(o.elements["namespaces"]);
    out.endpoints.reserve(o.elements["endpoints"]);
    out.endpointPaths.reserve(o.elements["endpoints"]);
    onElement = [&](const std::string& key, size_t i, const json& entry) {
      if (key == "namespaces")
        readMembraneNamespace(r, entry, element(key, i), out);
      else
        readMembraneEndpoint(r, file, entry, element(key, i), out);
    };
  }
  json root;
  if (!buildDocument(text, std::move(streamed), std::move(onElement), root))
    r.fail("", "internal error: the second parse disagrees with the first");
  // The rest: wrong types at the top level, and all of a single Pod, Namespace or Node.
  if (kubectl)
    readKubectl(r, file, root, out);
  else
    readMembrane(r, file, root, out);
}

// ---- merging --------------------------------------------------------------------------------

// Names one label on which two declarations of a namespace disagree.
std::string labelDifference(const labels::LabelSet& here, const labels::LabelSet& there,
                            const std::string& thereDesc) {
  auto show = [](const labels::LabelSet& l, const std::string& k) {
    auto it = l.find(k);
    return it == l.end() ? std::string("not set") : quote(it->second);
  };
  std::set<std::string> keys;
  for (const auto& [k, v] : here) keys.insert(k);
  for (const auto& [k, v] : there) keys.insert(k);
  for (const std::string& k : keys) {
    std::string a = show(here, k), b = show(there, k);
    if (a != b) return "label " + quote(k) + ": " + a + " here, " + b + " " + thereDesc;
  }
  return {};
}

void merge(const std::string& file, Loaded&& loaded, Inventory& inv) {
  Reader r(file);
  std::map<std::string, const Loaded::Ns*> fileNamespaces;
  for (const Loaded::Ns& n : loaded.namespaces) {
    auto [it, inserted] = fileNamespaces.emplace(n.ns.name, &n);
    if (!inserted && it->second->ns.labels != n.ns.labels)
      r.fail(n.path, "namespace " + quote(n.ns.name) + " is declared again with different labels: " +
                         labelDifference(n.ns.labels, it->second->ns.labels, "at " + it->second->path));
    if (const Namespace* old = inv.findNamespace(n.ns.name); old && old->labels != n.ns.labels)
      r.fail(n.path, "namespace " + quote(n.ns.name) + " is declared again with different labels: " +
                         labelDifference(n.ns.labels, old->labels, "in an earlier inventory file"));
  }
  // An endpoint defined again, in this file or an earlier one: the first in
  // file order is reported. Found by sorting (a map of a million endpoints
  // costs seconds and a hundred MB).
  std::vector<Endpoint>& eps = loaded.endpoints;
  const std::vector<std::string>& paths = loaded.endpointPaths;
  auto key = [&](size_t i) { return std::tie(eps[i].ns, eps[i].name); };
  std::vector<size_t> order(eps.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
  constexpr size_t kFirst = SIZE_MAX;
  std::vector<size_t> firstDefinition(eps.size(), kFirst);
  for (size_t k = 1; k < order.size(); ++k)
    if (key(order[k]) == key(order[k - 1]))
      firstDefinition[order[k]] = firstDefinition[order[k - 1]] == kFirst ? order[k - 1] : firstDefinition[order[k - 1]];
  for (size_t i = 0; i < eps.size(); ++i) {
    const Endpoint& e = eps[i];
    if (firstDefinition[i] != kFirst)
      r.fail(paths[i], "duplicate endpoint " + quote(e.ns + "/" + e.name) + ", first defined at " +
                           paths[firstDefinition[i]] + " in " + file);
    if (const Endpoint* old = inv.findEndpoint(e.ns, e.name))
      r.fail(paths[i], "duplicate endpoint " + quote(e.ns + "/" + e.name) + ", first defined in " + old->source);
  }

  // An address shared by two endpoints would map to either's identity on the
  // node (and an endpoint's address overrides the node's own there). The
  // first repeat in file order is reported, against the endpoint that has it
  // first, earlier files before this one. By sorting, as above.
  struct Use {
    net::Address address;
    size_t rank;  // earlier endpoints first, then this file's in order
  };
  std::vector<Use> uses;
  for (size_t j = 0; j < inv.endpoints.size(); ++j)
    for (const auto& a : inv.endpoints[j].addresses) uses.push_back({a, j});
  for (size_t i = 0; i < eps.size(); ++i)
    for (const auto& a : eps[i].addresses) uses.push_back({a, inv.endpoints.size() + i});
  std::sort(uses.begin(), uses.end(),
            [](const Use& a, const Use& b) { return std::tie(a.address, a.rank) < std::tie(b.address, b.rank); });
  const Use* repeat = nullptr;
  const Use* owner = nullptr;
  for (size_t k = 1; k < uses.size(); ++k) {
    if (uses[k].address != uses[k - 1].address || uses[k].rank < inv.endpoints.size() ||
        (repeat && repeat->rank <= uses[k].rank))
      continue;
    size_t first = k - 1;
    while (first > 0 && uses[first - 1].address == uses[k].address) --first;
    repeat = &uses[k];
    owner = &uses[first];
  }
  if (repeat) {
    size_t i = repeat->rank - inv.endpoints.size();
    bool inFile = owner->rank >= inv.endpoints.size();
    const Endpoint& other = inFile ? eps[owner->rank - inv.endpoints.size()] : inv.endpoints[owner->rank];
    r.fail(paths[i], "address " + repeat->address.str() + " is also the address of endpoint " +
                         quote(other.ns + "/" + other.name) +
                         (inFile ? " at " + paths[owner->rank - inv.endpoints.size()] : " in " + other.source));
  }
  uses = {};

  // The result is built aside, so that `inv` changes only if everything
  // succeeded (allocations included). The file's endpoints are put in order
  // where they are (`order` is the sorted permutation, now without repeats)
  // and merged with the sorted earlier ones.
  std::vector<Namespace> namespaces = inv.namespaces;
  for (auto& [name, n] : fileNamespaces)
    if (!inv.findNamespace(name)) namespaces.push_back(n->ns);
  std::sort(namespaces.begin(), namespaces.end(),
            [](const Namespace& a, const Namespace& b) { return a.name < b.name; });
  // Services: few, so a map finds one defined twice.
  std::vector<Service> services = inv.services;
  std::map<std::string, const Loaded::Svc*> fileServices;
  for (const Loaded::Svc& sv : loaded.services) {
    if (auto [it, inserted] = fileServices.emplace(sv.service.key(), &sv); !inserted)
      r.fail(sv.path, "service " + quote(sv.service.key()) + " is defined again: first at " + it->second->path);
    if (const Service* old = inv.findService(sv.service.ns, sv.service.name))
      r.fail(sv.path, "service " + quote(sv.service.key()) + " is defined again: first in " + old->source);
    services.push_back(sv.service);
  }
  std::sort(services.begin(), services.end(),
            [](const Service& a, const Service& b) { return std::tie(a.ns, a.name) < std::tie(b.ns, b.name); });
  // Nodes: few too (a cluster has thousands at most), and as with services
  // a node listed twice is an error, even with the same contents.
  std::vector<Node> nodes = inv.nodes;
  std::map<std::string, const Loaded::Nd*> fileNodes;
  for (const Loaded::Nd& nd : loaded.nodes) {
    if (auto [it, inserted] = fileNodes.emplace(nd.node.name, &nd); !inserted)
      r.fail(nd.path, "node " + quote(nd.node.name) + " is defined again: first at " + it->second->path);
    if (const Node* old = inv.findNode(nd.node.name))
      r.fail(nd.path, "node " + quote(nd.node.name) + " is defined again: first in " + old->source);
    nodes.push_back(nd.node);
  }
  std::sort(nodes.begin(), nodes.end(), [](const Node& a, const Node& b) { return a.name < b.name; });
  for (size_t k = 0; k < order.size(); ++k) {
    // Follow the cycle through k, moving each endpoint once; done ones are
    // marked by order[j] == j.
    if (order[k] == k) continue;
    Endpoint first = std::move(eps[k]);
    size_t j = k;
    while (order[j] != k) {
      eps[j] = std::move(eps[order[j]]);
      size_t from = order[j];
      order[j] = j;
      j = from;
    }
    eps[j] = std::move(first);
    order[j] = j;
  }
  if (!inv.endpoints.empty()) {
    std::vector<Endpoint> all;
    all.reserve(inv.endpoints.size() + eps.size());
    // Copies of the earlier ones: a failure here leaves them as they were.
    std::merge(inv.endpoints.begin(), inv.endpoints.end(), std::make_move_iterator(eps.begin()),
               std::make_move_iterator(eps.end()), std::back_inserter(all),
               [](const Endpoint& a, const Endpoint& b) { return std::tie(a.ns, a.name) < std::tie(b.ns, b.name); });
    eps = std::move(all);
  }
  inv.namespaces = std::move(namespaces);
  inv.endpoints = std::move(eps);
  inv.services = std::move(services);
  inv.nodes = std::move(nodes);
}

bool setError(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

}  // namespace

namespace {

// Loads `text` and merges it into `inv`. `release` is called once the text
// has been read and before merging, so that a caller owning a large text
// can free it first.
bool loadAndMerge(const std::string& path, const std::string& text, const std::function<void()>& release,
                  Inventory& inv, std::string* error) {
  try {
    Loaded loaded;
    load(path, text, loaded);
    release();
    merge(path, std::move(loaded), inv);
    return true;
  } catch (const LoadError& e) {
    return setError(error, e.message);
  } catch (const std::exception& e) {
    return setError(error, path + ": internal error while loading the inventory: " + e.what());
  } catch (...) {
    return setError(error, path + ": internal error while loading the inventory");
  }
}

}  // namespace

bool loadInventoryText(const std::string& path, const std::string& text, Inventory& inv, std::string* error) {
  return loadAndMerge(path, text, [] {}, inv, error);
}

bool loadInventoryFile(const std::string& path, Inventory& inv, std::string* error) {
  std::string why;
  auto text = io::readRegularFile(path, kMaxInventoryFileBytes, "an inventory file", &why);
  if (!text) return setError(error, why);
  return loadAndMerge(path, *text, [&] { *text = std::string(); }, inv, error);
}

std::string serviceAccountOf(const std::optional<std::string>& serviceAccountName,
                             const std::optional<std::string>& serviceAccount) {
  if (serviceAccountName && !serviceAccountName->empty()) return *serviceAccountName;
  if (serviceAccount && !serviceAccount->empty()) return *serviceAccount;
  return "default";
}

}  // namespace membrane::inventory
