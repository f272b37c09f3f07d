#include "analysis/reach.h"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "analysis/address_space.h"
#include "analysis/traffic_space.h"
#include "features/http/http.h"
#include "evaluator/evaluator.h"

namespace membrane::analysis {

namespace {

using ir::PortRange;

// Calls fn(rule) for every rule of every class of every program.
template <typename Fn>
void forEachRule(const std::vector<const ir::Program*>& programs, Fn fn) {
  for (const auto* program : programs)
    for (const auto& cls : program->classes)
      for (const auto* dp : {&cls.ingress, &cls.egress}) dp->forEachRule(fn);
}

Atoms buildAtoms(const std::vector<const ir::Program*>& programs) {
  std::vector<const ir::Rule*> rules;
  forEachRule(programs, [&](const ir::Rule& rule) { rules.push_back(&rule); });
  return partitionTraffic(rules, 1);  // port 0 is no connection anyone makes
}

Conns connsOf(const Atoms& a, const std::vector<bool>& allowed) {
  Conns c;
  if (std::all_of(allowed.begin(), allowed.end(), [](bool b) { return b; })) {
    c.all = true;
    return c;
  }
  for (size_t s = 0; s < a.spaces.size(); ++s) {
    Conns::Protocol p{a.spaces[s].name, a.spaces[s].hasPorts, {}};
    bool any = false;
    bool prevAllowed = false;
    for (size_t i = 0; i < a.atoms.size(); ++i) {
      if (a.atoms[i].space != s) continue;
      if (allowed[i]) {
        if (prevAllowed && !p.ports.empty())
          p.ports.back().last = a.atoms[i].last;
        else
          p.ports.push_back({a.atoms[i].first, a.atoms[i].last});
        any = true;
      }
      prevAllowed = allowed[i];
    }
    if (!any) continue;
    if (!p.hasPorts) p.ports.clear();
    c.protocols.push_back(std::move(p));
  }
  return c;
}

// ---- addresses ---------------------------------------------------------------------

using Ranges = AddressRanges;

Ranges buildRanges(const std::vector<const ir::Program*>& programs, net::Family family) {
  std::vector<net::Prefix> cuts;
  forEachRule(programs, [&](const ir::Rule& rule) {
    for (const auto& c : rule.peer.cidrs) {
      cuts.push_back(c.prefix);
      cuts.insert(cuts.end(), c.except.begin(), c.except.end());
    }
  });
  return partitionAddresses(family, cuts);
}

// ---- evaluation ----------------------------------------------------------------------

// One side of a probed connection.
using End = ir::FlowEnd;

// Verdicts of one program, cached by what they can depend on.
class Evaluator {
 public:
  Evaluator(const ir::Program& program, const Atoms& atoms, const Ranges& v4, const Ranges& v6)
      : program_(program), atoms_(atoms), v4_(v4), v6_(v6) {}

  // Allowed atoms from `src` to `dst`.
  const std::vector<bool>& verdicts(const End& src, const End& dst) {
    Key key{};
    describe(src, key.data());
    describe(dst, key.data() + 6);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    std::vector<bool> v(atoms_.atoms.size());
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = flowVerdict(src, dst, {atoms_.atoms[i].protocol, atoms_.atoms[i].first}).allowed();
    return cache_.emplace(key, std::move(v)).first->second;
  }

  // Both verdicts of one probe.
  ir::FlowVerdict flowVerdict(const End& src, const End& dst, const ir::Traffic& t) const {
    return ir::evaluateFlow(program_, src, dst, t);
  }

 private:
  using Key = std::array<int64_t, 12>;
  const ir::Program& program_;
  const Atoms& atoms_;
  const Ranges& v4_;
  const Ranges& v6_;
  std::map<Key, std::vector<bool>> cache_;
  mutable std::map<std::vector<std::string>, int64_t> learnedIds_;

  // What a verdict can depend on: the kind of peer, its identity and class,
  // and which range its address is in (every CIDR matches a range whole).
  void describe(const End& e, int64_t* k) const {
    k[0] = e.host ? 1 : e.endpoint ? 0 : 2;
    k[1] = e.endpoint ? e.endpoint->identity : 0;
    k[2] = e.endpoint && e.endpoint->classIndex ? *e.endpoint->classIndex + 1 : 0;
    k[3] = e.address ? static_cast<int64_t>(e.address->family) : 0;
    k[4] = !e.address ? -1
           : e.address->family == net::Family::V4 ? static_cast<int64_t>(v4_.indexOf(*e.address))
                                                   : static_cast<int64_t>(v6_.indexOf(*e.address));
    k[5] = learnedIds_.emplace(e.learnedNames, static_cast<int64_t>(learnedIds_.size())).first->second;
  }
};

void intersect(std::vector<bool>& acc, const std::vector<bool>& v) {
  for (size_t i = 0; i < acc.size(); ++i) acc[i] = acc[i] && v[i];
}
bool none(const std::vector<bool>& v) { return std::none_of(v.begin(), v.end(), [](bool b) { return b; }); }

std::optional<net::Address> firstAddress(const ir::Endpoint& e) {
  if (e.addresses.empty()) return std::nullopt;
  return e.addresses.front();
}

using Members = std::vector<const ir::Endpoint*>;

// Calls visit(src, dst) for every probe that stands for a peer pair: each
// member endpoint pair over each address family both have (or by identity
// alone when they have none in common); a workload against the host or a
// range with the endpoint's first address. Stops when visit returns false.
template <typename Visit>
void forEachProbe(const Members& sm, const Members& dm, const End& srcOther, const End& dstOther, Visit visit) {
  if (!sm.empty() && !dm.empty()) {
    for (const auto* a : sm) {
      for (const auto* b : dm) {
        bool paired = false;
        for (const auto& aa : a->addresses) {
          for (const auto& ba : b->addresses) {
            if (aa.family != ba.family) continue;
            paired = true;
            if (!visit(End{a, aa}, End{b, ba})) return;
          }
        }
        if (!paired && !visit(End{a, std::nullopt}, End{b, std::nullopt})) return;
      }
    }
  } else if (!sm.empty()) {
    for (const auto* a : sm)
      if (!visit(End{a, firstAddress(*a)}, dstOther)) return;
  } else {
    for (const auto* b : dm)
      if (!visit(srcOther, End{b, firstAddress(*b)})) return;
  }
}

// The probe end standing for a peer that is not a workload.
End otherEnd(const ReachPeer& p) {
  if (p.kind == ReachPeer::Kind::Host) return End{nullptr, std::nullopt, true};
  if (p.kind == ReachPeer::Kind::Name) {
    End e{nullptr, std::nullopt};
    e.learnedNames = {p.learnedName};
    return e;
  }
  return End{nullptr, p.representative};
}

// A name a pattern matches, standing for it: each '*' read as "x".
std::string nameFor(const std::string& pattern) {
  std::string out = pattern;
  for (auto& c : out)
    if (c == '*') c = 'x';
  return out;
}

}  // namespace

// ---- the space -----------------------------------------------------------------------

struct ReachSpace::Impl {
  Atoms atoms;
  Ranges v4, v6;
  std::vector<ReachPeer> peers;
};

ReachSpace::ReachSpace(const std::vector<const ir::Program*>& programs, const ReachOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->atoms = buildAtoms(programs);
  impl_->v4 = buildRanges(programs, net::Family::V4);
  impl_->v6 = buildRanges(programs, net::Family::V6);
  auto& peers = impl_->peers;

  // Workloads, by name. The programs share an inventory; an endpoint is
  // taken from the first program that has it.
  std::map<std::string, std::set<std::string>> byWorkload;
  std::set<net::Address> endpointAddresses;
  for (const auto* program : programs) {
    for (const auto& e : program->endpoints) {
      byWorkload[e.ns + "/" + (e.workload.empty() ? e.name : e.workload)].insert(e.key());
      endpointAddresses.insert(e.addresses.begin(), e.addresses.end());
    }
  }
  for (const auto& [name, keys] : byWorkload) {
    ReachPeer p;
    p.kind = ReachPeer::Kind::Workload;
    p.name = name;
    p.endpoints.assign(keys.begin(), keys.end());
    peers.push_back(std::move(p));
  }
  if (options.host) {
    ReachPeer p;
    p.kind = ReachPeer::Kind::Host;
    p.name = "host";
    peers.push_back(std::move(p));
  }
  if (options.external) {
    for (const Ranges* ranges : {&impl_->v4, &impl_->v6}) {
      for (const auto& [first, last] : ranges->ranges) {
        // The first address of the range that is no endpoint's.
        std::optional<net::Address> rep;
        for (U128 u = first;; u = inc(u)) {
          net::Address a = fromU(ranges->family, u);
          if (!endpointAddresses.count(a)) {
            rep = a;
            break;
          }
          if (u == last) break;
        }
        if (!rep) continue;
        ReachPeer p;
        p.kind = ReachPeer::Kind::External;
        p.first = fromU(ranges->family, first);
        p.last = fromU(ranges->family, last);
        p.representative = *rep;
        p.name = p.first.str() + "-" + p.last.str();
        peers.push_back(std::move(p));
      }
    }
  }
  if (options.names) {
    std::set<std::string> names;
    forEachRule(programs, [&](const ir::Rule& rule) { names.insert(rule.peer.dnsNames.begin(), rule.peer.dnsNames.end()); });
    for (const auto& n : names) {
      ReachPeer p;
      p.kind = ReachPeer::Kind::Name;
      p.name = "dns " + n;
      p.learnedName = nameFor(n);
      peers.push_back(std::move(p));
    }
  }
}

ReachSpace::~ReachSpace() = default;
const std::vector<ReachPeer>& ReachSpace::peers() const { return impl_->peers; }
size_t ReachSpace::atomCount() const { return impl_->atoms.atoms.size(); }
ir::Traffic ReachSpace::probe(size_t atom) const {
  const Atom& a = impl_->atoms.atoms.at(atom);
  return {a.protocol, a.first};
}
Conns ReachSpace::conns(const std::vector<bool>& atoms) const { return connsOf(impl_->atoms, atoms); }

// ---- one program's verdicts ----------------------------------------------------------

struct ReachEvaluator::Impl {
  const ir::Program& program;
  const ReachSpace& space;
  Evaluator eval;
  std::vector<Members> members;  // per peer; empty for non-workloads
  bool hasHttp = false;          // some rule has an http condition: requests may be read
  bool hasProcess = false;       // some rule has a process condition: flows may need an executable
  Impl(const ir::Program& program, const ReachSpace& s)
      : program(program), space(s), eval(program, s.impl_->atoms, s.impl_->v4, s.impl_->v6) {
    for (const auto& cls : program.classes)
      for (const auto* dp : {&cls.ingress, &cls.egress})
        for (const auto& r : dp->rules) {
          hasHttp |= r.condition<ir::HttpCondition>() != nullptr;
          hasProcess |= r.condition<ir::ProcessCondition>() != nullptr;
        }
    for (const auto& p : s.peers()) {
      Members m;
      for (const auto& key : p.endpoints) {
        auto slash = key.find('/');
        if (const auto* e = program.findEndpoint(key.substr(0, slash), key.substr(slash + 1))) m.push_back(e);
      }
      members.push_back(std::move(m));
    }
  }
};

ReachEvaluator::ReachEvaluator(const ir::Program& program, const ReachSpace& space)
    : impl_(std::make_unique<Impl>(program, space)) {}
ReachEvaluator::~ReachEvaluator() = default;

bool ReachEvaluator::isFlow(size_t src, size_t dst) const {
  // A name stands for addresses a workload learned: only ever a destination.
  return src != dst && !(impl_->members[src].empty() && impl_->members[dst].empty()) &&
         impl_->space.peers()[src].kind != ReachPeer::Kind::Name;
}

std::vector<bool> ReachEvaluator::allowed(size_t src, size_t dst) {
  const auto& peers = impl_->space.peers();
  std::vector<bool> acc(impl_->space.atomCount(), true);
  forEachProbe(impl_->members[src], impl_->members[dst], otherEnd(peers[src]), otherEnd(peers[dst]),
               [&](const End& a, const End& b) {
                 intersect(acc, impl_->eval.verdicts(a, b));
                 return !none(acc);
               });
  return acc;
}

std::vector<ReachEvaluator::Probe> ReachEvaluator::probes(size_t src, size_t dst, size_t atom) const {
  const auto& peers = impl_->space.peers();
  ir::Traffic t = impl_->space.probe(atom);
  std::vector<Probe> out;
  forEachProbe(impl_->members[src], impl_->members[dst], otherEnd(peers[src]), otherEnd(peers[dst]),
               [&](const End& a, const End& b) {
                 out.push_back({a.endpoint, b.endpoint, impl_->eval.flowVerdict(a, b, t)});
                 return true;
               });
  return out;
}

std::optional<std::vector<ReachEvaluator::HttpRule>> ReachEvaluator::httpRules(size_t src, size_t dst,
                                                                                size_t atom) const {
  const auto& peers = impl_->space.peers();
  const ir::Program& program = impl_->program;
  ir::Traffic t = impl_->space.probe(atom);
  if (!impl_->hasHttp || t.protocol != ir::kTCP) return std::nullopt;
  bool read = false;
  std::vector<HttpRule> out;
  std::set<std::pair<ir::Direction, const ir::Rule*>> seen;
  // The rules of `subject`'s side that match the connection from `other`
  // and decide its requests.
  auto collect = [&](const End& subject, const End& other, ir::Direction dir) {
    const auto& rules = program.classes.at(*subject.endpoint->classIndex).direction(dir).rules;
    ir::Peer peer = ir::peerOf(program, other);
    for (const auto& r : rules) {
      if (r.audit || !ir::ruleMatches(r, peer, t)) continue;
      if (!r.condition<ir::HttpCondition>() && r.action != ir::Action::Allow) continue;
      if (seen.insert({dir, &r}).second) out.push_back({dir, &r});
    }
  };
  forEachProbe(impl_->members[src], impl_->members[dst], otherEnd(peers[src]), otherEnd(peers[dst]),
               [&](const End& a, const End& b) {
                 ir::FlowVerdict v = impl_->eval.flowVerdict(a, b, t);
                 if (!v.allowed()) return true;
                 if (v.egress && v.egress->inspectsHttp && a.endpoint) {
                   read = true;
                   collect(a, b, ir::Direction::Egress);
                 }
                 if (v.ingress && v.ingress->inspectsHttp && b.endpoint) {
                   read = true;
                   collect(b, a, ir::Direction::Ingress);
                 }
                 return true;
               });
  if (!read) return std::nullopt;
  return out;
}

std::optional<std::pair<std::vector<std::string>, std::vector<std::string>>> ReachEvaluator::httpItems(
    size_t src, size_t dst, size_t atom) const {
  auto rules = httpRules(src, dst, atom);
  if (!rules) return std::nullopt;
  std::set<std::string> allowed, denied;
  bool plainAllow = false;
  for (const auto& [dir, r] : *rules) {
    const auto* h = r->condition<ir::HttpCondition>();
    if (!h) {
      plainAllow = true;  // httpRules gives only allow rules without an http condition
      continue;
    }
    for (const auto& m : h->requests)
      (r->action == ir::Action::Allow ? allowed : denied).insert(features::http::describeRequest(m));
  }
  // A plain allow on a read connection allows every request the denies leave.
  if (plainAllow) allowed.clear();
  return std::make_pair(std::vector<std::string>(allowed.begin(), allowed.end()),
                        std::vector<std::string>(denied.begin(), denied.end()));
}

std::optional<std::vector<const ir::Rule*>> ReachEvaluator::processRules(size_t src, size_t dst, size_t atom) const {
  if (!impl_->hasProcess) return std::nullopt;
  const auto& peers = impl_->space.peers();
  const ir::Program& program = impl_->program;
  ir::Traffic t = impl_->space.probe(atom);
  bool needed = false;
  std::vector<const ir::Rule*> out;
  std::set<const ir::Rule*> seen;
  forEachProbe(impl_->members[src], impl_->members[dst], otherEnd(peers[src]), otherEnd(peers[dst]),
               [&](const End& a, const End& b) {
                 ir::FlowVerdict v = impl_->eval.flowVerdict(a, b, t);
                 if (!v.allowed() || !v.egress || !v.egress->needsProcess || !a.endpoint) return true;
                 needed = true;
                 // Only process rules match: a plain allow would have made
                 // the verdict need no executable.
                 ir::Peer peer = ir::peerOf(program, b);
                 for (const auto& r : program.classes.at(*a.endpoint->classIndex).egress.rules) {
                   if (r.audit || r.action != ir::Action::Allow || !r.condition<ir::ProcessCondition>() ||
                       !ir::ruleMatches(r, peer, t))
                     continue;
                   if (seen.insert(&r).second) out.push_back(&r);
                 }
                 return true;
               });
  if (!needed) return std::nullopt;
  return out;
}

std::optional<std::vector<std::string>> ReachEvaluator::processExecutables(size_t src, size_t dst, size_t atom) const {
  auto rules = processRules(src, dst, atom);
  if (!rules) return std::nullopt;
  std::set<std::string> all;
  for (const auto* r : *rules) {
    const auto& e = r->condition<ir::ProcessCondition>()->executables;
    all.insert(e.begin(), e.end());
  }
  return std::vector<std::string>(all.begin(), all.end());
}

// ---- the analysis ------------------------------------------------------------------

namespace {
// The TCP ports of allowed atoms whose requests are read, grouped by the
// items that decide them.
std::vector<HttpPorts> httpPortsOf(const ReachEvaluator& eval, const ReachSpace& space, size_t s, size_t d,
                                   const std::vector<bool>& acc) {
  std::map<std::pair<std::vector<std::string>, std::vector<std::string>>, std::vector<bool>> byItems;
  for (size_t a = 0; a < acc.size(); ++a) {
    if (!acc[a]) continue;
    auto items = eval.httpItems(s, d, a);
    if (!items) continue;
    auto& atoms = byItems[*items];
    if (atoms.empty()) atoms.assign(acc.size(), false);
    atoms[a] = true;
  }
  std::vector<HttpPorts> out;
  for (const auto& [items, atoms] : byItems) {
    Conns c = space.conns(atoms);
    for (const auto& p : c.protocols)
      if (p.name == "TCP") out.push_back({p.ports, items.first, items.second});
  }
  std::sort(out.begin(), out.end(), [](const HttpPorts& a, const HttpPorts& b) { return a.ports < b.ports; });
  return out;
}

// The allowed atoms that need an executable, grouped by the executables.
std::vector<ProcessConns> processConnsOf(const ReachEvaluator& eval, const ReachSpace& space, size_t s, size_t d,
                                         const std::vector<bool>& acc) {
  std::map<std::vector<std::string>, std::vector<bool>> byExecutables;
  for (size_t a = 0; a < acc.size(); ++a) {
    if (!acc[a]) continue;
    auto executables = eval.processExecutables(s, d, a);
    if (!executables) continue;
    auto& atoms = byExecutables[*executables];
    if (atoms.empty()) atoms.assign(acc.size(), false);
    atoms[a] = true;
  }
  std::vector<ProcessConns> out;
  for (const auto& [executables, atoms] : byExecutables) out.push_back({space.conns(atoms), executables});
  return out;
}
}  // namespace

Reachability computeReach(const ir::Program& program, const ReachOptions& options) {
  ReachSpace space({&program}, options);
  ReachEvaluator eval(program, space);
  Reachability r;
  r.peers = space.peers();
  for (size_t s = 0; s < r.peers.size(); ++s) {
    for (size_t d = 0; d < r.peers.size(); ++d) {
      if (!eval.isFlow(s, d)) continue;
      std::vector<bool> acc = eval.allowed(s, d);
      if (none(acc)) continue;
      r.flows.push_back({r.peers[s].name, r.peers[d].name, space.conns(acc), httpPortsOf(eval, space, s, d, acc),
                         processConnsOf(eval, space, s, d, acc)});
    }
  }
  return r;
}

// ---- renderers ---------------------------------------------------------------------

namespace {

std::string rangeText(const PortRange& r) {
  return r.first == r.last ? std::to_string(r.first) : std::to_string(r.first) + "-" + std::to_string(r.last);
}

std::string portsText(const Conns::Protocol& p, const char* sep) {
  if (!p.hasPorts) return "all";
  std::string s;
  for (const auto& r : p.ports) s += (s.empty() ? "" : sep) + rangeText(r);
  return s;
}

// "TCP 8080 HTTP: GET \"/a\"; POST \"/b\"; denied DELETE".
std::string httpText(const HttpPorts& h) {
  std::string ports;
  for (const auto& r : h.ports) ports += (ports.empty() ? "" : ",") + rangeText(r);
  return "TCP " + ports + " HTTP: " + httpItemsText(h.allowed, h.denied);
}

std::string padded(const std::string& s, size_t width) { return s + std::string(width - s.size(), ' '); }

std::string csvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string dotQuoted(const std::string& s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

}  // namespace

std::string Conns::str() const {
  if (all) return "all";
  std::string s;
  for (const auto& p : protocols) {
    if (!s.empty()) s += "; ";
    s += p.hasPorts ? p.name + " " + portsText(p, ",") : p.name;
  }
  return s;
}

std::string renderText(const Reachability& r) {
  if (r.flows.empty()) return "no connections are allowed\n";
  size_t ws = 6, wd = 11;  // "SOURCE", "DESTINATION"
  for (const auto& f : r.flows) {
    ws = std::max(ws, f.src.size());
    wd = std::max(wd, f.dst.size());
  }
  std::string out = padded("SOURCE", ws) + "  " + padded("DESTINATION", wd) + "  CONNECTIONS\n";
  for (const auto& f : r.flows) {
    out += padded(f.src, ws) + "  " + padded(f.dst, wd) + "  " + f.conns.str() + "\n";
    for (const auto& h : f.http) out += std::string(ws + wd + 4, ' ') + httpText(h) + "\n";
    for (const auto& p : f.process) out += std::string(ws + wd + 4, ' ') + processText(p) + "\n";
  }
  return out;
}

std::string processText(const ProcessConns& p) {
  std::string exes;
  for (const auto& e : p.executables) exes += (exes.empty() ? "" : ", ") + e;
  return p.conns.str() + " process: " + exes;
}

std::string httpItemsText(const std::vector<std::string>& allowed, const std::vector<std::string>& denied) {
  std::string out = allowed.empty() ? "every request" : "";
  for (size_t i = 0; i < allowed.size(); ++i) out += (i ? "; " : "") + allowed[i];
  if (!denied.empty()) {
    out += "; denied ";
    for (size_t i = 0; i < denied.size(); ++i) out += (i ? "; " : "") + denied[i];
  }
  return out;
}

nlohmann::ordered_json connsToJson(const Conns& c) {
  using nlohmann::ordered_json;
  if (c.all) return "all";
  ordered_json conns = ordered_json::object();
  for (const auto& p : c.protocols) {
    ordered_json ports = ordered_json::array();
    if (!p.hasPorts) ports.push_back("all");
    for (const auto& pr : p.ports) ports.push_back(rangeText(pr));
    conns[p.name] = std::move(ports);
  }
  return conns;
}

std::string renderJson(const Reachability& r) {
  using nlohmann::ordered_json;
  ordered_json flows = ordered_json::array();
  for (const auto& f : r.flows) {
    ordered_json flow{{"src", f.src}, {"dst", f.dst}, {"conns", connsToJson(f.conns)}};
    if (!f.http.empty()) {
      ordered_json http = ordered_json::array();
      for (const auto& h : f.http) {
        ordered_json ports = ordered_json::array();
        for (const auto& pr : h.ports) ports.push_back(rangeText(pr));
        http.push_back(ordered_json{{"ports", std::move(ports)}, {"requests", h.allowed}, {"deniedRequests", h.denied}});
      }
      flow["http"] = std::move(http);
    }
    if (!f.process.empty()) {
      ordered_json process = ordered_json::array();
      for (const auto& p : f.process)
        process.push_back(ordered_json{{"conns", connsToJson(p.conns)}, {"executables", p.executables}});
      flow["process"] = std::move(process);
    }
    flows.push_back(std::move(flow));
  }
  return ordered_json{{"flows", std::move(flows)}}.dump(2) + "\n";
}

std::string renderCsv(const Reachability& r) {
  std::string out = "src,dst,protocol,ports\n";
  for (const auto& f : r.flows) {
    std::string head = csvField(f.src) + "," + csvField(f.dst) + ",";
    if (f.conns.all) {
      out += head + "all,all\n";
      continue;
    }
    for (const auto& p : f.conns.protocols) out += head + csvField(p.name) + "," + csvField(portsText(p, " ")) + "\n";
  }
  return out;
}

std::string renderMarkdown(const Reachability& r) {
  if (r.flows.empty()) return "No connections are allowed.\n";
  std::string out = "| Source | Destination | Allowed |\n| --- | --- | --- |\n";
  for (const auto& f : r.flows) {
    std::string conns;
    if (f.conns.all) {
      conns = "all";
    } else {
      for (const auto& p : f.conns.protocols) {
        if (!conns.empty()) conns += "<br>";
        conns += p.hasPorts ? p.name + " " + portsText(p, ", ") : p.name + " (every protocol no policy names)";
      }
    }
    for (const auto& p : f.process) {
      std::string exes;
      for (const auto& e : p.executables) exes += (exes.empty() ? "`" : ", `") + e + "`";
      conns += "<br>" + p.conns.str() + " only for calls by " + exes;
    }
    out += "| `" + f.src + "` | `" + f.dst + "` | " + conns + " |\n";
  }
  return out;
}

std::string renderDot(const Reachability& r) {
  std::set<std::string> used;
  for (const auto& f : r.flows) {
    used.insert(f.src);
    used.insert(f.dst);
  }
  std::string out = "digraph reach {\n  rankdir=LR;\n  node [shape=box];\n";
  for (const auto& p : r.peers) {
    if (p.kind != ReachPeer::Kind::Workload && !used.count(p.name)) continue;
    out += "  " + dotQuoted(p.name);
    if (p.kind == ReachPeer::Kind::Host) out += " [shape=diamond]";
    if (p.kind == ReachPeer::Kind::External) out += " [shape=ellipse, style=dashed]";
    if (p.kind == ReachPeer::Kind::Name) out += " [shape=note, style=dashed]";
    out += ";\n";
  }
  for (const auto& f : r.flows) {
    std::string label = f.conns.str();
    for (const auto& p : f.process) {
      // One label line per group: its protocols joined by ", ", not "; ".
      std::string line = processText(p);
      for (size_t i = 0; (i = line.find("; ", i)) != std::string::npos;) line.replace(i, 2, ", ");
      label += "; " + line;
    }
    for (size_t i = 0; (i = label.find("; ", i)) != std::string::npos;) label.replace(i, 2, "\n");
    std::string quoted = dotQuoted(label);
    for (size_t i = 0; (i = quoted.find('\n', i)) != std::string::npos;) quoted.replace(i, 1, "\\n");
    out += "  " + dotQuoted(f.src) + " -> " + dotQuoted(f.dst) + " [label=" + quoted + "];\n";
  }
  return out + "}\n";
}

std::string render(const Reachability& r, std::string_view format) {
  if (format == "text") return renderText(r);
  if (format == "json") return renderJson(r);
  if (format == "csv") return renderCsv(r);
  if (format == "md") return renderMarkdown(r);
  if (format == "dot") return renderDot(r);
  return "";
}

}  // namespace membrane::analysis
