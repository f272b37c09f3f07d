#include "inventory/inventory.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <map>
#include <numeric>
#include <set>
#include <string_view>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "inventory/workload.h"
#include "io/file.h"
#include "support/diagnostics.h"

namespace membrane::inventory {

using nlohmann::json;

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

namespace {

// Thrown inside the loader only; the public functions turn it into `error`.
struct LoadError {
  std::string message;
};

// ---- JSON paths and messages ------------------------------------------------

bool isIdentifier(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

std::string quote(std::string_view s) {
  // Input strings are valid UTF-8 (the parser checks), so dump() cannot throw;
  // long values are cut so that one bad field cannot flood the terminal.
  // The cut backs off to a character boundary: half a UTF-8 sequence would
  // make dump() throw.
  constexpr size_t kMax = 80;
  size_t cut = std::min(s.size(), kMax);
  while (cut < s.size() && cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  std::string out = json(std::string(s.substr(0, cut))).dump();
  if (cut < s.size()) out.insert(out.size() - 1, "...");
  return out;
}

std::string member(const std::string& path, std::string_view key) {
  // Label keys like "app.kubernetes.io/name" would be ambiguous after a dot.
  if (!isIdentifier(key)) return path + "[" + quote(key) + "]";
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string element(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

std::string describeValue(const json& v) {
  if (v.is_string()) return quote(v.get_ref<const std::string&>());
  if (v.is_object() || v.is_array()) return std::string("an ") + v.type_name();
  std::string text = v.dump();
  return text.size() > 80 ? text.substr(0, 80) + "..." : text;
}

std::string article(std::string_view what) {
  return std::string(std::string_view("aeiou").find(what[0]) != std::string_view::npos ? "an " : "a ") +
         std::string(what);
}

// Edit distance catches typos; a prefix catches abbreviations such as
// "proto" or "addr", which are too far from the full key for that.
std::string suggest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best = closestMatch(word, candidates);
  if (!best.empty() || word.size() < 3) return best;
  for (const std::string& c : candidates)
    if (c.starts_with(word)) return c;
  return {};
}

class Reader {
 public:
  explicit Reader(const std::string& file) : file_(file) {}

  [[noreturn]] void fail(const std::string& path, const std::string& message) const {
    throw LoadError{file_ + ": " + (path.empty() ? "" : path + ": ") + message};
  }

  void expectType(const json& v, json::value_t type, const char* what, const std::string& path) const {
    if (v.type() != type) fail(path, std::string("expected ") + article(what) + ", got " + v.type_name());
  }

  // Strict formats reject keys they do not know so that a typo such as
  // "lables" is reported instead of silently dropping the labels.
  void checkKeys(const json& obj, const std::string& path, std::initializer_list<const char*> known) const {
    std::vector<std::string> names(known.begin(), known.end());
    for (const auto& [key, value] : obj.items()) {
      if (std::find(names.begin(), names.end(), key) != names.end()) continue;
      std::string hint = suggest(key, names);
      std::string where = path.empty() ? "unknown top-level key " : "unknown key ";
      fail(path, where + quote(key) + (hint.empty() ? "" : " (did you mean " + quote(hint) + "?)"));
    }
  }

  // The member `key` of `obj`, or nullptr when absent. `nullIsAbsent` is for
  // kubectl output, where Go may print empty fields as null.
  const json* find(const json& obj, const char* key, bool nullIsAbsent) const {
    auto it = obj.find(key);
    if (it == obj.end() || (nullIsAbsent && it->is_null())) return nullptr;
    return &*it;
  }

  const json& require(const json& obj, const char* key, const std::string& path) const {
    auto it = obj.find(key);
    if (it == obj.end()) fail(path, std::string("missing required key ") + quote(key));
    return *it;
  }

  const json& object(const json& v, const std::string& path) const {
    expectType(v, json::value_t::object, "object", path);
    return v;
  }

  const json& array(const json& v, const std::string& path) const {
    expectType(v, json::value_t::array, "array", path);
    return v;
  }

  const std::string& string(const json& v, const std::string& path) const {
    expectType(v, json::value_t::string, "string", path);
    return v.get_ref<const std::string&>();
  }

  bool boolean(const json& v, const std::string& path) const {
    expectType(v, json::value_t::boolean, "boolean", path);
    return v.get<bool>();
  }

  const std::string& name(const json& v, const std::string& path) const {
    const std::string& s = string(v, path);
    if (s.empty()) fail(path, "must not be empty");
    return s;
  }

  labels::LabelSet labelSet(const json& v, const std::string& path) const {
    labels::LabelSet out;
    for (const auto& [key, value] : object(v, path).items()) {
      if (key.empty()) fail(path, "label key must not be empty");
      out.emplace(key, string(value, member(path, key)));
    }
    return out;
  }

  net::Address address(const json& v, const std::string& path) const {
    const std::string& text = string(v, path);
    if (auto a = net::Address::parse(text)) return *a;
    std::string note =
        text.find('/') != std::string::npos ? " (a single address, not a prefix, is expected)" : "";
    fail(path, quote(text) + " is not an IPv4 or IPv6 address" + note);
  }

  uint16_t port(const json& v, const std::string& path) const {
    // JSON has one number type; 8080.0 or 1e3 would be odd but 0, -1 and
    // 70000 are the mistakes worth a clear message.
    if (v.is_number_unsigned()) {
      auto n = v.get<uint64_t>();
      if (n >= 1 && n <= 65535) return static_cast<uint16_t>(n);
    }
    fail(path, "expected a port number between 1 and 65535, got " + describeValue(v));
  }

  uint8_t protocol(const json& v, const std::string& path) const {
    std::string upper = string(v, path);
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (upper == "TCP") return 6;
    if (upper == "UDP") return 17;
    if (upper == "SCTP") return 132;
    fail(path, "unknown protocol " + quote(v.get_ref<const std::string&>()) + " (expected TCP, UDP or SCTP)");
  }

 private:
  const std::string& file_;
};

// ---- what one file contributes, before merging --------------------------------

struct Loaded {
  struct Ns {
    Namespace ns;
    std::string path;  // JSON path of the declaration, for messages
  };
  struct Ep {
    Endpoint ep;
    std::string path;
  };
  std::vector<Ns> namespaces;
  // Endpoints and their JSON paths apart, so that the endpoints can become
  // the inventory's without a copy.
  std::vector<Endpoint> endpoints;
  std::vector<std::string> endpointPaths;

  void add(Ep&& e) {
    endpoints.push_back(std::move(e.ep));
    endpointPaths.push_back(std::move(e.path));
  }
};

std::string protocolName(uint8_t p) { return p == 6 ? "TCP" : p == 17 ? "UDP" : "SCTP"; }

// Identical duplicates are harmless (two containers may repeat a port), but
// one name meaning two numbers would make named-port resolution ambiguous.
void addPort(const Reader& r, Loaded::Ep& e, std::vector<std::string>& portPaths, NamedPort p,
             const std::string& path) {
  for (size_t i = 0; i < e.ep.ports.size(); ++i) {
    const NamedPort& q = e.ep.ports[i];
    if (q.name != p.name || q.protocol != p.protocol) continue;
    if (q.port == p.port) return;
    r.fail(path, "port name " + quote(p.name) + " (" + protocolName(p.protocol) + ") is " +
                     std::to_string(p.port) + " here but " + std::to_string(q.port) + " at " + portPaths[i]);
  }
  e.ep.ports.push_back(std::move(p));
  portPaths.push_back(path);
}

void addAddress(Endpoint& e, const net::Address& a) {
  if (std::find(e.addresses.begin(), e.addresses.end(), a) == e.addresses.end()) e.addresses.push_back(a);
}

// Namespace labels always carry the name label, as Kubernetes guarantees, so
// that `namespaceSelector: {kubernetes.io/metadata.name: x}` works everywhere.
void addNameLabel(const Reader& r, Namespace& ns, const std::string& labelsPath) {
  auto [it, inserted] = ns.labels.emplace(kNamespaceNameLabel, ns.name);
  if (!inserted && it->second != ns.name)
    r.fail(member(labelsPath, kNamespaceNameLabel),
           "must equal the namespace name " + quote(ns.name) + ", got " + quote(it->second));
}

// ---- membrane's own format ------------------------------------------------------

void readMembraneNamespace(const Reader& r, const json& v, const std::string& path, Loaded& out) {
  r.object(v, path);
  r.checkKeys(v, path, {"name", "labels"});
  Namespace ns;
  ns.name = r.name(r.require(v, "name", path), member(path, "name"));
  if (const json* l = r.find(v, "labels", false)) ns.labels = r.labelSet(*l, member(path, "labels"));
  addNameLabel(r, ns, member(path, "labels"));
  out.namespaces.push_back({std::move(ns), path});
}

void readMembraneEndpoint(const Reader& r, const std::string& file, const json& v, const std::string& path,
                          Loaded& out) {
  r.object(v, path);
  r.checkKeys(v, path, {"name", "namespace", "labels", "addresses", "ports", "workload"});
  Loaded::Ep e;
  e.path = path;
  e.ep.source = file;
  e.ep.name = r.name(r.require(v, "name", path), member(path, "name"));
  if (const json* ns = r.find(v, "namespace", false)) e.ep.ns = r.name(*ns, member(path, "namespace"));
  if (const json* l = r.find(v, "labels", false)) e.ep.labels = r.labelSet(*l, member(path, "labels"));
  if (const json* a = r.find(v, "addresses", false)) {
    std::string ap = member(path, "addresses");
    for (size_t i = 0; i < r.array(*a, ap).size(); ++i) addAddress(e.ep, r.address((*a)[i], element(ap, i)));
  }
  if (const json* ports = r.find(v, "ports", false)) {
    std::string pp = member(path, "ports");
    std::vector<std::string> portPaths;
    for (size_t i = 0; i < r.array(*ports, pp).size(); ++i) {
      std::string ip = element(pp, i);
      const json& p = r.object((*ports)[i], ip);
      r.checkKeys(p, ip, {"name", "port", "protocol"});
      NamedPort np;
      np.name = r.name(r.require(p, "name", ip), member(ip, "name"));
      np.port = r.port(r.require(p, "port", ip), member(ip, "port"));
      if (const json* proto = r.find(p, "protocol", false))
        np.protocol = r.protocol(*proto, member(ip, "protocol"));
      addPort(r, e, portPaths, std::move(np), ip);
    }
  }
  e.ep.workload = e.ep.name;
  if (const json* w = r.find(v, "workload", false)) e.ep.workload = r.name(*w, member(path, "workload"));
  out.add(std::move(e));
}

void checkMembraneTopLevel(const Reader& r, const json& root) { r.checkKeys(root, "", {"namespaces", "endpoints"}); }

void readMembrane(const Reader& r, const std::string& file, const json& root, Loaded& out) {
  checkMembraneTopLevel(r, root);
  if (const json* nss = r.find(root, "namespaces", false)) {
    r.array(*nss, "namespaces");
    for (size_t i = 0; i < nss->size(); ++i)
      readMembraneNamespace(r, (*nss)[i], element("namespaces", i), out);
  }
  if (const json* eps = r.find(root, "endpoints", false)) {
    r.array(*eps, "endpoints");
    for (size_t i = 0; i < eps->size(); ++i)
      readMembraneEndpoint(r, file, (*eps)[i], element("endpoints", i), out);
  }
}

// ---- kubectl output -----------------------------------------------------------------
//
// Lenient: kubectl prints dozens of fields we do not need and adds more with
// every release, so unknown keys are ignored and null counts as absent. The
// fields we do use are still type-checked.

// The pod's owner references, and its workload from them (workload.h).
std::string podWorkload(const Reader& r, const json& meta, const std::string& metaPath,
                        const std::string& podName, const labels::LabelSet& podLabels) {
  const json* ownersJson = r.find(meta, "ownerReferences", true);
  if (!ownersJson) return podName;
  std::string ownersPath = member(metaPath, "ownerReferences");
  std::vector<OwnerReference> owners;
  for (size_t i = 0; i < r.array(*ownersJson, ownersPath).size(); ++i) {
    std::string op = element(ownersPath, i);
    const json& o = r.object((*ownersJson)[i], op);
    OwnerReference owner;
    owner.name = r.name(r.require(o, "name", op), member(op, "name"));
    if (const json* k = r.find(o, "kind", true)) owner.kind = r.string(*k, member(op, "kind"));
    if (const json* c = r.find(o, "controller", true)) owner.controller = r.boolean(*c, member(op, "controller"));
    owners.push_back(std::move(owner));
  }
  std::optional<size_t> second;
  auto chosen = controllerIndex(owners, true, &second);
  if (second)
    r.fail(member(element(ownersPath, *second), "controller"),
           "a second owner marked controller (Kubernetes allows one)");
  return inventory::podWorkload(podName, podLabels, chosen ? &owners[*chosen] : nullptr);
}

void readPod(const Reader& r, const std::string& file, const json& pod, const std::string& path,
             Loaded& out) {
  std::string metaPath = member(path, "metadata");
  const json& meta = r.object(r.require(pod, "metadata", path), metaPath);
  Loaded::Ep e;
  e.path = path;
  e.ep.source = file;
  e.ep.name = r.name(r.require(meta, "name", metaPath), member(metaPath, "name"));
  if (const json* ns = r.find(meta, "namespace", true)) e.ep.ns = r.name(*ns, member(metaPath, "namespace"));
  if (const json* l = r.find(meta, "labels", true)) e.ep.labels = r.labelSet(*l, member(metaPath, "labels"));
  e.ep.workload = podWorkload(r, meta, metaPath, e.ep.name, e.ep.labels);

  // A hostNetwork pod's address is its node's: traffic from it is the node's
  // (the `host` entity), and the node loader would otherwise take the node's
  // address for this pod's. A finished pod's address may already be another
  // pod's. Neither has an address of its own.
  bool ownAddress = true;
  if (const json* spec = r.find(pod, "spec", true)) {
    if (const json* h = r.find(r.object(*spec, member(path, "spec")), "hostNetwork", true))
      ownAddress &= !r.boolean(*h, member(member(path, "spec"), "hostNetwork"));
  }
  const json* status = r.find(pod, "status", true);
  if (status) {
    if (const json* phase = r.find(r.object(*status, member(path, "status")), "phase", true)) {
      const std::string& p = r.string(*phase, member(member(path, "status"), "phase"));
      ownAddress &= p != "Succeeded" && p != "Failed";
    }
  }

  if (status && ownAddress) {
    std::string sp = member(path, "status");
    const json* ips = r.find(*status, "podIPs", true);
    if (ips && !r.array(*ips, member(sp, "podIPs")).empty()) {
      for (size_t i = 0; i < ips->size(); ++i) {
        std::string ip = element(member(sp, "podIPs"), i);
        const json& entry = r.object((*ips)[i], ip);
        addAddress(e.ep, r.address(r.require(entry, "ip", ip), member(ip, "ip")));
      }
    } else if (const json* ip = r.find(*status, "podIP", true)) {
      // Older clusters and some CNIs fill only the singular field; an empty
      // string means the pod has no address yet.
      if (!(ip->is_string() && ip->get_ref<const std::string&>().empty()))
        addAddress(e.ep, r.address(*ip, member(sp, "podIP")));
    }
  }

  if (const json* spec = r.find(pod, "spec", true)) {
    std::string sp = member(path, "spec");
    r.object(*spec, sp);
    std::vector<std::string> portPaths;
    if (const json* containers = r.find(*spec, "containers", true)) {
      std::string cp = member(sp, "containers");
      for (size_t c = 0; c < r.array(*containers, cp).size(); ++c) {
        std::string cip = element(cp, c);
        const json* ports = r.find(r.object((*containers)[c], cip), "ports", true);
        if (!ports) continue;
        std::string pp = member(cip, "ports");
        for (size_t i = 0; i < r.array(*ports, pp).size(); ++i) {
          std::string ip = element(pp, i);
          const json& p = r.object((*ports)[i], ip);
          // Unnamed ports cannot be referenced by name, so they are not checked.
          const json* name = r.find(p, "name", true);
          if (!name || (name->is_string() && name->get_ref<const std::string&>().empty())) continue;
          NamedPort np;
          np.name = r.string(*name, member(ip, "name"));
          np.port = r.port(r.require(p, "containerPort", ip), member(ip, "containerPort"));
          if (const json* proto = r.find(p, "protocol", true))
            np.protocol = r.protocol(*proto, member(ip, "protocol"));
          addPort(r, e, portPaths, std::move(np), ip);
        }
      }
    }
  }
  out.add(std::move(e));
}

void readKubeNamespace(const Reader& r, const json& obj, const std::string& path, Loaded& out) {
  std::string metaPath = member(path, "metadata");
  const json& meta = r.object(r.require(obj, "metadata", path), metaPath);
  Namespace ns;
  ns.name = r.name(r.require(meta, "name", metaPath), member(metaPath, "name"));
  if (const json* l = r.find(meta, "labels", true)) ns.labels = r.labelSet(*l, member(metaPath, "labels"));
  addNameLabel(r, ns, member(metaPath, "labels"));
  out.namespaces.push_back({std::move(ns), path});
}

const std::vector<std::string> kTopLevelKinds = {"List", "PodList", "NamespaceList", "Pod", "Namespace"};

// The top-level kind, checked.
std::string kubectlKind(const Reader& r, const json& root) {
  const json* kindValue = r.find(root, "kind", true);
  if (!kindValue) r.fail("", "missing \"kind\" (expected List, PodList, NamespaceList, Pod or Namespace)");
  const std::string& kind = r.string(*kindValue, "kind");
  if (kind != "List" && kind != "PodList" && kind != "NamespaceList" && kind != "Pod" && kind != "Namespace") {
    std::string hint = suggest(kind, kTopLevelKinds);
    r.fail("kind", "unsupported kind " + quote(kind) +
                       (hint.empty() ? " (expected List, PodList, NamespaceList, Pod or Namespace)"
                                     : " (did you mean " + quote(hint) + "?)"));
  }
  return kind;
}

// The kind of the items of a list: the API server omits kind on items of a
// typed list; `kubectl get -o json` always sets it.
std::string impliedItemKind(const std::string& listKind) {
  return listKind == "PodList" ? "Pod" : listKind == "NamespaceList" ? "Namespace" : "";
}

void readKubectlItem(const Reader& r, const std::string& file, const json& value, const std::string& path,
                     const std::string& implied, Loaded& out) {
  const json& item = r.object(value, path);
  std::string itemKind = implied;
  if (const json* k = r.find(item, "kind", true)) itemKind = r.string(*k, member(path, "kind"));
  if (itemKind.empty()) r.fail(path, "missing \"kind\"");
  if (itemKind == "Pod")
    readPod(r, file, item, path, out);
  else if (itemKind == "Namespace")
    readKubeNamespace(r, item, path, out);
  // Other kinds (Services, Deployments, ...) may share the list; they carry
  // no endpoint addresses we could use.
}

void readKubectl(const Reader& r, const std::string& file, const json& root, Loaded& out) {
  std::string kind = kubectlKind(r, root);
  if (kind == "Pod") return readPod(r, file, root, "", out);
  if (kind == "Namespace") return readKubeNamespace(r, root, "", out);
  const json* items = r.find(root, "items", true);
  if (!items) return;
  r.array(*items, "items");
  for (size_t i = 0; i < items->size(); ++i) readKubectlItem(r, file, (*items)[i], element("items", i), impliedItemKind(kind), out);
}

// ---- parsing --------------------------------------------------------------------------

struct LineCol {
  size_t line = 1, column = 1;
};

LineCol lineColAt(const std::string& text, size_t offset) {
  offset = std::min(offset, text.size());
  LineCol lc;
  size_t lineStart = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++lc.line;
      lineStart = i + 1;
    }
  }
  lc.column = offset - lineStart + 1;
  return lc;
}

// nlohmann reports number overflow without a position; find the literal
// outside string values so the message can still point at it.
size_t findNumberLiteral(const std::string& text, std::string_view literal) {
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (text.compare(i, literal.size(), literal) == 0 &&
               (i == 0 || std::string_view("0123456789+-.eE").find(text[i - 1]) == std::string_view::npos)) {
      return i;
    }
  }
  return std::string::npos;
}

// ---- reading a file -------------------------------------------------------------------
//
// A file is parsed twice with nlohmann's SAX interface, and never into one
// document: a million endpoints took 1.2 GB as a document, more than the
// endpoints themselves.
//  1. OutlineScanner checks the syntax and repeated keys and outlines the top
//     level (its keys, with scalar values such as "kind" and containers
//     emptied), so the format is known, and mistakes there are reported,
//     before anything is read.
//  2. DocumentBuilder builds the document, except that each element of the
//     top-level arrays of entries ("namespaces" and "endpoints", or kubectl's
//     "items") is handed to its reader as soon as it is complete, and dropped.
//     The rest is read as before, with those arrays left empty.
// (nlohmann's callback parser, which this replaces, also scanned the whole
// enclosing array after every object it ended: quadratic, 3 minutes for a
// million endpoints.)

class OutlineScanner {
 public:
  using string_t = json::string_t;

  bool null() { return value(nullptr); }
  bool boolean(bool v) { return value(v); }
  bool number_integer(json::number_integer_t v) { return value(v); }
  bool number_unsigned(json::number_unsigned_t v) { return value(v); }
  bool number_float(json::number_float_t v, const string_t&) { return value(v); }
  bool string(string_t& v) { return value(std::move(v)); }
  bool binary(json::binary_t&) { return value(json::binary({})); }
  bool start_object(size_t) { return open(true); }
  bool start_array(size_t) { return open(false); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  // A repeated key is reported (nlohmann keeps the last copy; like an
  // unknown key, a repeat usually means an edit went wrong).
  bool key(string_t& k) {
    Frame& f = frames_.back();
    if (!duplicate_ && !f.keys.insert(k).second) {
      duplicate_ = true;
      duplicatePath_ = path();
      duplicateKey_ = k;
    }
    f.key = std::move(k);
    return true;
  }

  bool parse_error(size_t position, const std::string&, const nlohmann::detail::exception& e) {
    errorPosition_ = position;
    errorId_ = e.id;
    errorWhat_ = e.what();
    return false;
  }

  const json& top() const { return top_; }
  // Elements of each array at the top level, by its key.
  const std::map<std::string, size_t>& elements() const { return elements_; }
  bool duplicate() const { return duplicate_; }
  const std::string& duplicatePath() const { return duplicatePath_; }
  const std::string& duplicateKey() const { return duplicateKey_; }
  size_t errorPosition() const { return errorPosition_; }
  int errorId() const { return errorId_; }
  const std::string& errorWhat() const { return errorWhat_; }

 private:
  struct Frame {
    bool object;
    std::set<std::string> keys;  // objects: keys so far
    std::string key;             // objects: the last key
    size_t count = 0;            // arrays: elements started
  };

  // A value starts (a scalar, or a container emptied): the root and the
  // root's members go into the outline.
  void starting(json&& outline) {
    if (frames_.empty()) {
      top_ = std::move(outline);
    } else if (frames_.size() == 1 && frames_[0].object) {
      top_[frames_[0].key] = std::move(outline);
    } else if (frames_.size() == 2 && frames_[0].object && !frames_[1].object) {
      ++elements_[frames_[0].key];
    }
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().count;
  }

  bool value(json&& v) {
    starting(std::move(v));
    return true;
  }

  bool open(bool object) {
    starting(object ? json::object() : json::array());
    frames_.push_back({object, {}, {}, 0});
    return true;
  }

  bool close() {
    frames_.pop_back();
    return true;
  }

  // The JSON path of the innermost (object) frame.
  std::string path() const {
    std::string p;
    for (size_t i = 0; i + 1 < frames_.size(); ++i)
      p = frames_[i].object ? member(p, frames_[i].key) : element(p, frames_[i].count - 1);
    return p;
  }

  json top_;
  std::map<std::string, size_t> elements_;
  std::vector<Frame> frames_;
  bool duplicate_ = false;
  std::string duplicatePath_, duplicateKey_;
  size_t errorPosition_ = 0;
  int errorId_ = 0;
  std::string errorWhat_;
};

// Builds a document from SAX events of text the scanner accepted. Elements
// of the top-level arrays named in `streamed` go to `onElement` (key, index,
// element) instead, one at a time.
class DocumentBuilder {
 public:
  using string_t = json::string_t;
  using ElementReader = std::function<void(const std::string&, size_t, const json&)>;

  DocumentBuilder(std::set<std::string> streamed, ElementReader onElement)
      : streamed_(std::move(streamed)), onElement_(std::move(onElement)) {}

  bool null() { return add(nullptr); }
  bool boolean(bool v) { return add(v); }
  bool number_integer(json::number_integer_t v) { return add(v); }
  bool number_unsigned(json::number_unsigned_t v) { return add(v); }
  bool number_float(json::number_float_t v, const string_t&) { return add(v); }
  bool string(string_t& v) { return add(std::move(v)); }
  bool binary(json::binary_t& v) { return add(json::binary(std::move(v))); }
  bool start_object(size_t) { return open(json::object()); }
  bool start_array(size_t) { return open(json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(string_t& k) {
    key_ = &(*open_.back())[k];
    keys_.back() = std::move(k);
    return true;
  }
  bool parse_error(size_t, const std::string&, const nlohmann::detail::exception&) { return false; }

  json& root() { return root_; }

 private:
  // Inside a streamed array, directly: the next value is one of its elements.
  bool inStreamedArray() const {
    return open_.size() == 2 && open_[0]->is_object() && open_[1]->is_array() && streamed_.count(keys_[0]);
  }

  // Where the next value goes: the root, the member whose key came last, or
  // the end of the enclosing array.
  json* slot() {
    if (open_.empty()) return &root_;
    json& parent = *open_.back();
    if (parent.is_object()) return key_;
    parent.push_back(nullptr);
    return &parent.back();
  }

  bool add(json&& v) {
    if (inStreamedArray()) {
      onElement_(keys_[0], elements_++, v);
    } else {
      *slot() = std::move(v);
    }
    return true;
  }

  bool open(json&& container) {
    if (open_.size() == 1) elements_ = 0;  // a member of the root: maybe a streamed array
    json* at = inStreamedArray() ? &element_ : slot();
    *at = std::move(container);
    open_.push_back(at);
    keys_.emplace_back();
    return true;
  }

  bool close() {
    bool element = open_.back() == &element_;
    open_.pop_back();
    keys_.pop_back();
    if (element) {
      onElement_(keys_[0], elements_++, element_);
      element_ = nullptr;
    }
    return true;
  }

  std::set<std::string> streamed_;
  ElementReader onElement_;
  json root_;
  json element_;                    // the streamed element being built
  size_t elements_ = 0;             // elements of the current streamed array so far
  std::vector<json*> open_;         // the containers being filled, outermost first
  std::vector<std::string> keys_;   // per open container: its last key (objects)
  json* key_ = nullptr;             // the member the last key named
};

// Pass 1: the outline, or the first syntax error or repeated key.
struct Outline {
  json top;                                // the root, its containers emptied
  std::map<std::string, size_t> elements;  // elements of each top-level array
};

Outline outline(const std::string& file, const std::string& text) {
  OutlineScanner scanner;
  if (!json::sax_parse(text, &scanner)) {
    const std::string& what = scanner.errorWhat();
    if (scanner.errorId() == 406) {  // out_of_range: a number too large for a double
      auto open = what.find('\''), close = what.rfind('\'');
      std::string literal =
          open != std::string::npos && close > open ? what.substr(open + 1, close - open - 1) : "";
      std::string where = file;
      if (size_t at = literal.empty() ? std::string::npos : findNumberLiteral(text, literal);
          at != std::string::npos) {
        LineCol lc = lineColAt(text, at);
        where += ":" + std::to_string(lc.line) + ":" + std::to_string(lc.column);
      }
      throw LoadError{where + ": invalid JSON: number " + literal + " is out of range"};
    }
    // The position counts the offending character itself.
    LineCol lc = lineColAt(text, scanner.errorPosition() > 0 ? scanner.errorPosition() - 1 : 0);
    auto detail = what.find(": ");
    throw LoadError{file + ":" + std::to_string(lc.line) + ":" + std::to_string(lc.column) +
                    ": invalid JSON: " + (detail == std::string::npos ? what : what.substr(detail + 2))};
  }
  if (scanner.duplicate()) {
    std::string where = scanner.duplicatePath().empty() ? "" : scanner.duplicatePath() + ": ";
    throw LoadError{file + ": " + where + "duplicate key " + quote(scanner.duplicateKey())};
  }
  return {scanner.top(), scanner.elements()};
}

void load(const std::string& file, const std::string& text, Loaded& out) {
  Outline o = outline(file, text);
  const json& top = o.top;
  Reader r(file);
  if (!top.is_object())
    r.fail("", std::string("expected a JSON object at the top level, got ") + top.type_name());
  // kubectl output always has kind and apiVersion; membrane's format has neither.
  bool kubectl = top.contains("kind") || top.contains("apiVersion") || top.contains("items");
  std::set<std::string> streamed;
  DocumentBuilder::ElementReader onElement;
  if (kubectl) {
    std::string kind = kubectlKind(r, top);
    if (kind != "Pod" && kind != "Namespace") {
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
  DocumentBuilder builder(std::move(streamed), std::move(onElement));
  if (!json::sax_parse(text, &builder)) r.fail("", "internal error: the second parse disagrees with the first");
  // The rest: wrong types at the top level, and all of a single Pod or Namespace.
  if (kubectl)
    readKubectl(r, file, builder.root(), out);
  else
    readMembrane(r, file, builder.root(), out);
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

}  // namespace membrane::inventory
