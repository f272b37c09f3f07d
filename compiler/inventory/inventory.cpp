#include "inventory/inventory.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <map>
#include <set>
#include <string_view>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

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
  std::vector<Ep> endpoints;
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
  out.endpoints.push_back(std::move(e));
}

void readMembrane(const Reader& r, const std::string& file, const json& root, Loaded& out) {
  r.checkKeys(root, "", {"namespaces", "endpoints"});
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

// CronJob-created Jobs are named <cronjob>-<scheduled time in minutes>.
bool isCronJobSuffix(std::string_view digits) {
  return digits.size() >= 8 &&
         std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string podWorkload(const Reader& r, const json& meta, const std::string& metaPath,
                        const std::string& podName, const labels::LabelSet& podLabels) {
  const json* owners = r.find(meta, "ownerReferences", true);
  if (!owners) return podName;
  std::string ownersPath = member(metaPath, "ownerReferences");
  if (r.array(*owners, ownersPath).empty()) return podName;
  size_t chosen = 0;
  for (size_t i = 0; i < owners->size(); ++i) {
    const json& o = r.object((*owners)[i], element(ownersPath, i));
    const json* c = r.find(o, "controller", true);
    if (c && c->is_boolean() && c->get<bool>()) {
      chosen = i;
      break;
    }
  }
  std::string op = element(ownersPath, chosen);
  const json& owner = (*owners)[chosen];
  std::string name = r.name(r.require(owner, "name", op), member(op, "name"));
  std::string kind;
  if (const json* k = r.find(owner, "kind", true)) kind = r.string(*k, member(op, "kind"));

  if (kind == "ReplicaSet") {
    // The Deployment controller names its ReplicaSets <deployment>-<hash>
    // and stamps the same hash on the pods.
    auto hash = podLabels.find("pod-template-hash");
    if (hash != podLabels.end() && !hash->second.empty()) {
      std::string suffix = "-" + hash->second;
      if (name.size() > suffix.size() && name.ends_with(suffix))
        return name.substr(0, name.size() - suffix.size());
    }
  } else if (kind == "Job") {
    auto dash = name.rfind('-');
    if (dash != std::string::npos && dash > 0 && isCronJobSuffix(std::string_view(name).substr(dash + 1)))
      return name.substr(0, dash);
  }
  return name;
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

  if (const json* status = r.find(pod, "status", true)) {
    std::string sp = member(path, "status");
    r.object(*status, sp);
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
  out.endpoints.push_back(std::move(e));
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

void readKubectl(const Reader& r, const std::string& file, const json& root, Loaded& out) {
  const json* kindValue = r.find(root, "kind", true);
  if (!kindValue) r.fail("", "missing \"kind\" (expected List, PodList, NamespaceList, Pod or Namespace)");
  const std::string& kind = r.string(*kindValue, "kind");
  if (kind == "Pod") return readPod(r, file, root, "", out);
  if (kind == "Namespace") return readKubeNamespace(r, root, "", out);
  if (kind != "List" && kind != "PodList" && kind != "NamespaceList") {
    std::string hint = suggest(kind, kTopLevelKinds);
    r.fail("kind", "unsupported kind " + quote(kind) +
                       (hint.empty() ? " (expected List, PodList, NamespaceList, Pod or Namespace)"
                                     : " (did you mean " + quote(hint) + "?)"));
  }
  // The API server omits kind on items of a typed list; `kubectl get -o json`
  // always sets it.
  std::string implied = kind == "PodList" ? "Pod" : kind == "NamespaceList" ? "Namespace" : "";
  const json* items = r.find(root, "items", true);
  if (!items) return;
  r.array(*items, "items");
  for (size_t i = 0; i < items->size(); ++i) {
    std::string ip = element("items", i);
    const json& item = r.object((*items)[i], ip);
    std::string itemKind = implied;
    if (const json* k = r.find(item, "kind", true)) itemKind = r.string(*k, member(ip, "kind"));
    if (itemKind.empty()) r.fail(ip, "missing \"kind\"");
    if (itemKind == "Pod")
      readPod(r, file, item, ip, out);
    else if (itemKind == "Namespace")
      readKubeNamespace(r, item, ip, out);
    // Other kinds (Services, Deployments, ...) may share the list; they carry
    // no endpoint addresses we could use.
  }
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

// nlohmann keeps the last of duplicate keys; like an unknown key, a repeated
// one usually means an edit went wrong, so it is reported. The parse callback
// sees events without positions, so the JSON path is tracked here.
class DuplicateKeyFinder {
 public:
  bool operator()(int, json::parse_event_t event, json& value) {
    using E = json::parse_event_t;
    if (found_) return true;
    switch (event) {
      case E::object_start:
      case E::array_start:
        enterValue();
        frames_.push_back({event == E::object_start, {}, {}, 0});
        break;
      case E::object_end:
      case E::array_end:
        if (!frames_.empty()) frames_.pop_back();
        break;
      case E::key: {
        Frame& f = frames_.back();
        f.key = value.get<std::string>();
        if (!f.keys.insert(f.key).second) {
          found_ = true;
          firstPath_ = objectPath();
          firstKey_ = f.key;
        }
        break;
      }
      case E::value:
        enterValue();
        break;
    }
    return true;
  }

  bool found() const { return found_; }
  const std::string& path() const { return firstPath_; }
  const std::string& key() const { return firstKey_; }

 private:
  struct Frame {
    bool isObject;
    std::set<std::string> keys;
    std::string key;
    size_t count;  // elements started, for arrays
  };

  void enterValue() {
    if (!frames_.empty() && !frames_.back().isObject) ++frames_.back().count;
  }

  // Path of the innermost object, where the duplicate is.
  std::string objectPath() const {
    std::string p;
    for (size_t i = 0; i + 1 < frames_.size(); ++i)
      p = frames_[i].isObject ? member(p, frames_[i].key) : element(p, frames_[i].count - 1);
    return p;
  }

  std::vector<Frame> frames_;
  bool found_ = false;
  std::string firstPath_, firstKey_;
};

json parse(const std::string& file, const std::string& text) {
  DuplicateKeyFinder finder;
  json root;
  try {
    root = json::parse(text,
                       [&finder](int depth, json::parse_event_t e, json& v) { return finder(depth, e, v); });
  } catch (const json::parse_error& e) {
    // e.byte counts the offending character itself.
    LineCol lc = lineColAt(text, e.byte > 0 ? e.byte - 1 : 0);
    std::string what = e.what();
    auto detail = what.find(": ");
    throw LoadError{file + ":" + std::to_string(lc.line) + ":" + std::to_string(lc.column) +
                    ": invalid JSON: " + (detail == std::string::npos ? what : what.substr(detail + 2))};
  } catch (const json::out_of_range& e) {
    std::string what = e.what();
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
  if (finder.found()) {
    std::string where = finder.path().empty() ? "" : finder.path() + ": ";
    throw LoadError{file + ": " + where + "duplicate key " + quote(finder.key())};
  }
  return root;
}

void load(const std::string& file, const std::string& text, Loaded& out) {
  json root = parse(file, text);
  Reader r(file);
  if (!root.is_object())
    r.fail("", std::string("expected a JSON object at the top level, got ") + root.type_name());
  // kubectl output always has kind and apiVersion; membrane's format has neither.
  if (root.contains("kind") || root.contains("apiVersion") || root.contains("items"))
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
  std::map<std::pair<std::string, std::string>, const Loaded::Ep*> fileEndpoints;
  for (const Loaded::Ep& e : loaded.endpoints) {
    std::string id = quote(e.ep.ns + "/" + e.ep.name);
    auto [it, inserted] = fileEndpoints.emplace(std::pair(e.ep.ns, e.ep.name), &e);
    if (!inserted)
      r.fail(e.path, "duplicate endpoint " + id + ", first defined at " + it->second->path + " in " + file);
    if (const Endpoint* old = inv.findEndpoint(e.ep.ns, e.ep.name))
      r.fail(e.path, "duplicate endpoint " + id + ", first defined in " + old->source);
  }

  // Build the result aside so that `inv` changes only if nothing can fail.
  Inventory next = inv;
  for (auto& [name, n] : fileNamespaces)
    if (!inv.findNamespace(name)) next.namespaces.push_back(n->ns);
  for (Loaded::Ep& e : loaded.endpoints) next.endpoints.push_back(std::move(e.ep));
  std::sort(next.namespaces.begin(), next.namespaces.end(),
            [](const Namespace& a, const Namespace& b) { return a.name < b.name; });
  std::sort(next.endpoints.begin(), next.endpoints.end(), [](const Endpoint& a, const Endpoint& b) {
    return std::tie(a.ns, a.name) < std::tie(b.ns, b.name);
  });
  inv = std::move(next);
}

bool setError(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

}  // namespace

bool loadInventoryText(const std::string& path, const std::string& text, Inventory& inv, std::string* error) {
  try {
    Loaded loaded;
    load(path, text, loaded);
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

bool loadInventoryFile(const std::string& path, Inventory& inv, std::string* error) {
  std::string why;
  auto text = io::readRegularFile(path, kMaxInventoryFileBytes, "an inventory file", &why);
  if (!text) return setError(error, why);
  return loadInventoryText(path, *text, inv, error);
}

}  // namespace membrane::inventory
