#include "cases.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <list>
#include <set>
#include <sstream>

namespace membrane::conformance {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw CaseError(path + ": " + what); }

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(trim(cur));
  return out;
}

std::string scalar(const YAML::Node& n, const std::string& path, const std::string& field) {
  if (!n.IsScalar()) fail(path, field + " must be a string");
  return n.as<std::string>();
}

// "x/a", "x/*", "*/a", "*", alternatives joined by '|': the pods it names.
std::vector<size_t> podsMatching(const std::string& pattern, const Topology& topo, const std::string& path) {
  std::set<size_t> out;
  for (const std::string& alt : split(pattern, '|')) {
    std::string ns = "*", name = "*";
    if (alt != "*") {
      size_t slash = alt.find('/');
      if (slash == std::string::npos) fail(path, "pod pattern '" + alt + "' is not ns/name (use * for any part)");
      ns = alt.substr(0, slash);
      name = alt.substr(slash + 1);
    }
    bool any = false;
    for (size_t i = 0; i < topo.pods.size(); ++i) {
      if ((ns == "*" || ns == topo.pods[i].ns) && (name == "*" || name == topo.pods[i].name)) {
        out.insert(i);
        any = true;
      }
    }
    if (!any) fail(path, "pod pattern '" + alt + "' matches no pod of the topology");
  }
  return {out.begin(), out.end()};
}

bool parseProtocol(const std::string& s, Protocol& p) {
  if (s == "tcp") p = Protocol::TCP;
  else if (s == "udp") p = Protocol::UDP;
  else if (s == "sctp") p = Protocol::SCTP;
  else return false;
  return true;
}

PortProtocol parsePortProtocol(const std::string& s, const std::string& path) {
  size_t slash = s.find('/');
  PortProtocol pp;
  if (slash == std::string::npos || !parseProtocol(s.substr(0, slash), pp.protocol))
    fail(path, "'" + s + "' is not tcp/N, udp/N or sctp/N");
  std::string num = s.substr(slash + 1);
  if (num.empty() || num.size() > 5 || num.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(num) == 0 || std::stoul(num) > 65535)
    fail(path, "'" + s + "' has no valid port number");
  pp.port = static_cast<uint16_t>(std::stoul(num));
  return pp;
}

// "tcp/80, udp/*, */81, *": indices into `ports`; each item must name one.
std::vector<size_t> portsMatching(const std::string& spec, const std::vector<PortProtocol>& ports,
                                  const std::string& path) {
  std::set<size_t> out;
  for (const std::string& item : split(spec, ',')) {
    std::string proto = "*", port = "*";
    if (item != "*") {
      size_t slash = item.find('/');
      if (slash == std::string::npos) fail(path, "port '" + item + "' is not proto/port (use * for any part)");
      proto = item.substr(0, slash);
      port = item.substr(slash + 1);
      Protocol ignored;
      if (proto != "*" && !parseProtocol(proto, ignored)) fail(path, "unknown protocol in '" + item + "'");
    }
    bool any = false;
    for (size_t i = 0; i < ports.size(); ++i) {
      if ((proto == "*" || proto == protocolName(ports[i].protocol)) &&
          (port == "*" || port == std::to_string(ports[i].port))) {
        out.insert(i);
        any = true;
      }
    }
    if (!any) fail(path, "port '" + item + "' is not among the case's probed ports");
  }
  return {out.begin(), out.end()};
}

// One rule: "FROM -> TO" or "FROM -> TO on PORTS".
void applyRule(const std::string& text, bool reachable, const Topology& topo, const std::vector<PortProtocol>& ports,
               Reachability& r, const std::string& path) {
  size_t arrow = text.find("->");
  if (arrow == std::string::npos) fail(path, "rule '" + text + "' has no '->'");
  std::string from = trim(text.substr(0, arrow));
  std::string rest = trim(text.substr(arrow + 2));
  std::string to = rest, portSpec = "*";
  size_t on = rest.find(" on ");
  if (on != std::string::npos) {
    to = trim(rest.substr(0, on));
    portSpec = trim(rest.substr(on + 4));
  }
  auto srcs = podsMatching(from, topo, path);
  auto dsts = podsMatching(to, topo, path);
  auto ps = portsMatching(portSpec, ports, path);
  for (size_t s : srcs)
    for (size_t d : dsts)
      for (size_t p : ps) r.set(s, d, p, reachable);
}

void applyMatrix(const std::string& portSpec, const std::string& text, const Topology& topo,
                 const std::vector<PortProtocol>& ports, Reachability& r, const std::string& path) {
  auto ps = portsMatching(portSpec, ports, path);
  std::istringstream in(text);
  std::string line;
  std::vector<size_t> columns;
  std::set<size_t> rowsSeen;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::vector<std::string> cells;
    for (std::string w; words >> w;) cells.push_back(w);
    if (cells.empty()) continue;
    if (columns.empty()) {
      if (cells[0] != "-") fail(path, "a matrix starts with a header line '- ns/pod ns/pod ...'");
      std::set<size_t> seen;
      for (size_t i = 1; i < cells.size(); ++i) {
        int idx = topo.indexOf(cells[i]);
        if (idx < 0) fail(path, "matrix column '" + cells[i] + "' is no pod of the topology");
        if (!seen.insert(static_cast<size_t>(idx)).second) fail(path, "matrix column '" + cells[i] + "' twice");
        columns.push_back(static_cast<size_t>(idx));
      }
      if (columns.size() != topo.pods.size()) fail(path, "a matrix needs a column for every pod");
      continue;
    }
    int row = topo.indexOf(cells[0]);
    if (row < 0) fail(path, "matrix row '" + cells[0] + "' is no pod of the topology");
    if (!rowsSeen.insert(static_cast<size_t>(row)).second) fail(path, "matrix row '" + cells[0] + "' twice");
    if (cells.size() != columns.size() + 1) fail(path, "matrix row '" + cells[0] + "' has the wrong number of cells");
    for (size_t c = 0; c < columns.size(); ++c) {
      const std::string& v = cells[c + 1];
      if (v != "." && v != "X") fail(path, "matrix cell '" + v + "' is neither '.' (reachable) nor 'X' (blocked)");
      for (size_t p : ps) r.set(static_cast<size_t>(row), columns[c], p, v == ".");
    }
  }
  if (rowsSeen.size() != topo.pods.size()) fail(path, "a matrix needs a row for every pod");
}

void checkKeys(const YAML::Node& map, std::initializer_list<const char*> allowed, const std::string& path,
               const std::string& where) {
  for (const auto& kv : map) {
    std::string k = kv.first.as<std::string>();
    if (std::find_if(allowed.begin(), allowed.end(), [&](const char* a) { return k == a; }) == allowed.end())
      fail(path, where + ": unknown key '" + k + "'");
  }
}

Reachability parseExpect(const YAML::Node& e, const Topology& topo, const std::vector<PortProtocol>& ports,
                         const std::string& path) {
  if (!e || !e.IsMap()) fail(path, "expect: must be a map (default, rules, matrix)");
  checkKeys(e, {"default", "rules", "matrix"}, path, "expect");
  bool initial = true;
  bool haveDefault = false;
  if (e["default"]) {
    std::string d = scalar(e["default"], path, "expect.default");
    if (d != "reachable" && d != "blocked") fail(path, "expect.default must be 'reachable' or 'blocked'");
    initial = d == "reachable";
    haveDefault = true;
  }
  if (!haveDefault && !(e["matrix"] && e["matrix"]["*"]))
    fail(path, "expect needs a default unless a matrix covers every port ('*')");
  Reachability r(topo.pods.size(), ports.size(), initial);
  if (e["matrix"]) {
    if (!e["matrix"].IsMap()) fail(path, "expect.matrix must map ports to a matrix");
    for (const auto& kv : e["matrix"])
      applyMatrix(kv.first.as<std::string>(), scalar(kv.second, path, "a matrix"), topo, ports, r, path);
  }
  if (e["rules"]) {
    if (!e["rules"].IsSequence()) fail(path, "expect.rules must be a list");
    for (const auto& rule : e["rules"]) {
      if (!rule.IsMap() || rule.size() != 1) fail(path, "each rule is one 'reachable: ...' or 'blocked: ...'");
      std::string verdict = rule.begin()->first.as<std::string>();
      if (verdict != "reachable" && verdict != "blocked")
        fail(path, "rule '" + verdict + "': expected 'reachable' or 'blocked'");
      applyRule(scalar(rule.begin()->second, path, "a rule"), verdict == "reachable", topo, ports, r, path);
    }
  }
  return r;
}

// A Namespace or Pod of the topology, applied by a step: only new labels.
void checkRelabel(const YAML::Node& m, const std::string& key, const std::string& path) {
  std::string kind = m["kind"].as<std::string>();
  if (kind != "Namespace" && kind != "Pod") fail(path, key + " collides with an object of the topology");
  checkKeys(m, {"apiVersion", "kind", "metadata"}, path, key + " (a step may only relabel topology objects)");
  checkKeys(m["metadata"], {"name", "namespace", "labels"}, path, key + ".metadata");
  if (!m["metadata"]["labels"] || !m["metadata"]["labels"].IsMap())
    fail(path, key + ": a relabelled object gives its complete new metadata.labels");
}

}  // namespace

std::string objectKey(const YAML::Node& m, const std::string& path) {
  if (!m.IsMap() || !m["kind"] || !m["metadata"] || !m["metadata"]["name"])
    fail(path, "every manifest needs kind and metadata.name");
  std::string ns = m["metadata"]["namespace"] ? m["metadata"]["namespace"].as<std::string>() : "";
  return m["kind"].as<std::string>() + " " + (ns.empty() ? "" : ns + "/") + m["metadata"]["name"].as<std::string>();
}

std::vector<YAML::Node> stepInput(const Topology& topo, const Step& step) {
  std::vector<YAML::Node> out;
  std::set<std::string> relabelled;
  for (size_t i = 0; i < topo.objects.size(); ++i) {
    auto it = std::find_if(step.manifests.begin(), step.manifests.end(),
                           [&](const YAML::Node& m) { return objectKey(m, topo.path) == topo.keys[i]; });
    if (it == step.manifests.end()) {
      out.push_back(topo.objects[i]);
      continue;
    }
    YAML::Node changed = YAML::Clone(topo.objects[i]);
    changed["metadata"]["labels"] = YAML::Clone((*it)["metadata"]["labels"]);
    out.push_back(changed);
    relabelled.insert(topo.keys[i]);
  }
  for (const auto& m : step.manifests)
    if (!relabelled.count(objectKey(m, topo.path))) out.push_back(m);
  return out;
}

const char* protocolName(Protocol p) {
  switch (p) {
    case Protocol::TCP: return "tcp";
    case Protocol::UDP: return "udp";
    case Protocol::SCTP: return "sctp";
  }
  return "?";
}

std::string PortProtocol::str() const { return std::string(protocolName(protocol)) + "/" + std::to_string(port); }

std::vector<PortProtocol> defaultPorts() {
  return {{Protocol::TCP, 80}, {Protocol::TCP, 81}, {Protocol::UDP, 80},
          {Protocol::UDP, 81}, {Protocol::SCTP, 80}, {Protocol::SCTP, 81}};
}

Topology Topology::load(const std::string& path) {
  Topology t;
  t.path = path;
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAllFromFile(path);
  } catch (const YAML::Exception& e) {
    fail(path, e.what());
  }
  for (const auto& d : docs) {
    if (d.IsNull()) continue;
    t.objects.push_back(d);
    t.keys.push_back(objectKey(d, path));
    if (d["kind"].as<std::string>() != "Pod") continue;
    TopologyPod p;
    p.name = d["metadata"]["name"].as<std::string>();
    p.ns = d["metadata"]["namespace"] ? d["metadata"]["namespace"].as<std::string>() : "default";
    const auto& st = d["status"];
    std::vector<std::string> ips;
    if (st && st["podIPs"])
      for (const auto& ip : st["podIPs"]) ips.push_back(ip["ip"].as<std::string>());
    if (st && st["podIP"]) ips.push_back(st["podIP"].as<std::string>());
    for (const auto& ip : ips) (ip.find(':') == std::string::npos ? p.ipv4 : p.ipv6) = ip;
    if (p.ipv4.empty()) fail(path, "pod " + p.key() + " has no IPv4 address in status");
    t.pods.push_back(p);
  }
  if (t.pods.empty()) fail(path, "no Pod objects");
  return t;
}

int Topology::indexOf(const std::string& key) const {
  for (size_t i = 0; i < pods.size(); ++i)
    if (pods[i].key() == key) return static_cast<int>(i);
  return -1;
}

Case Case::load(const std::string& path, const Topology& topo) {
  Case c;
  c.path = path;
  c.name = fs::path(path).stem().string();
  YAML::Node loaded;
  try {
    loaded = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    fail(path, e.what());
  }
  const YAML::Node& root = loaded;  // const: reading a missing key must not create it
  if (!root.IsMap()) fail(path, "a case is a map");
  checkKeys(root, {"description", "upstream", "family", "ports", "policies", "expect", "steps"}, path, "case");
  if (!root["description"]) fail(path, "every case says what it checks (description)");
  c.description = trim(scalar(root["description"], path, "description"));
  if (root["upstream"]) c.upstream = scalar(root["upstream"], path, "upstream");
  if (root["family"]) {
    std::string f = scalar(root["family"], path, "family");
    if (f == "ipv4") c.family = Family::IPv4;
    else if (f == "ipv6") c.family = Family::IPv6;
    else fail(path, "family must be ipv4 or ipv6");
    if (c.family == Family::IPv6)
      for (const auto& p : topo.pods)
        if (p.ipv6.empty()) fail(path, "family ipv6, but pod " + p.key() + " has no IPv6 address");
  }
  if (root["ports"]) {
    for (const auto& p : root["ports"]) {
      PortProtocol pp = parsePortProtocol(scalar(p, path, "ports[]"), path);
      if (std::find(c.ports.begin(), c.ports.end(), pp) != c.ports.end()) fail(path, "port " + pp.str() + " twice");
      c.ports.push_back(pp);
    }
  } else {
    c.ports = defaultPorts();
  }

  // Shorthand: one step with `policies` and `expect`.
  YAML::Node steps(YAML::NodeType::Sequence);
  if (root["policies"] || root["expect"]) {
    if (root["steps"]) fail(path, "either steps, or policies and expect at the top");
    if (!root["policies"] || !root["expect"]) fail(path, "a one-step case needs policies and expect");
    YAML::Node only;
    only["apply"] = root["policies"];
    only["expect"] = root["expect"];
    steps.push_back(only);
  } else if (root["steps"]) {
    steps = root["steps"];
  }
  if (!steps || !steps.IsSequence() || steps.size() == 0) fail(path, "no steps");

  // key, manifest; first-applied order. A list: a vector's erase moves the
  // later elements down by assignment, and assigning a YAML::Node rewrites
  // the object it refers to (an earlier step's manifest).
  std::list<std::pair<std::string, YAML::Node>> inForce;
  for (size_t i = 0; i < steps.size(); ++i) {
    const YAML::Node& s = steps[i];
    std::string where = path + " (step " + std::to_string(i + 1) + ")";
    if (!s.IsMap()) fail(where, "a step is a map");
    checkKeys(s, {"name", "apply", "remove", "expect"}, where, "step");
    Step step;
    step.name = s["name"] ? scalar(s["name"], where, "name") : "step " + std::to_string(i + 1);
    if (s["apply"]) {
      if (!s["apply"].IsSequence()) fail(where, "apply must be a list of manifests");
      for (const auto& item : s["apply"]) {
        const YAML::Node m = item;
        std::string key = objectKey(m, where);
        if (std::find(topo.keys.begin(), topo.keys.end(), key) != topo.keys.end()) checkRelabel(m, key, where);
        else if (m["kind"].as<std::string>() == "Namespace" || m["kind"].as<std::string>() == "Pod")
          fail(where, key + ": steps may relabel the topology's Namespaces and Pods, not add new ones");
        auto it = std::find_if(inForce.begin(), inForce.end(), [&](const auto& e) { return e.first == key; });
        // An update replaces the object, as kubectl apply does. (Never assign
        // one YAML::Node to another here: nodes are references, and the
        // assignment would rewrite the object earlier steps hold.)
        if (it != inForce.end()) it = inForce.erase(it);
        inForce.emplace(it, key, m);
      }
    }
    if (s["remove"]) {
      for (const auto& r : s["remove"]) {
        std::string key = scalar(r, where, "remove[]");
        auto it = std::find_if(inForce.begin(), inForce.end(), [&](const auto& e) { return e.first == key; });
        if (it == inForce.end()) fail(where, "remove: '" + key + "' is not in force (write it as 'Kind ns/name')");
        inForce.erase(it);
      }
    }
    if (!s["apply"] && !s["remove"]) fail(where, "a step applies or removes something");
    for (const auto& e : inForce) step.manifests.push_back(YAML::Clone(e.second));
    step.expected = parseExpect(s["expect"], topo, c.ports, where);
    c.steps.push_back(std::move(step));
  }
  return c;
}

std::vector<std::string> caseFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".yaml") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> caseFilesOrNone(const std::string& dir) {
  try {
    return caseFiles(dir);
  } catch (const std::exception&) {
    return {};
  }
}

std::string caseTestName(const std::string& path) {
  std::string n = fs::path(path).stem().string();
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

namespace {

// Emits a node so that kubectl (YAML 1.1) reads the types the case files
// mean (YAML 1.2): every string double-quoted, so names like `y` and `n`
// stay strings (YAML 1.1 booleans otherwise); decimal integers, true/false
// and null plain.
void emitForKubectl(YAML::Emitter& e, const YAML::Node& n) {
  if (n.IsMap()) {
    e << YAML::BeginMap;
    for (auto it = n.begin(); it != n.end(); ++it) {
      e << YAML::Key;
      emitForKubectl(e, it->first);
      e << YAML::Value;
      emitForKubectl(e, it->second);
    }
    e << YAML::EndMap;
  } else if (n.IsSequence()) {
    e << YAML::BeginSeq;
    for (const auto& item : n) emitForKubectl(e, item);
    e << YAML::EndSeq;
  } else if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    std::string digits = !s.empty() && s[0] == '-' ? s.substr(1) : s;
    bool integer = !digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos &&
                   (digits == "0" || digits[0] != '0');
    bool typed = n.Tag() == "?" && (integer || s == "true" || s == "false");
    if (typed) e << s;
    else e << YAML::DoubleQuoted << s;
  } else {
    e << YAML::Null;
  }
}

}  // namespace

void writeManifests(const std::string& path, const std::vector<YAML::Node>& manifests) {
  std::ofstream out(path, std::ios::trunc);
  for (const auto& m : manifests) {
    YAML::Emitter e;
    emitForKubectl(e, m);
    out << "---\n" << e.c_str() << "\n";
  }
  if (!out) throw CaseError(path + ": cannot write");
}

std::string renderMatrix(const Topology& topo, const Reachability& expected, size_t port, const Reachability* other,
                         const Reachability* skip) {
  size_t width = 4;
  for (const auto& p : topo.pods) width = std::max(width, p.key().size() + 1);
  auto pad = [&](const std::string& s) { return s + std::string(width - std::min(width, s.size()), ' '); };
  std::ostringstream out;
  out << pad("-");
  for (const auto& p : topo.pods) out << pad(p.key());
  out << "\n";
  for (size_t s = 0; s < topo.pods.size(); ++s) {
    out << pad(topo.pods[s].key());
    for (size_t d = 0; d < topo.pods.size(); ++d) {
      bool want = expected.at(s, d, port);
      std::string cell = want ? "." : "X";
      if (skip && skip->at(s, d, port)) cell = "-";
      else if (other && other->at(s, d, port) != want) cell = want ? "!" : "#";
      out << pad(cell);
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace membrane::conformance
