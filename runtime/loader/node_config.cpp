#include "loader/node_config.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace membrane::loader {

using nlohmann::json;

namespace {

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::vector<net::Address> addresses(const json& j, const std::string& path) {
  std::vector<net::Address> out;
  if (!j.is_array()) throw ConfigError(path + ": expected an array of addresses");
  for (size_t i = 0; i < j.size(); ++i) {
    auto a = j[i].is_string() ? net::Address::parse(j[i].get<std::string>()) : std::nullopt;
    if (!a) throw ConfigError(path + "[" + std::to_string(i) + "]: not an IP address");
    out.push_back(*a);
  }
  return out;
}

// [{"name": "web", "port": 80, "protocol": "TCP"}], protocol TCP by default.
std::vector<labels::NamedPort> namedPorts(const json& j, const std::string& path) {
  if (!j.is_array()) throw ConfigError(path + ": expected an array of named ports");
  std::vector<labels::NamedPort> out;
  for (size_t i = 0; i < j.size(); ++i) {
    std::string at = path + "[" + std::to_string(i) + "]";
    const json& p = j[i];
    if (!p.is_object()) throw ConfigError(at + ": expected an object with name, port and protocol");
    for (const auto& [k, v] : p.items())
      if (k != "name" && k != "port" && k != "protocol") throw ConfigError(at + ": unknown key \"" + k + "\"");
    labels::NamedPort np;
    if (!p.contains("name") || !p["name"].is_string() || p["name"].get<std::string>().empty())
      throw ConfigError(at + ".name: required, a non-empty string");
    np.name = p["name"];
    if (!p.contains("port") || !p["port"].is_number_unsigned() || p["port"].get<uint64_t>() == 0 ||
        p["port"].get<uint64_t>() > 65535)
      throw ConfigError(at + ".port: required, a port number 1-65535");
    np.port = static_cast<uint16_t>(p["port"].get<uint64_t>());
    if (p.contains("protocol")) {
      auto proto = p["protocol"].is_string() ? labels::portProtocolFromName(p["protocol"]) : std::nullopt;
      if (!proto) throw ConfigError(at + ".protocol: expected TCP, UDP or SCTP");
      np.protocol = *proto;
    }
    out.push_back(std::move(np));
  }
  std::sort(out.begin(), out.end());
  return out;
}

NodeEndpoint endpoint(const json& j, const std::string& path, bool local) {
  if (!j.is_object()) throw ConfigError(path + ": expected an object");
  static const std::vector<std::string> known = {"name",      "namespace", "labels", "addresses",
                                                 "ports",     "interface", "cgroup"};
  for (const auto& [k, v] : j.items())
    if (std::find(known.begin(), known.end(), k) == known.end()) throw ConfigError(path + ": unknown key \"" + k + "\"");
  NodeEndpoint e;
  if (!j.contains("name") || !j["name"].is_string() || j["name"].get<std::string>().empty())
    throw ConfigError(path + ".name: required, a non-empty string");
  e.name = j["name"];
  if (j.contains("namespace")) {
    if (!j["namespace"].is_string()) throw ConfigError(path + ".namespace: expected a string");
    e.ns = j["namespace"];
  }
  if (j.contains("labels")) {
    if (!j["labels"].is_object()) throw ConfigError(path + ".labels: expected an object of strings");
    labels::LabelSet ls;
    for (const auto& [k, v] : j["labels"].items()) {
      if (!v.is_string()) throw ConfigError(path + ".labels." + k + ": expected a string");
      ls[k] = v.get<std::string>();
    }
    e.labels = ls;
  }
  if (j.contains("addresses")) e.addresses = addresses(j["addresses"], path + ".addresses");
  if (j.contains("ports")) {
    if (!e.labels) throw ConfigError(path + ".ports: named ports belong to endpoints learned after compile; give labels too");
    e.ports = namedPorts(j["ports"], path + ".ports");
  }
  if (local && j.contains("addresses") && !e.labels)
    throw ConfigError(path + ": addresses belong to endpoints learned after compile; give labels too, or drop them");
  if (e.labels.has_value() != j.contains("addresses") && !local)
    throw ConfigError(path + ": a peer needs both labels and addresses");
  if (j.contains("interface")) {
    if (!j["interface"].is_string()) throw ConfigError(path + ".interface: expected a string");
    e.interface = j["interface"];
  }
  if (j.contains("cgroup")) {
    if (!j["cgroup"].is_string()) throw ConfigError(path + ".cgroup: expected a string");
    e.cgroup = j["cgroup"];
  }
  if (local && e.interface.empty() == e.cgroup.empty())
    throw ConfigError(path + ": a local endpoint needs exactly one of \"interface\" or \"cgroup\"");
  if (!local && (!e.interface.empty() || !e.cgroup.empty()))
    throw ConfigError(path + ": peers are not enforced here; \"interface\"/\"cgroup\" belong to local endpoints");
  return e;
}

}  // namespace

labels::LabelSet NodeConfig::namespaceLabels(const std::string& ns) const {
  return {{"kubernetes.io/metadata.name", ns}};
}

std::optional<NodeConfig> NodeConfig::parse(const std::string& text, std::string* error) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    if (error) *error = "not a JSON object";
    return std::nullopt;
  }
  try {
    NodeConfig c;
    for (const auto& [k, v] : j.items())
      if (k != "host" && k != "endpoints" && k != "peers") throw ConfigError("unknown key \"" + k + "\"");
    if (j.contains("host")) {
      if (!j["host"].is_object()) throw ConfigError("host: expected an object");
      for (const auto& [k, v] : j["host"].items())
        if (k != "addresses") throw ConfigError("host: unknown key \"" + k + "\"");
      if (j["host"].contains("addresses")) c.hostAddresses = addresses(j["host"]["addresses"], "host.addresses");
    }
    if (j.contains("endpoints")) {
      if (!j["endpoints"].is_array()) throw ConfigError("endpoints: expected an array");
      for (size_t i = 0; i < j["endpoints"].size(); ++i)
        c.endpoints.push_back(endpoint(j["endpoints"][i], "endpoints[" + std::to_string(i) + "]", true));
    }
    if (j.contains("peers")) {
      if (!j["peers"].is_array()) throw ConfigError("peers: expected an array");
      for (size_t i = 0; i < j["peers"].size(); ++i)
        c.peers.push_back(endpoint(j["peers"][i], "peers[" + std::to_string(i) + "]", false));
    }
    std::set<std::string> seen;
    for (const auto& e : c.endpoints)
      if (!seen.insert(e.key()).second) throw ConfigError("endpoint " + e.key() + " is listed twice");
    return c;
  } catch (const ConfigError& e) {
    if (error) *error = e.what();
    return std::nullopt;
  }
}

std::optional<NodeConfig> NodeConfig::load(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    if (error) *error = "cannot open '" + path + "'";
    return std::nullopt;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  auto c = parse(buf.str(), error);
  if (!c && error) *error = path + ": " + *error;
  return c;
}

}  // namespace membrane::loader
