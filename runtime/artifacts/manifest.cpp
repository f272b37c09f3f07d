#include "artifacts/manifest.h"

#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "abi/datapath.h"
#include "artifacts/programs.h"
#include "io/json.h"
#include "labels/names.h"

namespace membrane::artifacts {

using nlohmann::json;

namespace {

json addresses(const std::vector<net::Address>& as) {
  json out = json::array();
  for (const auto& a : as) out.push_back(a.str());
  return out;
}

json direction(const DirectionSummary& d) {
  json out = {{"enforced", d.enforced}, {"audited", d.audited}, {"rules", d.rules}};
  // Only where a tier policy has rules: manifests without tiers stay as they were.
  if (!d.admin.empty()) out["admin"] = d.admin;
  if (!d.baseline.empty()) out["baseline"] = d.baseline;
  return out;
}

// Reading: every accessor names the field it failed on.
struct FieldError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const json& field(const json& j, const std::string& path, const char* key) {
  if (!j.is_object()) throw FieldError(path + ": expected an object");
  auto it = j.find(key);
  if (it == j.end()) throw FieldError(path + ": missing \"" + key + "\"");
  return *it;
}

template <typename T>
struct IsIntegerVector : std::false_type {};
template <typename U>
struct IsIntegerVector<std::vector<U>> : std::bool_constant<std::is_integral_v<U>> {};

// Integers through io::integerIn: a float or a number out of range is the
// wrong type, never converted.
template <typename T>
T get(const json& j, const std::string& path, const char* key) {
  const json& v = field(j, path, key);
  auto wrong = [&] { return FieldError(path + "." + key + ": has the wrong type"); };
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    auto n = io::integerIn<T>(v);
    if (!n) throw wrong();
    return *n;
  } else if constexpr (IsIntegerVector<T>::value) {
    if (!v.is_array()) throw wrong();
    T out;
    for (const auto& x : v) {
      auto n = io::integerIn<typename T::value_type>(x);
      if (!n) throw wrong();
      out.push_back(*n);
    }
    return out;
  } else {
    try {
      return v.get<T>();
    } catch (const json::exception&) {
      throw wrong();
    }
  }
}

const json& array(const json& j, const std::string& path, const char* key) {
  const json& v = field(j, path, key);
  if (!v.is_array()) throw FieldError(path + "." + key + ": expected an array");
  return v;
}

std::vector<net::Address> readAddresses(const json& j, const std::string& path) {
  std::vector<net::Address> out;
  const json& arr = array(j, path, "addresses");
  for (size_t i = 0; i < arr.size(); ++i) {
    std::string where = path + ".addresses[" + std::to_string(i) + "]";
    if (!arr[i].is_string()) throw FieldError(where + ": expected a string");
    auto a = net::Address::parse(arr[i].get<std::string>());
    if (!a) throw FieldError(where + ": not an IP address");
    out.push_back(*a);
  }
  return out;
}

labels::Selector readSelector(const json& j, const std::string& path, const char* key) {
  try {
    return field(j, path, key).get<labels::Selector>();
  } catch (const FieldError&) {
    throw;
  } catch (const std::exception&) {
    throw FieldError(path + "." + key + ": not a valid label selector");
  }
}

// {"name", "protocol", "port"}; "port" may be absent only if !portRequired.
labels::PortNameBinding readPortBinding(const json& j, const std::string& path, bool portRequired) {
  labels::PortNameBinding b;
  b.name = get<std::string>(j, path, "name");
  if (b.name.empty()) throw FieldError(path + ".name: must not be empty");
  auto proto = labels::portProtocolFromName(get<std::string>(j, path, "protocol"));
  if (!proto) throw FieldError(path + ".protocol: expected tcp, udp or sctp");
  b.protocol = *proto;
  if (portRequired || j.contains("port")) {
    uint32_t port = get<uint32_t>(j, path, "port");
    if (port == 0 || port > 65535) throw FieldError(path + ".port: expected 1-65535");
    b.port = static_cast<uint16_t>(port);
  }
  return b;
}

labels::NamedPort readNamedPort(const json& j, const std::string& path) {
  labels::PortNameBinding b = readPortBinding(j, path, true);
  return {b.name, b.protocol, *b.port};
}

DirectionSummary readDirection(const json& j, const std::string& path, const char* key) {
  const json& d = field(j, path, key);
  std::string p = path + "." + key;
  DirectionSummary out{get<bool>(d, p, "enforced"), get<bool>(d, p, "audited"), get<std::vector<uint32_t>>(d, p, "rules"),
                       {}, {}};
  if (d.contains("admin")) out.admin = get<std::vector<uint32_t>>(d, p, "admin");
  if (d.contains("baseline")) out.baseline = get<std::vector<uint32_t>>(d, p, "baseline");
  return out;
}

json spans(const std::vector<PortSpan>& list) {
  json out = json::array();
  for (const auto& s : list) out.push_back({s.first, s.last});
  return out;
}

// [[first, last], ...]: ports 1-65535, first <= last, increasing and disjoint.
std::vector<PortSpan> readSpans(const json& j, const std::string& path, const char* key) {
  const json& arr = array(j, path, key);
  std::vector<PortSpan> out;
  for (size_t i = 0; i < arr.size(); ++i) {
    std::string at = path + "." + key + "[" + std::to_string(i) + "]";
    if (!arr[i].is_array() || arr[i].size() != 2) throw FieldError(at + ": expected [first, last], ports 1-65535");
    const auto first = io::integerIn<uint16_t>(arr[i][0]);
    const auto last = io::integerIn<uint16_t>(arr[i][1]);
    if (!first.has_value() || !last.has_value()) throw FieldError(at + ": expected [first, last], ports 1-65535");
    const uint16_t a = first.value(), b = last.value();
    if (a == 0 || a > b) throw FieldError(at + ": expected 1 <= first <= last");
    if (!out.empty() && a <= out.back().last) throw FieldError(at + ": ranges must be increasing and disjoint");
    out.push_back({a, b});
  }
  return out;
}

L7Ports readL7(const json& j, const std::string& path) {
  const json& l7 = field(j, path, "l7");
  std::string p = path + ".l7";
  const json& http = field(l7, p, "http");
  L7Ports out;
  out.httpIngress = readSpans(http, p + ".http", "ingress");
  out.httpEgress = readSpans(http, p + ".http", "egress");
  if (out.empty()) throw FieldError(p + ": lists no port (leave \"l7\" out instead)");
  return out;
}

// "process": {"executables": [...]}: paths the node may resolve under an
// endpoint's root (labels::executablePathProblem: nothing that climbs out),
// sorted, unique, at most MB_PROCESS_EXE_BITS.
std::vector<std::string> readExecutables(const json& j, const std::string& path) {
  const json& process = field(j, path, "process");
  std::string p = path + ".process";
  std::vector<std::string> out = get<std::vector<std::string>>(process, p, "executables");
  if (out.empty()) throw FieldError(p + ".executables: lists no executable (leave \"process\" out instead)");
  if (out.size() > MB_PROCESS_EXE_BITS)
    throw FieldError(p + ".executables: more than " + std::to_string(MB_PROCESS_EXE_BITS) + " executables");
  for (size_t i = 0; i < out.size(); ++i) {
    std::string at = p + ".executables[" + std::to_string(i) + "]";
    if (std::string why = labels::executablePathProblem(out[i]); !why.empty())
      throw FieldError(at + ": " + json(out[i]).dump() + " " + why);
    if (i && out[i] <= out[i - 1]) throw FieldError(at + ": executables must be sorted and unique");
  }
  return out;
}

}  // namespace

bool CidrEntry::matches(const net::Address& a) const { return net::inPrefixExcept(prefix, except, a); }

bool CidrEntry::matchesRegion(const net::Prefix& p) const { return net::inPrefixExcept(prefix, except, p); }

std::string Manifest::toJson() const {
  json j;
  j["format"] = kFormatName;
  j["formatVersion"] = formatVersion;
  j["abiVersion"] = abiVersion;
  j["compiler"] = {{"name", "membranec"}, {"version", compilerVersion}};
  j["requiredFeatures"] = requiredFeatures;
  j["selectors"] = json::array();
  for (const auto& s : selectors) {
    json sj = static_cast<const labels::PeerCondition&>(s);
    sj["bit"] = s.bit;
    sj["text"] = s.text;
    j["selectors"].push_back(sj);
  }
  j["cidrs"] = json::array();
  for (const auto& c : cidrs) {
    json ex = json::array();
    for (const auto& e : c.except) ex.push_back(e.str());
    j["cidrs"].push_back({{"bit", c.bit}, {"prefix", c.prefix.str()}, {"except", ex}});
  }
  j["identities"] = json::array();
  for (const auto& i : identities) {
    json ij = {{"id", i.id}, {"namespace", i.ns}, {"labels", i.labels}, {"namespaceLabels", i.namespaceLabels}, {"bits", i.bits}};
    if (!i.ports.empty()) ij["ports"] = i.ports;
    j["identities"].push_back(ij);
  }
  if (!peerSets.empty()) j["peerSets"] = peerSets;
  j["endpoints"] = json::array();
  for (const auto& e : endpoints)
    j["endpoints"].push_back({{"name", e.name},
                              {"namespace", e.ns},
                              {"identity", e.identity},
                              {"addresses", addresses(e.addresses)},
                              {"class", e.classId ? json(*e.classId) : json(nullptr)}});
  j["policies"] = json::array();
  for (const auto& p : policies) {
    json pj = {{"key", p.key}, {"namespace", p.ns}, {"clusterwide", p.clusterwide}, {"audit", p.audit}, {"selects", p.selects}};
    if (p.namespaces) pj["namespaces"] = *p.namespaces;
    if (p.tier != Tier::Network) pj["tier"] = tierName(p.tier);
    if (p.tier == Tier::Admin) pj["priority"] = p.priority;
    j["policies"].push_back(std::move(pj));
  }
  j["classes"] = json::array();
  for (const auto& c : classes) {
    json cj = {{"id", c.id},
               {"object", c.object},
               {"sha256", c.sha256},
               {"policies", c.policies},
               {"endpoints", c.endpoints},
               {"ingress", direction(c.ingress)},
               {"egress", direction(c.egress)},
               {"programs", json::array()},
               {"lowering",
                {{"portIntervals", c.portIntervals},
                 {"leafRuleTests", c.leafRuleTests},
                 {"maxLeafRules", c.maxLeafRules},
                 {"foldedCidrs", c.foldedCidrs},
                 {"tableLeaves", c.tableLeaves},
                 {"tableEntries", c.tableEntries},
                 {"verdictColumns", c.verdictColumns}}}};
    for (const auto& prog : c.programs)
      cj["programs"].push_back({{"name", prog.name},
                                {"kind", prog.kind},
                                {"hook", prog.hook},
                                {"direction", prog.direction},
                                {"requiredFeatures", prog.requiredFeatures}});
    if (!c.ingressNamedPorts.empty()) cj["ingressNamedPorts"] = c.ingressNamedPorts;
    if (!c.l7.empty()) cj["l7"] = {{"http", {{"ingress", spans(c.l7.httpIngress)}, {"egress", spans(c.l7.httpEgress)}}}};
    if (!c.executables.empty()) cj["process"] = {{"executables", c.executables}};
    j["classes"].push_back(cj);
  }
  j["rules"] = json::array();
  for (const auto& r : rules)
    j["rules"].push_back({{"id", r.id},
                          {"policy", r.policy},
                          {"direction", r.direction},
                          {"action", r.action},
                          {"audit", r.audit},
                          {"text", r.text},
                          {"location", r.location}});
  return j.dump(2) + "\n";
}

std::optional<Manifest> Manifest::fromJson(const std::string& text, std::string* error) {
  std::string why;
  auto doc = io::parseJsonStrictly(text, &why);
  if (!doc) {
    if (error) *error = "manifest.json:" + why;
    return std::nullopt;
  }
  const json& j = doc->value;
  try {
    Manifest m;
    if (get<std::string>(j, "manifest", "format") != kFormatName)
      throw FieldError(std::string("manifest.format: expected \"") + kFormatName + "\"");
    m.formatVersion = get<int>(j, "manifest", "formatVersion");
    if (m.formatVersion != kFormatVersion)
      throw FieldError("manifest.formatVersion: " + std::to_string(m.formatVersion) + " is not supported (this build reads " +
                       std::to_string(kFormatVersion) + ")");
    m.abiVersion = get<int>(j, "manifest", "abiVersion");
    m.compilerVersion = get<std::string>(field(j, "manifest", "compiler"), "manifest.compiler", "version");
    m.requiredFeatures = get<std::vector<std::string>>(j, "manifest", "requiredFeatures");

    const json& sels = array(j, "manifest", "selectors");
    for (size_t i = 0; i < sels.size(); ++i) {
      std::string p = "manifest.selectors[" + std::to_string(i) + "]";
      SelectorEntry s;
      s.bit = get<uint32_t>(sels[i], p, "bit");
      if (s.bit != i) throw FieldError(p + ".bit: expected " + std::to_string(i));
      s.pods = readSelector(sels[i], p, "pods");
      std::string scope = get<std::string>(sels[i], p, "namespaceScope");
      if (scope == "exact") {
        s.scope = NamespaceScope::Exact;
        s.ns = get<std::string>(sels[i], p, "namespace");
      } else if (scope == "selector") {
        s.scope = NamespaceScope::Selector;
        s.namespaces = readSelector(sels[i], p, "namespaces");
      } else if (scope == "any") {
        s.scope = NamespaceScope::Any;
      } else {
        throw FieldError(p + ".namespaceScope: unknown scope \"" + scope + "\"");
      }
      if (sels[i].contains("definesPort")) {
        s.definesPort = readNamedPort(field(sels[i], p, "definesPort"), p + ".definesPort");
        if (std::find(m.requiredFeatures.begin(), m.requiredFeatures.end(), kNamedPortPeersFeature) ==
            m.requiredFeatures.end())
          throw FieldError(p + ".definesPort: requiredFeatures must list \"" + kNamedPortPeersFeature + "\"");
      }
      s.text = get<std::string>(sels[i], p, "text");
      m.selectors.push_back(std::move(s));
    }
    const json& cidrs = array(j, "manifest", "cidrs");
    for (size_t i = 0; i < cidrs.size(); ++i) {
      std::string p = "manifest.cidrs[" + std::to_string(i) + "]";
      CidrEntry c;
      c.bit = get<uint32_t>(cidrs[i], p, "bit");
      if (c.bit != m.selectors.size() + i) throw FieldError(p + ".bit: expected " + std::to_string(m.selectors.size() + i));
      auto prefix = net::Prefix::parse(get<std::string>(cidrs[i], p, "prefix"));
      if (!prefix) throw FieldError(p + ".prefix: not a canonical CIDR");
      c.prefix = *prefix;
      for (const auto& e : get<std::vector<std::string>>(cidrs[i], p, "except")) {
        auto ep = net::Prefix::parse(e);
        if (!ep || !c.prefix.contains(*ep)) throw FieldError(p + ".except: '" + e + "' is not a CIDR inside the prefix");
        c.except.push_back(*ep);
      }
      m.cidrs.push_back(std::move(c));
    }
    const json& ids = array(j, "manifest", "identities");
    for (size_t i = 0; i < ids.size(); ++i) {
      std::string p = "manifest.identities[" + std::to_string(i) + "]";
      IdentityEntry e;
      e.id = get<uint32_t>(ids[i], p, "id");
      e.ns = get<std::string>(ids[i], p, "namespace");
      e.labels = get<labels::LabelSet>(ids[i], p, "labels");
      e.namespaceLabels = get<labels::LabelSet>(ids[i], p, "namespaceLabels");
      if (ids[i].contains("ports")) {
        const json& ports = array(ids[i], p, "ports");
        for (size_t k = 0; k < ports.size(); ++k)
          e.ports.push_back(readNamedPort(ports[k], p + ".ports[" + std::to_string(k) + "]"));
      }
      e.bits = get<std::vector<uint32_t>>(ids[i], p, "bits");
      for (uint32_t b : e.bits)
        if (b >= m.selectors.size()) throw FieldError(p + ".bits: bit " + std::to_string(b) + " has no selector");
      m.identities.push_back(std::move(e));
    }
    if (j.contains("peerSets")) {
      m.peerSets = get<std::vector<std::string>>(j, "manifest", "peerSets");
      std::set<std::string> seen;
      for (size_t i = 0; i < m.peerSets.size(); ++i) {
        const std::string& k = m.peerSets[i];
        std::string p = "manifest.peerSets[" + std::to_string(i) + "]";
        if (k.size() != 64 || k.find_first_not_of("0123456789abcdef") != std::string::npos)
          throw FieldError(p + ": expected 64 lowercase hex digits");
        if (!seen.insert(k).second) throw FieldError(p + ": listed twice");
      }
    }
    const json& classes = array(j, "manifest", "classes");
    for (size_t i = 0; i < classes.size(); ++i) {
      std::string p = "manifest.classes[" + std::to_string(i) + "]";
      ClassEntry c;
      c.id = get<uint32_t>(classes[i], p, "id");
      c.object = get<std::string>(classes[i], p, "object");
      if (c.object.empty() || c.object.find('/') != std::string::npos || c.object[0] == '.')
        throw FieldError(p + ".object: must be a plain file name next to the manifest");
      c.sha256 = get<std::string>(classes[i], p, "sha256");
      if (c.sha256.size() != 64 || c.sha256.find_first_not_of("0123456789abcdef") != std::string::npos)
        throw FieldError(p + ".sha256: expected 64 lowercase hex digits");
      c.policies = get<std::vector<std::string>>(classes[i], p, "policies");
      c.endpoints = get<std::vector<std::string>>(classes[i], p, "endpoints");
      if (classes[i].contains("ingressNamedPorts")) {
        const json& names = array(classes[i], p, "ingressNamedPorts");
        for (size_t k = 0; k < names.size(); ++k) {
          std::string at = p + ".ingressNamedPorts[" + std::to_string(k) + "]";
          c.ingressNamedPorts.push_back(readPortBinding(names[k], at, false));
        }
      }
      if (classes[i].contains("l7")) c.l7 = readL7(classes[i], p);
      if (classes[i].contains("process")) c.executables = readExecutables(classes[i], p);
      c.ingress = readDirection(classes[i], p, "ingress");
      c.egress = readDirection(classes[i], p, "egress");
      const json& progs = array(classes[i], p, "programs");
      for (size_t k = 0; k < progs.size(); ++k) {
        std::string at = p + ".programs[" + std::to_string(k) + "]";
        ProgramEntry prog;
        prog.name = get<std::string>(progs[k], at, "name");
        prog.kind = get<std::string>(progs[k], at, "kind");
        prog.hook = get<std::string>(progs[k], at, "hook");
        prog.direction = get<std::string>(progs[k], at, "direction");
        prog.requiredFeatures = get<std::vector<std::string>>(progs[k], at, "requiredFeatures");
        c.programs.push_back(std::move(prog));
      }
      if (auto it = classes[i].find("lowering"); it != classes[i].end() && it->is_object()) {
        auto count = [&](const char* key) { return it->contains(key) ? get<uint64_t>(*it, p + ".lowering", key) : 0; };
        c.portIntervals = count("portIntervals");
        c.leafRuleTests = count("leafRuleTests");
        c.maxLeafRules = count("maxLeafRules");
        c.foldedCidrs = count("foldedCidrs");
        c.tableLeaves = count("tableLeaves");
        c.tableEntries = count("tableEntries");
        c.verdictColumns = count("verdictColumns");
      }
      m.classes.push_back(std::move(c));
    }
    const json& eps = array(j, "manifest", "endpoints");
    for (size_t i = 0; i < eps.size(); ++i) {
      std::string p = "manifest.endpoints[" + std::to_string(i) + "]";
      EndpointEntry e;
      e.name = get<std::string>(eps[i], p, "name");
      e.ns = get<std::string>(eps[i], p, "namespace");
      e.identity = get<uint32_t>(eps[i], p, "identity");
      e.addresses = readAddresses(eps[i], p);
      const json& cls = field(eps[i], p, "class");
      if (!cls.is_null()) {
        e.classId = get<uint32_t>(eps[i], p, "class");
        if (!m.findClass(*e.classId)) throw FieldError(p + ".class: no class " + std::to_string(*e.classId));
      }
      m.endpoints.push_back(std::move(e));
    }
    const json& pols = array(j, "manifest", "policies");
    for (size_t i = 0; i < pols.size(); ++i) {
      std::string p = "manifest.policies[" + std::to_string(i) + "]";
      PolicyEntry e;
      e.key = get<std::string>(pols[i], p, "key");
      e.ns = get<std::string>(pols[i], p, "namespace");
      e.clusterwide = get<bool>(pols[i], p, "clusterwide");
      e.audit = get<bool>(pols[i], p, "audit");
      e.selects = readSelector(pols[i], p, "selects");
      if (pols[i].contains("namespaces")) {
        if (!e.clusterwide) throw FieldError(p + ".namespaces: only a clusterwide policy selects by namespace labels");
        e.namespaces = readSelector(pols[i], p, "namespaces");
      }
      if (pols[i].contains("tier")) {
        std::string tier = get<std::string>(pols[i], p, "tier");
        if (tier == tierName(Tier::Admin)) e.tier = Tier::Admin;
        else if (tier == tierName(Tier::Baseline)) e.tier = Tier::Baseline;
        else throw FieldError(p + ".tier: expected \"admin\" or \"baseline\" (absent for ordinary policies)");
        if (!e.clusterwide) throw FieldError(p + ".tier: only a clusterwide policy has a tier");
        if (e.audit) throw FieldError(p + ".tier: a tier policy is never in audit mode");
      }
      if (pols[i].contains("priority")) {
        if (e.tier != Tier::Admin) throw FieldError(p + ".priority: only an admin-tier policy has a priority");
        e.priority = get<uint32_t>(pols[i], p, "priority");
      }
      m.policies.push_back(std::move(e));
    }
    const json& rules = array(j, "manifest", "rules");
    for (size_t i = 0; i < rules.size(); ++i) {
      std::string p = "manifest.rules[" + std::to_string(i) + "]";
      RuleEntry r;
      r.id = get<uint32_t>(rules[i], p, "id");
      r.policy = get<std::string>(rules[i], p, "policy");
      r.direction = get<std::string>(rules[i], p, "direction");
      r.action = get<std::string>(rules[i], p, "action");
      r.audit = get<bool>(rules[i], p, "audit");
      r.text = get<std::string>(rules[i], p, "text");
      r.location = get<std::string>(rules[i], p, "location");
      m.rules.push_back(std::move(r));
    }
    if (!m.check(error)) return std::nullopt;
    return m;
  } catch (const FieldError& e) {
    if (error) *error = e.what();
    return std::nullopt;
  }
}

namespace {
std::vector<ProgramEntry> entriesOf(const std::vector<SkeletonProgram>& programs) {
  std::vector<ProgramEntry> out;
  for (const auto& prog : programs) {
    const HookSpec* hook = findHook(prog.hook);
    out.push_back({prog.name, hook->kind, hook->name, hook->direction, kindFeatures(hook->kind)});
  }
  return out;
}
}  // namespace

std::vector<ProgramEntry> skeletonProgramEntries() { return entriesOf(skeletonPrograms()); }
std::vector<ProgramEntry> processProgramEntries() { return entriesOf(processPrograms()); }

const ClassEntry* Manifest::findClass(uint32_t id) const {
  for (const auto& c : classes)
    if (c.id == id) return &c;
  return nullptr;
}

const IdentityEntry* Manifest::findIdentity(uint32_t id) const {
  for (const auto& i : identities)
    if (i.id == id) return &i;
  return nullptr;
}

const char* tierName(Tier t) {
  switch (t) {
    case Tier::Admin: return "admin";
    case Tier::Network: return "network";
    case Tier::Baseline: return "baseline";
  }
  return "";
}

bool PolicyEntry::selectsEndpoint(const std::string& endpointNs, const labels::LabelSet& endpointLabels,
                                  const labels::LabelSet& namespaceLabels) const {
  if (!clusterwide && ns != endpointNs) return false;
  if (namespaces && !namespaces->matches(namespaceLabels)) return false;
  return selects.matches(endpointLabels);
}

labels::LabelSet Manifest::namespaceLabels(const std::string& ns) const {
  for (const auto& i : identities)
    if (i.ns == ns) return i.namespaceLabels;
  return {{labels::kNamespaceNameLabel, ns}};
}

std::vector<std::string> Manifest::selectingPolicies(const std::string& ns, const labels::LabelSet& labelSet,
                                                     const labels::LabelSet& namespaceLabels) const {
  std::vector<std::string> keys;
  for (const auto& p : policies)
    if (p.selectsEndpoint(ns, labelSet, namespaceLabels)) keys.push_back(p.key);
  std::sort(keys.begin(), keys.end());
  return keys;
}

namespace {

std::string listText(const std::vector<std::string>& xs) {
  std::string out;
  for (const auto& x : xs) out += (out.empty() ? "" : ", ") + x;
  return "{" + out + "}";
}

std::string jsonString(const std::string& s) { return json(s).dump(); }

// A C identifier: what a BPF program's name is.
bool isIdentifier(const std::string& s) {
  if (s.empty() || s.size() > 128 || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
  });
}

// A class's programs: at least one; each a named program of a known kind at
// a known hook of that kind and its direction, listing the kind's features;
// no program and no hook twice. Kinds and hooks are the manifest format's
// (programs.h): a node must not guess where a program it does not know runs.
void checkPrograms(const ClassEntry& c, const std::string& p) {
  if (c.programs.empty()) throw FieldError(p + ".programs: empty, but every class object runs at some hook");
  std::set<std::string> names, hooks;
  for (size_t k = 0; k < c.programs.size(); ++k) {
    const ProgramEntry& prog = c.programs[k];
    std::string at = p + ".programs[" + std::to_string(k) + "]";
    if (!isIdentifier(prog.name)) throw FieldError(at + ".name: " + jsonString(prog.name) + " is not a program name");
    if (!names.insert(prog.name).second) throw FieldError(at + ".name: " + prog.name + " is listed twice");
    if (!isProgramKind(prog.kind)) throw FieldError(at + ".kind: unknown program kind " + jsonString(prog.kind));
    const HookSpec* hook = findHook(prog.hook);
    if (!hook) throw FieldError(at + ".hook: unknown hook " + jsonString(prog.hook));
    if (prog.kind != hook->kind)
      throw FieldError(at + ".hook: " + prog.hook + " runs " + hook->kind + " programs, not " + prog.kind);
    if (prog.direction != "ingress" && prog.direction != "egress")
      throw FieldError(at + ".direction: expected \"ingress\" or \"egress\"");
    if (prog.direction != hook->direction)
      throw FieldError(at + ".direction: " + prog.hook + " guards the endpoint's " + hook->direction);
    if (!hooks.insert(prog.hook).second) throw FieldError(at + ".hook: " + prog.hook + " has another program already");
    for (const auto& f : kindFeatures(prog.kind))
      if (std::find(prog.requiredFeatures.begin(), prog.requiredFeatures.end(), f) == prog.requiredFeatures.end())
        throw FieldError(at + ".requiredFeatures: a " + prog.kind + " program needs " + jsonString(f));
  }
}

// The checks of Manifest::check, each throwing a FieldError named by path.
void checkManifest(const Manifest& m) {
  auto at = [](const char* list, size_t i) { return std::string("manifest.") + list + "[" + std::to_string(i) + "]"; };

  // Policies: unique keys, "namespace/name" or a clusterwide name.
  std::map<std::string, const PolicyEntry*> policyByKey;
  for (size_t i = 0; i < m.policies.size(); ++i) {
    const PolicyEntry& p = m.policies[i];
    if (!policyByKey.emplace(p.key, &p).second)
      throw FieldError(at("policies", i) + ".key: " + jsonString(p.key) + " is listed twice");
    if (p.clusterwide != p.ns.empty())
      throw FieldError(at("policies", i) + ".namespace: " +
                       (p.clusterwide ? "a clusterwide policy has no namespace" : "required unless clusterwide"));
    bool shaped = p.clusterwide ? p.key.find('/') == std::string::npos && !p.key.empty()
                                : p.key.size() > p.ns.size() + 1 && p.key.compare(0, p.ns.size() + 1, p.ns + "/") == 0;
    if (!shaped)
      throw FieldError(at("policies", i) + ".key: " + jsonString(p.key) + " is not " +
                       (p.clusterwide ? "a clusterwide policy's name" : "\"" + p.ns + "/<name>\""));
  }

  // Rules: unique ids that fit the counters, of a listed policy.
  std::map<uint32_t, const RuleEntry*> ruleById;
  for (size_t i = 0; i < m.rules.size(); ++i) {
    const RuleEntry& r = m.rules[i];
    std::string p = at("rules", i);
    if (r.id == 0 || r.id >= MB_RULE_MAX)
      throw FieldError(p + ".id: " + std::to_string(r.id) + " is not a rule id (1-" + std::to_string(MB_RULE_MAX - 1) +
                       ")");
    if (!ruleById.emplace(r.id, &r).second) throw FieldError(p + ".id: rule " + std::to_string(r.id) + " is listed twice");
    auto pol = policyByKey.find(r.policy);
    if (pol == policyByKey.end())
      throw FieldError(p + ".policy: no policy " + jsonString(r.policy) + " in manifest.policies");
    if (r.direction != "ingress" && r.direction != "egress")
      throw FieldError(p + ".direction: expected \"ingress\" or \"egress\"");
    if (r.action == "pass") {
      if (pol->second->tier != Tier::Admin)
        throw FieldError(p + ".action: \"pass\" is an admin-tier action, and policy " + r.policy + " is not one");
    } else if (r.action != "allow" && r.action != "deny") {
      throw FieldError(p + ".action: expected \"allow\", \"deny\" or \"pass\"");
    }
    if (r.audit != pol->second->audit)
      throw FieldError(p + ".audit: policy " + r.policy + (pol->second->audit ? " is" : " is not") + " in audit mode");
  }

  // Identities: unique, numbered from 256, with the bits their labels give.
  std::map<uint32_t, const IdentityEntry*> identityById;
  for (size_t i = 0; i < m.identities.size(); ++i) {
    const IdentityEntry& e = m.identities[i];
    std::string p = at("identities", i);
    if (e.id < 256) throw FieldError(p + ".id: " + std::to_string(e.id) + " is reserved (identities start at 256)");
    if (!identityById.emplace(e.id, &e).second)
      throw FieldError(p + ".id: identity " + std::to_string(e.id) + " is listed twice");
    auto nsName = e.namespaceLabels.find("kubernetes.io/metadata.name");
    if (nsName == e.namespaceLabels.end() || nsName->second != e.ns)
      throw FieldError(p + ".namespaceLabels: must hold kubernetes.io/metadata.name = " + jsonString(e.ns));
    if (m.bitsFor(e.ns, e.labels, e.namespaceLabels, e.ports) != e.bits)
      throw FieldError(p + ".bits: not the selectors its namespace, labels and ports match");
  }

  // Classes: unique ids and objects, sorted known policies, rules of those
  // policies in that direction, in verdict order, once.
  std::set<uint32_t> classIds;
  std::set<std::string> objects;
  const ClassEntry* openClass = nullptr;
  for (size_t i = 0; i < m.classes.size(); ++i) {
    const ClassEntry& c = m.classes[i];
    std::string p = at("classes", i);
    if (!classIds.insert(c.id).second) throw FieldError(p + ".id: class " + std::to_string(c.id) + " is listed twice");
    if (!objects.insert(c.object).second) throw FieldError(p + ".object: " + c.object + " is another class's object too");
    checkPrograms(c, p);
    // The open class (no policies) runs on endpoints no policy selects: it
    // checks source addresses and allows everything else, so it has no
    // rules and enforces nothing. There is one.
    if (c.policies.empty()) {
      if (openClass)
        throw FieldError(p + ".policies: empty, but class " + std::to_string(openClass->id) +
                         " is the open class already");
      if (!c.ingress.rules.empty() || !c.egress.rules.empty() || c.ingress.enforced || c.egress.enforced ||
          c.ingress.audited || c.egress.audited || !c.ingress.admin.empty() || !c.egress.admin.empty() ||
          !c.ingress.baseline.empty() || !c.egress.baseline.empty())
        throw FieldError(p + ": the open class (no policies) has no rules and enforces nothing");
      openClass = &c;
    }
    for (size_t k = 0; k < c.policies.size(); ++k) {
      if (!policyByKey.count(c.policies[k]))
        throw FieldError(p + ".policies[" + std::to_string(k) + "]: no policy " + jsonString(c.policies[k]) +
                         " in manifest.policies");
      if (k > 0 && !(c.policies[k - 1] < c.policies[k]))
        throw FieldError(p + ".policies: not sorted, or a policy listed twice");
    }
    for (size_t k = 1; k < c.ingressNamedPorts.size(); ++k) {
      const auto& a = c.ingressNamedPorts[k - 1];
      const auto& b = c.ingressNamedPorts[k];
      if (!(std::tie(a.protocol, a.name) < std::tie(b.protocol, b.name)))
        throw FieldError(p + ".ingressNamedPorts: not sorted by protocol and name, or a name listed twice");
    }
    bool unboundIngressName = std::any_of(c.ingressNamedPorts.begin(), c.ingressNamedPorts.end(),
                                          [](const labels::PortNameBinding& b) { return !b.port; });
    for (const std::string dir : {"ingress", "egress"}) {
      const DirectionSummary& d = dir == "ingress" ? c.ingress : c.egress;
      std::string dp = p + "." + dir;
      std::set<uint32_t> listed;
      // Each list holds rules of its tier's policies in verdict order:
      // admin by (priority, policy), ordinary denies then allows (each group
      // by policy), baseline by policy; within a policy as written, which
      // ids cannot show.
      auto checkList = [&](const std::vector<uint32_t>& ids, Tier tier, const char* list) {
        for (size_t k = 0; k < ids.size(); ++k) {
          std::string rp = dp + "." + list + "[" + std::to_string(k) + "]";
          auto r = ruleById.find(ids[k]);
          if (r == ruleById.end())
            throw FieldError(rp + ": rule " + std::to_string(ids[k]) + " is not in manifest.rules");
          const RuleEntry& rule = *r->second;
          if (rule.direction != dir)
            throw FieldError(rp + ": rule " + std::to_string(rule.id) + " is an " + rule.direction + " rule");
          if (!std::binary_search(c.policies.begin(), c.policies.end(), rule.policy))
            throw FieldError(rp + ": rule " + std::to_string(rule.id) + " belongs to " + rule.policy +
                             ", which is not among the class's policies");
          const PolicyEntry& pol = *policyByKey.at(rule.policy);
          if (pol.tier != tier)
            throw FieldError(rp + ": rule " + std::to_string(rule.id) + " belongs to " + rule.policy + ", of the " +
                             tierName(pol.tier) + " tier, not the " + tierName(tier) + " tier");
          if (tier == Tier::Network && !(rule.audit ? d.audited : d.enforced))
            throw FieldError(dp + (rule.audit ? ".audited" : ".enforced") + ": false, but the class has rule " +
                             std::to_string(rule.id) + " of " + rule.policy);
          if (k > 0) {
            const RuleEntry& prev = *ruleById.at(ids[k - 1]);
            const PolicyEntry& prevPol = *policyByKey.at(prev.policy);
            bool ordered = tier == Tier::Network && prev.action != rule.action
                               ? prev.action == "deny"
                               : std::tie(prevPol.priority, prev.policy) <= std::tie(pol.priority, rule.policy);
            if (!ordered)
              throw FieldError(rp + ": not in verdict order (" +
                               (tier == Tier::Admin      ? "by priority, then policy"
                                : tier == Tier::Network ? "denies, then allows, each group by policy"
                                                        : "by policy") +
                               ")");
          }
          if (!listed.insert(rule.id).second)
            throw FieldError(rp + ": rule " + std::to_string(rule.id) + " is listed twice");
        }
      };
      checkList(d.admin, Tier::Admin, "admin");
      checkList(d.rules, Tier::Network, "rules");
      checkList(d.baseline, Tier::Baseline, "baseline");
      // A rule of the class's policies is left out only where it matches
      // nothing: an ingress rule on named ports the class's endpoints do not
      // define, or an egress rule on named ports no destination defines,
      // which every class of the policy then leaves out.
      for (const auto& [id, rule] : ruleById) {
        if (rule->direction != dir || listed.count(id) ||
            !std::binary_search(c.policies.begin(), c.policies.end(), rule->policy))
          continue;
        if (dir == "ingress" && unboundIngressName) continue;
        auto listsIt = [id = id](const DirectionSummary& s) {
          for (const auto* ids : {&s.admin, &s.rules, &s.baseline})
            if (std::find(ids->begin(), ids->end(), id) != ids->end()) return true;
          return false;
        };
        if (dir == "egress" && std::none_of(m.classes.begin(), m.classes.end(),
                                            [&](const ClassEntry& other) { return listsIt(other.egress); }))
          continue;
        throw FieldError(dp + ".rules: rule " + std::to_string(id) + " of " + rule->policy + " is missing");
      }
    }
  }

  // Endpoints: unique names and addresses, a known identity in their
  // namespace, and the class for exactly the policies that select them.
  std::map<std::string, const EndpointEntry*> endpointByKey;
  std::map<net::Address, std::string> addressOwner;
  for (size_t i = 0; i < m.endpoints.size(); ++i) {
    const EndpointEntry& e = m.endpoints[i];
    std::string p = at("endpoints", i);
    std::string key = e.ns + "/" + e.name;
    if (e.name.empty() || e.ns.empty()) throw FieldError(p + ": name and namespace must not be empty");
    if (!endpointByKey.emplace(key, &e).second) throw FieldError(p + ": endpoint " + key + " is listed twice");
    for (size_t k = 0; k < e.addresses.size(); ++k) {
      auto [owner, fresh] = addressOwner.emplace(e.addresses[k], key);
      if (!fresh)
        throw FieldError(p + ".addresses[" + std::to_string(k) + "]: " + e.addresses[k].str() + " is also " +
                         (owner->second == key ? "listed earlier" : "the address of " + owner->second));
    }
    auto id = identityById.find(e.identity);
    if (id == identityById.end()) throw FieldError(p + ".identity: no identity " + std::to_string(e.identity));
    if (id->second->ns != e.ns)
      throw FieldError(p + ".identity: identity " + std::to_string(e.identity) + " is of namespace " + id->second->ns);
    std::vector<std::string> selecting = m.selectingPolicies(e.ns, id->second->labels, id->second->namespaceLabels);
    if (!e.classId)
      throw FieldError(p + ".class: null, but every endpoint runs a class (" +
                       (selecting.empty() ? "the open class, as no policy selects it)" : listText(selecting) + " select it)"));
    const ClassEntry* c = m.findClass(*e.classId);
    if (!c) throw FieldError(p + ".class: no class " + std::to_string(*e.classId));
    if (c->policies != selecting)
      throw FieldError(p + ".class: class " + std::to_string(c->id) + " is for " + listText(c->policies) + ", but " +
                       listText(selecting) + " select " + key);
    if (std::find(c->endpoints.begin(), c->endpoints.end(), key) == c->endpoints.end())
      throw FieldError(p + ".class: class " + std::to_string(c->id) + " does not list " + key);
  }
  for (size_t i = 0; i < m.classes.size(); ++i) {
    const ClassEntry& c = m.classes[i];
    std::set<std::string> seen;
    for (size_t k = 0; k < c.endpoints.size(); ++k) {
      std::string p = at("classes", i) + ".endpoints[" + std::to_string(k) + "]";
      if (!seen.insert(c.endpoints[k]).second) throw FieldError(p + ": " + c.endpoints[k] + " is listed twice");
      auto e = endpointByKey.find(c.endpoints[k]);
      if (e == endpointByKey.end())
        throw FieldError(p + ": no endpoint " + jsonString(c.endpoints[k]) + " in manifest.endpoints");
      if (e->second->classId != c.id)
        throw FieldError(p + ": " + c.endpoints[k] + " runs " +
                         (e->second->classId ? "class " + std::to_string(*e->second->classId) : "no class"));
    }
  }
}

}  // namespace

bool Manifest::check(std::string* error) const {
  try {
    checkManifest(*this);
    return true;
  } catch (const FieldError& e) {
    if (error) *error = e.what();
    return false;
  }
}

std::vector<std::string> Manifest::allRequiredFeatures() const {
  std::vector<std::string> all;
  auto add = [&](const std::string& f) {
    if (std::find(all.begin(), all.end(), f) == all.end()) all.push_back(f);
  };
  for (const auto& f : requiredFeatures) add(f);
  for (const auto& c : classes)
    for (const auto& prog : c.programs)
      for (const auto& f : prog.requiredFeatures) add(f);
  return all;
}

std::vector<uint32_t> Manifest::bitsFor(const std::string& ns, const labels::LabelSet& labelSet,
                                        const labels::LabelSet& namespaceLabels,
                                        const std::vector<labels::NamedPort>& ports) const {
  std::vector<uint32_t> bits;
  for (const auto& s : selectors)
    if (s.matches(ns, labelSet, namespaceLabels, ports)) bits.push_back(s.bit);
  return bits;
}

std::string sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

}  // namespace membrane::artifacts
