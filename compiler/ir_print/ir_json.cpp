// See ir_json.h: the IR as JSON and as a readable listing.
#include "ir_print/ir_json.h"

#include "features/registry/registry.h"
#include "ir/protocols.h"

namespace membrane::ir {

using nlohmann::json;

json toJson(const Rule& rule) {
  json peer = json::object();
  if (!rule.peer.selectorBits.empty()) peer["selectorBits"] = rule.peer.selectorBits;
  json entities = json::array();
  if (rule.peer.world) entities.push_back("world");
  if (rule.peer.host) entities.push_back("host");
  if (rule.peer.cluster) entities.push_back("cluster");
  if (rule.peer.all) entities.push_back("all");
  if (!entities.empty()) peer["entities"] = entities;
  if (!rule.peer.cidrs.empty()) {
    json cidrs = json::array();
    for (const auto& c : rule.peer.cidrs) {
      json cj = {{"prefix", c.prefix.str()}};
      if (!c.except.empty()) {
        cj["except"] = json::array();
        for (const auto& e : c.except) cj["except"].push_back(e.str());
      }
      cidrs.push_back(cj);
    }
    peer["cidrs"] = cidrs;
  }
  if (!rule.peer.dnsNames.empty()) peer["dns"] = rule.peer.dnsNames;
  json out = {{"id", rule.id},
              {"action", actionName(rule.action)},
              {"audit", rule.audit},
              {"policy", rule.policy},
              {"peer", peer}};
  features::printJson(rule, out);
  return out;
}

json toJson(const DirectionPolicy& d) {
  json rules = json::array();
  for (const auto& r : d.rules) rules.push_back(toJson(r));
  json out = {{"enforced", d.enforced}, {"audited", d.audited}, {"rules", rules}};
  // The tiers only where a tier policy has rules (the cache key hashes
  // this: classes without tiers keep their keys).
  for (const auto& [name, tier] : {std::pair{"admin", &d.admin}, std::pair{"baseline", &d.baseline}}) {
    if (tier->empty()) continue;
    json list = json::array();
    for (const auto& r : *tier) list.push_back(toJson(r));
    out[name] = std::move(list);
  }
  if (!d.processClauses.empty()) {
    out["processClauses"] = json::array();
    for (const auto& c : d.processClauses)
      out["processClauses"].push_back({{"rule", c.rule}, {"executables", c.executables}});
  }
  return out;
}

json toJson(const Program& p) {
  json j;
  j["selectors"] = json::array();
  for (const auto& s : p.selectors) {
    json sj = static_cast<const labels::PeerCondition&>(s);
    sj["bit"] = s.bit;
    sj["text"] = s.str();
    j["selectors"].push_back(sj);
  }
  j["identities"] = json::array();
  for (const auto& i : p.identities) {
    json ij = {{"id", i.id}, {"namespace", i.ns}, {"labels", i.labels}, {"selectorBits", i.selectorBits}};
    if (!i.ports.empty()) ij["ports"] = i.ports;
    j["identities"].push_back(ij);
  }
  j["endpoints"] = json::array();
  for (const auto& e : p.endpoints) {
    json addrs = json::array();
    for (const auto& a : e.addresses) addrs.push_back(a.str());
    j["endpoints"].push_back({{"name", e.name},
                              {"namespace", e.ns},
                              {"workload", e.workload},
                              {"identity", e.identity},
                              {"addresses", addrs},
                              {"class", e.classIndex ? json(*e.classIndex) : json(nullptr)}});
  }
  j["classes"] = json::array();
  for (const auto& c : p.classes) {
    json cj = {{"id", c.id},
               {"policies", c.policies},
               {"endpoints", c.endpoints},
               {"ingress", toJson(c.ingress)},
               {"egress", toJson(c.egress)}};
    if (!c.ingressNamedPorts.empty()) cj["ingressNamedPorts"] = c.ingressNamedPorts;
    j["classes"].push_back(cj);
  }
  j["rules"] = json::array();
  for (const auto& [id, r] : p.rules) {
    json rj = {{"id", id},
               {"policy", r.policy},
               {"direction", directionName(r.direction)},
               {"action", actionName(r.action)},
               {"audit", r.audit},
               {"text", r.text},
               {"location", r.location}};
    if (r.clause) rj["clause"] = true;
    j["rules"].push_back(std::move(rj));
  }
  return j;
}

}  // namespace membrane::ir

namespace membrane::ir {

static std::string describePeer(const Program& p, const PeerMatch& m) {
  std::vector<std::string> parts;
  if (m.all) parts.push_back("all");
  if (m.world) parts.push_back("world");
  if (m.host) parts.push_back("host");
  if (m.cluster) parts.push_back("cluster");
  for (uint32_t b : m.selectorBits) parts.push_back("#" + std::to_string(b) + " " + p.selectors.at(b).str());
  for (const auto& c : m.cidrs) {
    std::string s = "cidr " + c.prefix.str();
    for (size_t i = 0; i < c.except.size(); ++i) s += (i ? ", " : " except ") + c.except[i].str();
    parts.push_back(s);
  }
  if (!m.dnsNames.empty()) parts.push_back(features::dns::describePeer(m.dnsNames));
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? " | " : "") + parts[i];
  return out;
}

std::string toText(const Program& p) {
  std::string out;
  out += std::to_string(p.selectors.size()) + " peer selectors, " + std::to_string(p.identities.size()) +
         " identities, " + std::to_string(p.endpoints.size()) + " endpoints, " + std::to_string(p.classes.size()) +
         " classes, " + std::to_string(p.rules.size()) + " rules\n";
  for (const auto& s : p.selectors) out += "  selector #" + std::to_string(s.bit) + ": " + s.str() + "\n";
  for (const auto& c : p.classes) {
    out += "\nclass " + std::to_string(c.id) + "\n  endpoints: ";
    for (size_t i = 0; i < c.endpoints.size(); ++i) out += (i ? ", " : "") + c.endpoints[i];
    out += "\n  policies:  ";
    for (size_t i = 0; i < c.policies.size(); ++i) out += (i ? ", " : "") + c.policies[i];
    out += "\n";
    if (!c.ingressNamedPorts.empty()) {
      out += "  named ports: ";
      for (size_t i = 0; i < c.ingressNamedPorts.size(); ++i) {
        const auto& b = c.ingressNamedPorts[i];
        out += (i ? ", " : "") + labels::portProtocolName(b.protocol) + "/" + b.name + " = " +
               (b.port ? std::to_string(*b.port) : "undefined");
      }
      out += "\n";
    }
    for (Direction d : {Direction::Ingress, Direction::Egress}) {
      const auto& dp = c.direction(d);
      out += std::string("  ") + directionName(d) + ": " + (dp.enforced ? "default deny" : !dp.baseline.empty() ? "baseline" : "open") +
             (dp.audited ? " (audited)" : "") + "\n";
      for (const auto& clause : dp.processClauses) {
        out += "    processes [" + std::to_string(clause.rule) + "]:";
        for (size_t i = 0; i < clause.executables.size(); ++i)
          out += (i ? ", " : " ") + clause.executables[i];
        out += "\n";
      }
      auto list = [&](const std::vector<Rule>& rules, const char* tier) {
        for (const auto& r : rules)
          out += "    [" + std::to_string(r.id) + "] " + tier + actionName(r.action) + (r.audit ? " (audit)" : "") +
                 " " + describePeer(p, r.peer) + features::describeConditions(r) + "\n";
      };
      list(dp.admin, "admin ");
      list(dp.rules, "");
      list(dp.baseline, "baseline ");
    }
  }
  std::vector<std::string> open;
  for (const auto& e : p.endpoints)
    if (!e.classIndex) open.push_back(e.key());
  if (!open.empty()) {
    out += "\nunrestricted (no policy selects them): ";
    for (size_t i = 0; i < open.size(); ++i) out += (i ? ", " : "") + open[i];
    out += "\n";
  }
  return out;
}

}  // namespace membrane::ir
