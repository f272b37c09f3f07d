// Reading NODE.json (node_config.h): strictly (a repeated key is an error),
// with every error naming the key path and its line:column in the file.
#include "loader/node_config.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "io/file.h"
#include "io/json.h"
#include "labels/names.h"

namespace membrane::loader {

using nlohmann::json;

namespace {

// NODE.json lists endpoints, not data: 16 MiB is far more than any node has.
constexpr size_t kMaxNodeConfigBytes = 16 * io::kMiB;

// A problem at `path` ("endpoints[1].interface"); `at` is where in the file to
// point, when that is not `path` itself (an unknown key: the key).
struct ConfigError {
  std::string path, message, at;
};

[[noreturn]] void fail(const std::string& path, const std::string& message, const std::string& at = "") {
  throw ConfigError{path, message, at.empty() ? path : at};
}

std::string jsonString(const std::string& s) { return json(s).dump(); }

std::vector<net::Address> addresses(const json& j, const std::string& path) {
  std::vector<net::Address> out;
  if (!j.is_array()) fail(path, "expected an array of addresses");
  for (size_t i = 0; i < j.size(); ++i) {
    auto a = j[i].is_string() ? net::Address::parse(j[i].get<std::string>()) : std::nullopt;
    if (!a) fail(io::elementPath(path, i), "not an IP address");
    out.push_back(*a);
  }
  return out;
}

void onlyKeys(const json& j, const std::string& path, const std::vector<std::string>& known) {
  for (const auto& [k, v] : j.items())
    if (std::find(known.begin(), known.end(), k) == known.end())
      fail(path, "unknown key " + jsonString(k), io::memberPath(path, k));
}

// [{"name": "web", "port": 80, "protocol": "TCP"}], protocol TCP by default.
std::vector<labels::NamedPort> namedPorts(const json& j, const std::string& path) {
  if (!j.is_array()) fail(path, "expected an array of named ports");
  std::vector<labels::NamedPort> out;
  for (size_t i = 0; i < j.size(); ++i) {
    std::string at = io::elementPath(path, i);
    const json& p = j[i];
    if (!p.is_object()) fail(at, "expected an object with name, port and protocol");
    onlyKeys(p, at, {"name", "port", "protocol"});
    labels::NamedPort np;
    if (!p.contains("name") || !p["name"].is_string() || p["name"].get<std::string>().empty())
      fail(at + ".name", "required, a non-empty string");
    np.name = p["name"];
    if (!p.contains("port") || !p["port"].is_number_unsigned() || p["port"].get<uint64_t>() == 0 ||
        p["port"].get<uint64_t>() > 65535)
      fail(at + ".port", "required, a port number 1-65535");
    np.port = static_cast<uint16_t>(p["port"].get<uint64_t>());
    if (p.contains("protocol")) {
      auto proto = p["protocol"].is_string() ? labels::portProtocolFromName(p["protocol"]) : std::nullopt;
      if (!proto) fail(at + ".protocol", "expected TCP, UDP or SCTP");
      np.protocol = *proto;
    }
    out.push_back(std::move(np));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// What the kernel accepts as an interface name (dev_valid_name): 1-15 bytes,
// not "." or "..", no '/', ':', NUL or whitespace. A NUL would cut the name
// short where it is passed to the kernel, naming another interface.
bool validInterfaceName(const std::string& s) {
  if (s.empty() || s.size() > 15 || s == "." || s == "..") return false;
  return std::none_of(s.begin(), s.end(), [](char c) {
    return c == '/' || c == ':' || c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
  });
}

std::string stringField(const json& j, const std::string& path, const char* key) {
  if (!j[key].is_string()) fail(io::memberPath(path, key), "expected a string");
  return j[key].get<std::string>();
}

NodeEndpoint endpoint(const json& j, const std::string& path, bool local) {
  if (!j.is_object()) fail(path, "expected an object");
  onlyKeys(j, path, {"name", "namespace", "labels", "addresses", "ports", "interface", "cgroup", "root"});
  NodeEndpoint e;
  if (!j.contains("name") || !j["name"].is_string() || j["name"].get<std::string>().empty())
    fail(path + ".name", "required, a non-empty string");
  e.name = j["name"];
  if (j.contains("namespace")) e.ns = stringField(j, path, "namespace");
  if (std::string why = namespaceNameProblem(e.ns); !why.empty()) fail(path + ".namespace", why);
  if (std::string why = podNameProblem(e.name); !why.empty()) fail(path + ".name", why);
  if (j.contains("labels")) {
    if (!j["labels"].is_object()) fail(path + ".labels", "expected an object of strings");
    labels::LabelSet ls;
    for (const auto& [k, v] : j["labels"].items()) {
      if (!v.is_string()) fail(io::memberPath(path + ".labels", k), "expected a string");
      ls[k] = v.get<std::string>();
    }
    e.labels = ls;
  }
  if (j.contains("addresses")) e.addresses = addresses(j["addresses"], path + ".addresses");
  if (j.contains("ports")) {
    if (!e.labels)
      fail(path + ".ports",
           "named ports belong to endpoints learned after "
           "compile; give labels too");
    e.ports = namedPorts(j["ports"], path + ".ports");
  }
  if (local && j.contains("addresses") && !e.labels)
    fail(path,
         "addresses belong to endpoints learned after compile; give "
         "labels too, or drop them");
  if (e.labels.has_value() != j.contains("addresses") && !local) fail(path, "a peer needs both labels and addresses");
  if (j.contains("interface")) {
    e.interface = stringField(j, path, "interface");
    if (!validInterfaceName(e.interface))
      fail(path + ".interface", jsonString(e.interface) +
                                    " is not an interface name (1-15 bytes, "
                                    "no '/', ':', NUL or space)");
  }
  if (j.contains("cgroup")) {
    e.cgroup = stringField(j, path, "cgroup");
    if (e.cgroup.empty() || e.cgroup[0] != '/' || e.cgroup.find('\0') != std::string::npos)
      fail(path + ".cgroup", jsonString(e.cgroup) + " is not an absolute path");
  }
  if (j.contains("root")) {
    e.root = stringField(j, path, "root");
    if (e.root.empty() || e.root[0] != '/' || e.root.find('\0') != std::string::npos)
      fail(path + ".root", jsonString(e.root) + " is not an absolute path");
    if (!local) fail(path + ".root", "peers run nothing here; \"root\" belongs to local endpoints");
  }
  if (local && !j.contains("interface") && !j.contains("cgroup"))
    fail(path,
         "a local endpoint needs \"interface\" or \"cgroup\" (both, when its class has process rules: the "
         "packet programs go on the interface, the socket calls' on the cgroup)");
  if (!local && (j.contains("interface") || j.contains("cgroup")))
    fail(path,
         "peers are not enforced here; \"interface\"/\"cgroup\" belong "
         "to local endpoints");
  return e;
}

// One cgroup written two ways ("/a/b/", "/a//b", "/a/c/../b") is one cgroup.
std::string cgroupKey(const std::string& path) {
  std::string p = std::filesystem::path(path).lexically_normal().string();
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

// What NODE.json says about itself across entries: every endpoint and peer
// once; one endpoint per interface and per cgroup; every address one
// endpoint's.
void checkAcrossEntries(const NodeConfig& c) {
  struct Entry {
    const NodeEndpoint* e;
    std::string path;
  };
  std::vector<Entry> all;
  for (size_t i = 0; i < c.endpoints.size(); ++i) all.push_back({&c.endpoints[i], io::elementPath("endpoints", i)});
  for (size_t i = 0; i < c.peers.size(); ++i) all.push_back({&c.peers[i], io::elementPath("peers", i)});
  std::map<std::string, const Entry*> byKey, byInterface, byCgroup;
  std::map<net::Address, const Entry*> byAddress;
  for (const auto& en : all) {
    const NodeEndpoint& e = *en.e;
    if (auto [it, fresh] = byKey.emplace(e.key(), &en); !fresh)
      fail(en.path, "endpoint " + e.key() + " is listed twice (also " + it->second->path + ")");
    if (!e.interface.empty())
      if (auto [it, fresh] = byInterface.emplace(e.interface, &en); !fresh)
        fail(en.path + ".interface", "interface " + e.interface + " is already " + it->second->e->key() + "'s (" +
                                         it->second->path + "); one endpoint per interface");
    if (!e.cgroup.empty())
      if (auto [it, fresh] = byCgroup.emplace(cgroupKey(e.cgroup), &en); !fresh)
        fail(en.path + ".cgroup", "cgroup " + e.cgroup + " is already " + it->second->e->key() + "'s (" +
                                      it->second->path + "); one endpoint per cgroup");
    for (size_t k = 0; k < e.addresses.size(); ++k)
      if (auto [it, fresh] = byAddress.emplace(e.addresses[k], &en); !fresh)
        fail(io::elementPath(en.path + ".addresses", k),
             e.addresses[k].str() +
                 (it->second == &en ? " is listed twice"
                                    : " is already " + it->second->e->key() + "'s address (" + it->second->path + ")"));
  }
}

}  // namespace

std::string namespaceNameProblem(const std::string& ns) {
  std::string why = labels::dnsLabelProblem(ns);
  return why.empty() ? "" : jsonString(ns) + " " + why + " (as Kubernetes requires of namespaces)";
}

std::string podNameProblem(const std::string& name) {
  std::string why = labels::dnsSubdomainProblem(name);
  return why.empty() ? "" : jsonString(name) + " " + why + " (as Kubernetes requires of pod names)";
}

labels::LabelSet NodeConfig::namespaceLabels(const std::string& ns) const {
  return {{"kubernetes.io/metadata.name", ns}};
}

std::optional<NodeConfig> NodeConfig::parse(const std::string& text, std::string* error, const std::string& source) {
  std::string why;
  auto doc = io::parseJsonStrictly(text, &why);
  if (!doc) {
    if (error) *error = source + ":" + why;
    return std::nullopt;
  }
  const json& j = doc->value;
  try {
    if (!j.is_object()) fail("", "not a JSON object");
    NodeConfig c;
    onlyKeys(j, "", {"host", "endpoints", "peers"});
    if (j.contains("host")) {
      if (!j["host"].is_object()) fail("host", "expected an object");
      onlyKeys(j["host"], "host", {"addresses"});
      if (j["host"].contains("addresses")) c.hostAddresses = addresses(j["host"]["addresses"], "host.addresses");
    }
    if (j.contains("endpoints")) {
      if (!j["endpoints"].is_array()) fail("endpoints", "expected an array");
      for (size_t i = 0; i < j["endpoints"].size(); ++i)
        c.endpoints.push_back(endpoint(j["endpoints"][i], io::elementPath("endpoints", i), true));
    }
    if (j.contains("peers")) {
      if (!j["peers"].is_array()) fail("peers", "expected an array");
      for (size_t i = 0; i < j["peers"].size(); ++i)
        c.peers.push_back(endpoint(j["peers"][i], io::elementPath("peers", i), false));
    }
    checkAcrossEntries(c);
    return c;
  } catch (const ConfigError& e) {
    std::string where = doc->where(e.at);
    if (error)
      *error = source + (where.empty() ? "" : ":" + where) + ": " + (e.path.empty() ? "" : e.path + ": ") + e.message;
    return std::nullopt;
  }
}

std::optional<NodeConfig> NodeConfig::load(const std::string& path, std::string* error) {
  auto text = io::readRegularFile(path, kMaxNodeConfigBytes, "NODE.json", error);
  if (!text) return std::nullopt;
  return parse(*text, error, path);
}

}  // namespace membrane::loader
