// membrane-cni: a chained CNI plugin (spec 1.0; 0.4.0 results read too)
// that enforces a pod's policy from the moment its network exists
// (docs/cluster.md, "The CNI plugin"). It runs after the plugin that makes
// the pod's interface (ptp, bridge, ...) and
//   ADD     joins the pod to the endpoints this node enforces: its host-side
//           veth and addresses from the previous result, its namespace and
//           name from CNI_ARGS (K8S_POD_NAMESPACE, K8S_POD_NAME), its labels
//           and named ports from the runtime config (capabilities podLabels
//           and podPorts) or, failing that, from <podInfoDir>/<ns>/<name>.json;
//           then prints the previous result unchanged. All or nothing: a
//           pod membrane cannot enforce (no class for its labels, ...) fails
//           its ADD and the node is as it was.
//   DEL     the pod leaves; a pod the node does not have is no error.
//   CHECK   the pod is enforced here, at the interface the result names, and
//           the kernel runs what was applied for it.
//   VERSION the versions it speaks.
// Errors are CNI error objects on stdout, with exit status 1.
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "io/file.h"
#include "io/json.h"
#include "loader/loader.h"
#include "loader/node_config.h"

using namespace membrane;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::set<std::string> kVersions = {"0.4.0", "1.0.0"};

// CNI's error codes (spec, "Error"), and this plugin's own (100 and up).
enum Code {
  kIncompatibleVersion = 1,
  kInvalidEnvironment = 4,
  kDecodingFailure = 6,
  kInvalidConfig = 7,
  kTryAgainLater = 11,
  kRefused = 100,     // membrane will not enforce this pod as asked
  kNotEnforced = 101, // CHECK: the pod is not enforced as applied
};

struct Failure {
  int code;
  std::string msg, details;
};

[[noreturn]] void fail(int code, const std::string& msg, const std::string& details = "") {
  throw Failure{code, msg, details};
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// CNI_ARGS: "K=V;K=V".
std::map<std::string, std::string> cniArgs() {
  std::map<std::string, std::string> out;
  std::string args = env("CNI_ARGS");
  size_t start = 0;
  while (start <= args.size()) {
    size_t end = args.find(';', start);
    std::string item = args.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (auto eq = item.find('='); eq != std::string::npos) out[item.substr(0, eq)] = item.substr(eq + 1);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

struct Config {
  json raw;
  std::string cniVersion;
  loader::Paths paths;
  std::string podInfoDir;
};

Config readConfig(const std::string& text) {
  std::string error;
  auto doc = io::parseJsonStrictly(text, &error);
  if (!doc) fail(kDecodingFailure, "the network configuration is not valid JSON", error);
  Config c;
  c.raw = doc->value;
  if (!c.raw.is_object()) fail(kDecodingFailure, "the network configuration is not a JSON object");
  auto str = [&](const char* key, std::string& into) {
    if (!c.raw.contains(key)) return;
    if (!c.raw[key].is_string()) fail(kInvalidConfig, std::string("\"") + key + "\" must be a string");
    into = c.raw[key];
  };
  str("cniVersion", c.cniVersion);
  if (!kVersions.count(c.cniVersion))
    fail(kIncompatibleVersion, "membrane-cni speaks CNI 0.4.0 and 1.0.0, not \"" + c.cniVersion + "\"");
  str("bpffs", c.paths.bpffsRoot);
  str("stateDir", c.paths.stateDir);
  str("attach", c.paths.attach);
  if (c.paths.attach != "auto" && c.paths.attach != "tcx" && c.paths.attach != "tc")
    fail(kInvalidConfig, "\"attach\" is auto, tcx or tc, not \"" + c.paths.attach + "\"");
  c.podInfoDir = c.paths.stateDir + "/pods";
  str("podInfoDir", c.podInfoDir);
  c.paths.command = "membrane-cni " + env("CNI_COMMAND") + " " + env("CNI_CONTAINERID");
  return c;
}

struct Pod {
  std::string ns, name;
};

Pod podOf() {
  auto args = cniArgs();
  Pod p{args["K8S_POD_NAMESPACE"], args["K8S_POD_NAME"]};
  if (p.ns.empty() || p.name.empty())
    fail(kInvalidEnvironment, "CNI_ARGS names no pod: membrane-cni needs K8S_POD_NAMESPACE and K8S_POD_NAME",
         "CNI_ARGS=" + env("CNI_ARGS"));
  if (std::string why = loader::namespaceNameProblem(p.ns); !why.empty())
    fail(kInvalidEnvironment, "K8S_POD_NAMESPACE: " + why);
  if (std::string why = loader::podNameProblem(p.name); !why.empty()) fail(kInvalidEnvironment, "K8S_POD_NAME: " + why);
  return p;
}

// The pod's labels and named ports, as a NODE.json endpoint reads them:
// the runtime config's, else the pod info file's. After fromPrevResult.
void labelsAndPorts(const Config& c, const Pod& pod, loader::NodeEndpoint& e) {
  json info;
  std::string source;
  if (c.raw.contains("runtimeConfig") && c.raw["runtimeConfig"].is_object() &&
      c.raw["runtimeConfig"].contains("podLabels")) {
    const json& rc = c.raw["runtimeConfig"];
    info = {{"labels", rc["podLabels"]}};
    if (rc.contains("podPorts")) info["ports"] = rc["podPorts"];
    source = "runtimeConfig";
  } else {
    std::string path = c.podInfoDir + "/" + pod.ns + "/" + pod.name + ".json";
    std::error_code ec;
    if (!fs::exists(path, ec))
      fail(kRefused, "no labels for pod " + pod.ns + "/" + pod.name,
           "give them in runtimeConfig.podLabels (the podLabels capability) or in " + path);
    std::string error;
    auto text = io::readRegularFile(path, io::kMiB, "pod info file", &error);
    auto doc = text ? io::parseJsonStrictly(*text, &error) : std::nullopt;
    if (!doc || !doc->value.is_object()) fail(kRefused, "unreadable pod info file " + path, error);
    info = doc->value;
    source = path;
  }
  // Read through NODE.json's reader (labels are strings, ports as NODE.json
  // has them, nothing else), as a peer of this name.
  json addresses = json::array();
  for (const auto& a : e.addresses) addresses.push_back(a.str());
  json peer = {{"name", pod.name}, {"namespace", pod.ns}, {"addresses", addresses}};
  for (const auto& [k, v] : info.items()) {
    if (k != "labels" && k != "ports") fail(kRefused, source + ": unknown key \"" + k + "\" (labels, ports)");
    peer[k] = v;
  }
  std::string error;
  auto node = loader::NodeConfig::parse(json{{"peers", json::array({peer})}}.dump(), &error, source);
  if (!node) fail(kRefused, "the pod's labels or ports are not valid", error);
  e.labels = node->peers[0].labels;
  e.ports = node->peers[0].ports;
}

// The kernel driver of interface `name` in this network namespace ("veth",
// "bridge", ...; "" if there is none). Asked through ethtool, not sysfs: a
// plugin run by `nsenter` or setns sees the /sys of another namespace.
std::string driverOf(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ) return "";
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  ethtool_drvinfo info{};
  info.cmd = ETHTOOL_GDRVINFO;
  ifreq req{};
  std::memcpy(req.ifr_name, name.data(), name.size());
  req.ifr_data = reinterpret_cast<char*>(&info);
  std::string driver = ioctl(fd, SIOCETHTOOL, &req) == 0 ? info.driver : "";
  close(fd);
  return driver;
}

// From the previous result: the host-side interface (not in a sandbox, and
// a veth: beside a bridge, not the bridge) and the pod's addresses.
void fromPrevResult(const Config& c, loader::NodeEndpoint& e) {
  if (!c.raw.contains("prevResult") || !c.raw["prevResult"].is_object())
    fail(kInvalidConfig, "no prevResult: membrane-cni is chained after the plugin that creates the pod's interface");
  const json& r = c.raw["prevResult"];
  std::vector<std::string> hostSide;
  if (r.contains("interfaces") && r["interfaces"].is_array())
    for (const auto& i : r["interfaces"])
      if (i.is_object() && i.contains("name") && i["name"].is_string() &&
          (!i.contains("sandbox") || i["sandbox"] == ""))
        hostSide.push_back(i["name"]);
  std::vector<std::string> veths;
  for (const auto& name : hostSide)
    if (driverOf(name) == "veth") veths.push_back(name);
  if (veths.size() != 1)
    fail(kInvalidConfig,
         "the previous result names " + std::to_string(veths.size()) +
             " host-side veths; membrane-cni enforces at exactly one (chain it after ptp or bridge)",
         r.dump());
  e.interface = veths[0];
  if (r.contains("ips") && r["ips"].is_array())
    for (const auto& ip : r["ips"]) {
      if (!ip.is_object() || !ip.contains("address") || !ip["address"].is_string()) continue;
      std::string cidr = ip["address"];
      auto addr = net::Address::parse(cidr.substr(0, cidr.find('/')));
      if (!addr) fail(kInvalidConfig, "the previous result has an address that is not one: " + cidr);
      e.addresses.push_back(*addr);
    }
  if (e.addresses.empty()) fail(kInvalidConfig, "the previous result gives the pod no address");
}

// Nothing applied, or the node busy: the runtime may try again; anything
// else is a refusal.
int codeFor(const std::string& error) {
  if (loader::nothingApplied(error) || loader::nodeBusy(error)) return kTryAgainLater;
  return kRefused;
}

int add(const Config& c) {
  Pod pod = podOf();
  loader::NodeEndpoint e;
  e.ns = pod.ns;
  e.name = pod.name;
  fromPrevResult(c, e);
  labelsAndPorts(c, pod, e);
  std::string error;
  loader::ApplyReport report;
  if (!loader::endpointJoin(e, c.paths, &report, &error))
    fail(codeFor(error), "membrane cannot enforce pod " + e.key() + ": " + error);
  for (const auto& w : report.warnings) std::cerr << "membrane-cni: warning: " << w << "\n";
  json result = c.raw["prevResult"];
  result["cniVersion"] = c.cniVersion;
  std::cout << result.dump() << "\n";
  return 0;
}

int del(const Config& c) {
  Pod pod = podOf();
  std::string error;
  bool wasThere = false;
  if (!loader::endpointLeave(pod.ns, pod.name, c.paths, nullptr, &wasThere, &error))
    fail(codeFor(error), "membrane cannot stop enforcing pod " + pod.ns + "/" + pod.name + ": " + error);
  return 0;
}

int check(const Config& c) {
  Pod pod = podOf();
  loader::NodeEndpoint e;
  fromPrevResult(c, e);
  std::string error;
  auto s = loader::status(c.paths, &error);
  if (!s) fail(kNotEnforced, "pod " + pod.ns + "/" + pod.name + " is not enforced: " + error);
  std::string key = pod.ns + "/" + pod.name;
  for (const auto& ep : s->endpoints) {
    if (ep.key != key) continue;
    if (ep.where != e.interface)
      fail(kNotEnforced, "pod " + key + " is enforced at " + ep.where + ", not at " + e.interface);
    for (const auto& [hook, h] : ep.hooks)
      if (h.state != loader::HookStatus::State::Ok)
        fail(kNotEnforced, "pod " + key + " " + hook + ": " + loader::hookStateName(h.state) + ": " + h.detail);
    return 0;
  }
  fail(kNotEnforced, "pod " + key + " is not enforced on this node");
}

}  // namespace

int main() {
  std::string command = env("CNI_COMMAND");
  std::string cniVersion = "1.0.0";
  try {
    if (command == "VERSION") {
      std::cout << json{{"cniVersion", "1.0.0"}, {"supportedVersions", kVersions}}.dump() << "\n";
      return 0;
    }
    if (command != "ADD" && command != "DEL" && command != "CHECK")
      fail(kInvalidEnvironment, "CNI_COMMAND is ADD, DEL, CHECK or VERSION, not \"" + command + "\"");
    std::string text((std::istreambuf_iterator<char>(std::cin)), {});
    Config c = readConfig(text);
    cniVersion = c.cniVersion;
    if (command == "ADD") return add(c);
    if (command == "DEL") return del(c);
    return check(c);
  } catch (const Failure& f) {
    json e = {{"cniVersion", cniVersion}, {"code", f.code}, {"msg", f.msg}};
    if (!f.details.empty()) e["details"] = f.details;
    std::cout << e.dump() << "\n";
    return 1;
  } catch (const std::exception& ex) {
    std::cout << json{{"cniVersion", cniVersion}, {"code", 999}, {"msg", std::string("membrane-cni: ") + ex.what()}}.dump()
              << "\n";
    return 1;
  }
}
