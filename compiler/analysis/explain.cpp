#include "analysis/explain.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "features/dns/dns.h"
#include "features/http/http.h"
#include "features/l4/l4.h"
#include "features/process/process.h"
#include "labels/names.h"
#include "names/dns.h"
#include "names/http.h"
#include "ir/protocols.h"
#include "support/diagnostics.h"

namespace membrane::analysis {

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string joined(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::optional<unsigned> number(const std::string& s) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

bool isIcmp(uint8_t p) { return p == ir::kICMP || p == ir::kICMPv6; }

std::string portText(uint8_t protocol, uint16_t port) {
  return isIcmp(protocol) ? ir::icmpTypeName(protocol == ir::kICMPv6, static_cast<uint8_t>(port))
                          : std::to_string(port);
}

std::string rangesText(uint8_t protocol, const std::vector<ir::PortRange>& ranges) {
  std::string s;
  for (const auto& r : ranges) {
    if (!s.empty()) s += ",";
    s += portText(protocol, r.first);
    if (r.last != r.first) s += "-" + portText(protocol, r.last);
  }
  return s;
}

std::string labelsText(const labels::LabelSet& labels) {
  std::string s;
  for (const auto& [k, v] : labels) s += (s.empty() ? "" : ",") + k + "=" + v;
  return s;
}

std::string workloadOf(const ir::Endpoint& e) { return e.ns + "/" + (e.workload.empty() ? e.name : e.workload); }

}  // namespace

// ---- traffic -----------------------------------------------------------------------

std::optional<ir::Traffic> parseTraffic(const std::string& spec, std::string* error) {
  auto slash = spec.find('/');
  std::string proto = lower(trim(spec.substr(0, slash)));
  std::string value = slash == std::string::npos ? "" : trim(spec.substr(slash + 1));
  auto fail = [&](const std::string& why) {
    if (error) *error = "invalid --port '" + spec + "': " + why;
    return std::nullopt;
  };
  ir::Traffic t;
  if (proto == "tcp" || proto == "udp" || proto == "sctp") {
    t.protocol = proto == "tcp" ? ir::kTCP : proto == "udp" ? ir::kUDP : ir::kSCTP;
    auto n = number(value);
    if (!n || *n < 1 || *n > 65535) return fail("expected a port number 1-65535 after '" + proto + "/'");
    t.port = static_cast<uint16_t>(*n);
    return t;
  }
  if (proto == "icmp" || proto == "icmpv6") {
    bool v6 = proto == "icmpv6";
    t.protocol = v6 ? ir::kICMPv6 : ir::kICMP;
    if (auto n = number(value); n && *n <= 255) {
      t.port = static_cast<uint16_t>(*n);
      return t;
    }
    if (auto type = ir::icmpTypeByName(v6, lower(value))) {
      t.port = *type;
      return t;
    }
    std::string hint = closestMatch(lower(value), ir::icmpTypeNames(v6));
    return fail("expected a type number 0-255 or name after '" + proto + "/'" +
                (hint.empty() ? "" : "; did you mean '" + proto + "/" + hint + "'?"));
  }
  return fail("expected tcp/PORT, udp/PORT, sctp/PORT, icmp/TYPE or icmpv6/TYPE");
}

std::string trafficText(const ir::Traffic& t) {
  std::string out = ir::protocolName(t.protocol) + "/" + portText(t.protocol, t.port);
  if (t.dns.kind == ir::DnsMessage::Kind::Query) out += " query " + t.dns.name;
  if (t.dns.kind == ir::DnsMessage::Kind::Unreadable) out += " (not a readable DNS query)";
  if (t.http.kind == ir::HttpMessage::Kind::Request) out += " request " + t.http.request.method + " " + t.http.request.target;
  if (t.http.kind == ir::HttpMessage::Kind::Unreadable)
    out += " (not an HTTP/1.x request membrane reads: " + t.http.why + ")";
  if (t.executable) out += " call by " + *t.executable;
  return out;
}

std::optional<std::string> parseExecutable(const std::string& written, std::string* error) {
  size_t column = 0;
  std::string why = labels::executablePathProblem(written, &column);
  if (why.empty()) return written;
  if (error)
    *error = "invalid executable '" + written + "': it " + why + " (byte " + std::to_string(column + 1) +
             "); name it by its absolute path as the pod sees it, e.g. /usr/local/bin/api";
  return std::nullopt;
}

std::optional<ir::HttpMessage> parseHttpRequest(const std::string& requestLine,
                                                const std::vector<std::string>& headers, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<ir::HttpMessage> {
    if (error) *error = why;
    return std::nullopt;
  };
  auto breaksLine = [](const std::string& s) { return s.find_first_of("\r\n") != std::string::npos; };
  if (breaksLine(requestLine)) return fail("--request: a line break in the request line");
  std::string line = trim(requestLine);
  size_t space = line.find(' ');
  if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos || line.find('\t') != std::string::npos)
    return fail("--request: expected 'METHOD TARGET', e.g. 'GET /api/v1/orders'");
  std::string bytes = line + " HTTP/1.1\r\n";
  for (const auto& h : headers) {
    if (breaksLine(h)) return fail("--header '" + h + "': a line break in a header");
    size_t colon = h.find(':');
    if (colon == std::string::npos || colon == 0) return fail("--header '" + h + "': expected 'Name: value'");
    bytes += h + "\r\n";
  }
  return features::http::readRequest(bytes + "\r\n");
}

std::optional<std::string> parseDnsName(const std::string& written, std::string* error) {
  size_t column = std::string::npos;
  auto parsed = names::parseDnsPattern(written, &column);
  if (const auto* why = std::get_if<std::string>(&parsed)) {
    if (error) *error = "invalid DNS name '" + written + "': " + *why;
    return std::nullopt;
  }
  const auto& name = std::get<names::DnsPattern>(parsed);
  if (name.wildcard) {
    if (error) *error = "'" + written + "' is a pattern; name one DNS name";
    return std::nullopt;
  }
  return name.text;
}

// ---- naming an end -----------------------------------------------------------------

std::optional<ResolvedEnd> resolveEnd(const ir::Program& program, const std::string& rawSpec, std::string* error) {
  std::string spec = trim(rawSpec);
  auto fail = [&](const std::string& why) -> std::optional<ResolvedEnd> {
    if (error) *error = why;
    return std::nullopt;
  };
  if (spec.empty()) return fail("an empty name");
  ResolvedEnd r;
  if (spec == "host") {
    r.kind = ResolvedEnd::Kind::Host;
    return r;
  }
  if (auto a = net::Address::parse(spec)) {
    r.address = *a;
    if (const auto* e = program.endpointByAddress(*a)) {
      r.endpoints = {e};
    } else {
      r.kind = ResolvedEnd::Kind::Outside;
    }
    return r;
  }

  std::set<std::string> namespaces;
  for (const auto& e : program.endpoints) namespaces.insert(e.ns);

  if (spec.find('=') != std::string::npos) {
    // A label set, optionally `namespace/` first. Label keys may contain a
    // '/' themselves (k8s.io/role), so a prefix only counts as a namespace
    // when one by that name exists.
    std::optional<std::string> ns;
    std::string body = spec;
    auto slash = spec.find('/');
    if (slash != std::string::npos && slash < spec.find('=') && namespaces.count(spec.substr(0, slash))) {
      ns = spec.substr(0, slash);
      body = spec.substr(slash + 1);
    }
    labels::LabelSet wanted;
    size_t start = 0;
    while (start <= body.size()) {
      size_t comma = body.find(',', start);
      std::string pair = trim(body.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      auto eq = pair.find('=');
      if (eq == std::string::npos || trim(pair.substr(0, eq)).empty())
        return fail("'" + spec + "': expected labels as key=value,key=value");
      wanted[trim(pair.substr(0, eq))] = trim(pair.substr(eq + 1));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    std::set<std::string> knownPairs;
    for (const auto& e : program.endpoints) {
      if (ns && e.ns != *ns) continue;
      const auto* id = program.identity(e.identity);
      if (!id) continue;
      for (const auto& [k, v] : id->labels) knownPairs.insert(k + "=" + v);
      bool all = std::all_of(wanted.begin(), wanted.end(), [&](const auto& kv) {
        auto it = id->labels.find(kv.first);
        return it != id->labels.end() && it->second == kv.second;
      });
      if (all) r.endpoints.push_back(&e);
    }
    if (r.endpoints.empty()) {
      std::string msg = "no endpoint" + (ns ? " in namespace " + *ns : std::string()) + " has the labels " +
                        labelsText(wanted);
      for (const auto& [k, v] : wanted) {
        if (knownPairs.count(k + "=" + v)) continue;
        std::string close = closestMatch(k + "=" + v, {knownPairs.begin(), knownPairs.end()});
        if (!close.empty()) {
          msg += "; did you mean '" + close + "'?";
          break;
        }
      }
      return fail(msg);
    }
    return r;
  }

  // An endpoint or a workload name, with or without its namespace.
  auto slash = spec.find('/');
  std::optional<std::string> ns;
  std::string name = spec;
  if (slash != std::string::npos) {
    ns = spec.substr(0, slash);
    name = spec.substr(slash + 1);
  }
  // Candidates: each endpoint named so, and each workload named so (all its
  // endpoints); one that is both (a pod that is its own workload) counts once.
  std::map<std::vector<const ir::Endpoint*>, std::string> targets;
  std::map<std::string, std::vector<const ir::Endpoint*>> workloads;
  for (const auto& e : program.endpoints) {
    if (ns && e.ns != *ns) continue;
    if (e.name == name) targets.emplace(std::vector<const ir::Endpoint*>{&e}, e.key() + " (endpoint)");
    if ((e.workload.empty() ? e.name : e.workload) == name) workloads[workloadOf(e)].push_back(&e);
  }
  for (const auto& [w, eps] : workloads) targets.emplace(eps, w + " (workload, " + std::to_string(eps.size()) +
                                                                   (eps.size() == 1 ? " endpoint)" : " endpoints)"));
  if (targets.size() == 1) {
    r.endpoints = targets.begin()->first;
    return r;
  }
  if (targets.size() > 1) {
    std::vector<std::string> names;
    for (const auto& [eps, label] : targets) names.push_back(label);
    std::sort(names.begin(), names.end());
    return fail("'" + spec + "' is ambiguous; it names " + joined(names) + "; give the namespace/name");
  }
  std::set<std::string> candidates;
  for (const auto& e : program.endpoints) {
    candidates.insert(e.key());
    candidates.insert(workloadOf(e));
    if (!ns) {
      candidates.insert(e.name);
      candidates.insert(e.workload.empty() ? e.name : e.workload);
    }
  }
  std::string close = closestMatch(spec, {candidates.begin(), candidates.end()});
  std::string msg = "no endpoint or workload named '" + spec + "'";
  if (program.endpoints.empty()) msg += " (the inventory has no endpoints; give one with -i)";
  if (!close.empty()) msg += "; did you mean '" + close + "'?";
  return fail(msg);
}

// ---- explaining ----------------------------------------------------------------------

namespace {

using End = ir::FlowEnd;

std::string describeEnd(const ir::Program& program, const End& e) {
  if (e.host) return "the node (host)";
  if (!e.endpoint) return "outside address " + (e.address ? e.address->str() : std::string("?")) + " (world)";
  std::string s = "endpoint " + e.endpoint->key();
  if (const auto* id = program.identity(e.endpoint->identity)) s += " {" + labelsText(id->labels) + "}";
  if (e.address) s += " at " + e.address->str();
  return s;
}

// The addresses a probe uses, where the user did not give one: one family
// both ends have (IPv4 first, as the inventory lists them), like `reach`; an
// end without an address (the host) leaves the other its first.
void pickAddresses(End& src, End& dst) {
  auto candidates = [](const End& e) -> std::vector<net::Address> {
    if (e.address) return {*e.address};
    if (e.endpoint) return e.endpoint->addresses;
    return {};
  };
  auto sa = candidates(src), da = candidates(dst);
  if (sa.empty() || da.empty()) {
    if (!sa.empty()) src.address = sa.front();
    if (!da.empty()) dst.address = da.front();
    return;
  }
  for (const auto& a : sa) {
    for (const auto& b : da) {
      if (a.family != b.family) continue;
      src.address = a;
      dst.address = b;
      return;
    }
  }
}

RuleVerdict ruleVerdict(const ir::Program& program, const SourceManager* sources, const ir::Rule& rule) {
  RuleVerdict rv;
  rv.id = rule.id;
  rv.action = rule.action;
  rv.audit = rule.audit;
  rv.policy = rule.policy;
  auto it = program.rules.find(rule.id);
  if (it != program.rules.end()) {
    rv.text = it->second.text;
    rv.location = it->second.location;
  }
  const SourceRange& loc = it != program.rules.end() && it->second.loc.valid() ? it->second.loc : rule.loc;
  if (sources && loc.valid() && loc.begin.file < sources->fileCount()) {
    rv.sourceLine = std::string(sources->lineText(loc.begin.file, loc.begin.line));
    rv.line = loc.begin.line;
    rv.column = loc.begin.column;
    uint32_t rest = rv.sourceLine.size() >= rv.column ? static_cast<uint32_t>(rv.sourceLine.size() - rv.column + 1) : 1;
    rv.length = std::max<uint32_t>(1, std::min(loc.length, rest));
  }
  return rv;
}

// Why one request item does not match the request: the first part that
// fails, as a sentence.
std::string itemMismatch(const ir::HttpRequestMatch& m, const ir::HttpRequest& r) {
  if (!m.method.empty() && m.method != r.method) return "the method is " + r.method + ", not " + m.method;
  if (!m.path.empty()) {
    std::string path(features::http::pathOf(r));
    ir::HttpRequestMatch pathOnly{"", m.path, "", {}};
    // The reader refuses a path that is not canonical or too long (the
    // request is unreadable), so a path here is one patterns are matched to.
    if (!features::http::requestMatches(pathOnly, r)) return "the path " + path + " does not match \"" + m.path + "\"";
  }
  if (!m.host.empty()) {
    ir::HttpRequestMatch hostOnly{"", "", m.host, {}};
    if (!features::http::requestMatches(hostOnly, r)) {
      auto host = features::http::hostOf(r);
      return host ? "the host " + *host + " does not match \"" + m.host + "\""
                  : "the request has no single Host header naming a DNS name, so host \"" + m.host + "\" does not match";
    }
  }
  for (const auto& h : m.headers) {
    ir::HttpRequestMatch one{"", "", "", {h}};
    if (features::http::requestMatches(one, r)) continue;
    ir::HttpRequestMatch present{"", "", "", {{h.name, std::nullopt}}};
    if (!features::http::requestMatches(present, r)) return "the request has no " + h.name + " header";
    std::vector<std::string> values;
    for (const auto& [name, value] : r.headers)
      if (names::asciiLower(name) == h.name) values.push_back(value);
    if (values.size() > 1) return "header " + h.name + " appears " + std::to_string(values.size()) + " times, not once";
    return "header " + h.name + " is \"" + values.front() + "\", not \"" + *h.value + "\"";
  }
  return "";  // matches
}

// Why a rule's http condition does not match the request (or the bytes).
std::string httpMismatch(const ir::HttpCondition& c, const ir::Traffic& t) {
  if (t.http.kind == ir::HttpMessage::Kind::Unreadable)
    return "the bytes are not an HTTP/1.x request membrane reads (" + t.http.why + "): no request item matches";
  const auto& r = t.http.request;
  if (c.requests.size() == 1)
    return "the request " + r.method + " " + r.target + " does not match " +
           features::http::describeRequest(c.requests[0]) + ": " + itemMismatch(c.requests[0], r);
  std::string out = "the request " + r.method + " " + r.target + " matches none of the rule's " +
                    std::to_string(c.requests.size()) + " request items:";
  for (const auto& m : c.requests) out += " " + features::http::describeRequest(m) + ": " + itemMismatch(m, r) + ";";
  out.pop_back();
  return out;
}

// Why a rule's process condition does not match a call.
std::string processMismatch(const ir::ProcessCondition& c, const std::string& executable) {
  return "the call is made by " + executable + ", which is not " +
         (c.executables.size() == 1 ? "the rule's executable, " + c.executables.front()
                                    : "one of the rule's executables: " + joined(c.executables)) +
         " (the socket hooks fail it with EPERM)";
}

// Why a rule's protocols and ports (or, past them, its DNS names, HTTP
// requests or executables) do not cover the traffic.
std::string trafficMismatch(const ir::Rule& rule, const ir::Traffic& t, RuleVerdict::Status& status) {
  const auto* http = rule.condition<ir::HttpCondition>();
  if (http && (!rule.condition<ir::L4Condition>() || features::l4::matches(*rule.condition<ir::L4Condition>(), t))) {
    status = RuleVerdict::Status::HttpMismatch;
    return httpMismatch(*http, t);
  }
  const auto* process = rule.condition<ir::ProcessCondition>();
  if (process && t.executable &&
      (!rule.condition<ir::L4Condition>() || features::l4::matches(*rule.condition<ir::L4Condition>(), t))) {
    status = RuleVerdict::Status::ProcessMismatch;
    return processMismatch(*process, *t.executable);
  }
  const auto* dns = rule.condition<ir::DnsCondition>();
  if (dns && (!rule.condition<ir::L4Condition>() || features::l4::matches(*rule.condition<ir::L4Condition>(), t))) {
    status = RuleVerdict::Status::DnsMismatch;
    std::string names = features::dns::describe(rule).substr(std::string(" with dns ").size());
    if (t.dns.kind == ir::DnsMessage::Kind::Query) return "the query's name " + t.dns.name + " is not in " + names;
    return "the packet is not a DNS query the datapath can read; the rule allows queries for " + names;
  }
  std::vector<std::string> protocols;
  for (const auto& m : features::l4::matchesOf(rule)) {
    if (m.protocol == t.protocol) {
      status = RuleVerdict::Status::PortMismatch;
      return std::string(isIcmp(t.protocol) ? "type " : "port ") + portText(t.protocol, t.port) + " is not in " +
             ir::protocolName(t.protocol) + "/" + rangesText(t.protocol, m.ports);
    }
    protocols.push_back(ir::protocolName(m.protocol));
  }
  status = RuleVerdict::Status::ProtocolMismatch;
  return "the rule is for " + joined(protocols) + ", not " + ir::protocolName(t.protocol);
}

std::string ruleRef(const ir::Program& program, uint32_t id) {
  auto it = program.rules.find(id);
  if (it == program.rules.end()) return "rule " + std::to_string(id);
  return "`" + it->second.text + "` (" + it->second.location + ")";
}

// A rule with egress named ports is several IR rules with one id (one per
// number the name resolves to): explain it by the part that matches the
// flow, else one whose peers match (so the port is what differs), else its
// first part.
const ir::Rule& representative(const std::vector<ir::Rule>& rules, uint32_t id, const ir::Peer& peer,
                               const ir::Traffic& t) {
  const ir::Rule* peerMatch = nullptr;
  const ir::Rule* first = nullptr;
  for (const auto& r : rules) {
    if (r.id != id) continue;
    if (ir::ruleMatches(r, peer, t)) return r;
    if (!peerMatch && ir::peerMatches(r.peer, peer)) peerMatch = &r;
    if (!first) first = &r;
  }
  return peerMatch ? *peerMatch : *first;
}

// When a rule's pods include the peer but the peer does not define the
// egress named port the way any part of the rule resolved it: say so, since
// the rule as written seems to name the peer.
std::string namedPortMismatch(const ir::Program& program, const std::vector<ir::Rule>& rules, uint32_t id,
                              const ir::Peer& peer) {
  if (!peer.identity) return "";
  std::set<std::string> names;
  std::set<uint16_t> numbers;
  bool podsMatch = false;
  for (const auto& r : rules) {
    if (r.id != id) continue;
    for (uint32_t bit : r.peer.selectorBits) {
      const ir::PeerSelector& cond = program.selectors.at(bit);
      if (!cond.definesPort) continue;
      const labels::ScopedSelector& pods = cond;
      podsMatch |= pods.matches(peer.identity->ns, peer.identity->labels, peer.identity->namespaceLabels);
      names.insert(labels::portProtocolName(cond.definesPort->protocol) + " port " + cond.definesPort->name);
      numbers.insert(cond.definesPort->port);
    }
  }
  if (!podsMatch || names.size() != 1) return "";
  std::vector<std::string> list;
  for (uint16_t n : numbers) list.push_back(std::to_string(n));
  return ": it does not define " + *names.begin() + " as " + joined(list, " or ") +
         ", the number" + (list.size() == 1 ? "" : "s") + " the rule resolved it to (named ports resolve in each destination)";
}

SideExplanation explainSide(const ir::Program& program, const SourceManager* sources, const End& subject,
                            const End& other, ir::Direction dir, const ir::Verdict& verdict, const ir::Traffic& t) {
  SideExplanation side;
  side.direction = dir;
  side.subject = subject.endpoint->key();
  side.peer = describeEnd(program, other);
  side.verdict = verdict;
  ir::Peer peer = ir::peerOf(program, other);
  if (t.http.kind == ir::HttpMessage::Kind::None) {
    side.inspectsHttp = verdict.inspectsHttp;
  } else if (subject.endpoint->classIndex) {
    ir::Traffic connection = t;
    connection.http = {};
    side.inspectsHttp =
        ir::evaluate(program.classes.at(*subject.endpoint->classIndex).direction(dir), peer, connection).inspectsHttp;
  }
  side.needsProcess = verdict.needsProcess;
  if (subject.endpoint->classIndex && dir == ir::Direction::Egress) {
    // The connection as a packet (no executable): when only rules with a
    // process condition allow it, they say which executables' calls may
    // open it.
    const auto& policy = program.classes.at(*subject.endpoint->classIndex).direction(dir);
    ir::Traffic packet = t;
    packet.executable.reset();
    const ir::Verdict asPacket = t.executable ? ir::evaluate(policy, peer, packet) : verdict;
    if (asPacket.allowed && asPacket.needsProcess) {
      for (const auto& r : policy.rules) {
        const auto* c = r.condition<ir::ProcessCondition>();
        if (!c || r.audit || r.action != ir::Action::Allow || !ir::ruleMatches(r, peer, packet)) continue;
        auto it = std::find_if(side.processGrants.begin(), side.processGrants.end(),
                               [&](const SideExplanation::ProcessGrant& g) { return g.rule == r.id; });
        if (it == side.processGrants.end()) {
          RuleVerdict rv = ruleVerdict(program, sources, r);
          side.processGrants.push_back({r.id, rv.location, rv.text, {}});
          it = side.processGrants.end() - 1;
        }
        it->executables.insert(it->executables.end(), c->executables.begin(), c->executables.end());
        std::sort(it->executables.begin(), it->executables.end());
        it->executables.erase(std::unique(it->executables.begin(), it->executables.end()), it->executables.end());
      }
      std::sort(side.processGrants.begin(), side.processGrants.end(),
                [](const auto& a, const auto& b) { return a.rule < b.rule; });
    }
  }

  std::set<uint32_t> seen;
  if (subject.endpoint->classIndex) {
    const auto& cls = program.classes.at(*subject.endpoint->classIndex);
    side.classId = cls.id;
    side.policies = cls.policies;
    const ir::DirectionPolicy& policy = cls.direction(dir);
    side.tiered = !policy.admin.empty() || !policy.baseline.empty();
    // Which tiers had their say (docs/language.md, "Tiers"): the admin
    // tier always; the ordinary policies unless an admin rule decided; the
    // baseline tier where, besides, nothing isolates the direction.
    auto inList = [&](const std::vector<ir::Rule>& list, uint32_t id) {
      return id && std::any_of(list.begin(), list.end(), [&](const ir::Rule& r) { return r.id == id; });
    };
    const bool adminDecided = inList(policy.admin, verdict.rule);
    const bool baselineReached = !adminDecided && policy.baselineDecides();
    const ir::Rule* firstAdmin = ir::firstMatch(policy.admin, peer, t);
    for (const auto* list : {&policy.admin, &policy.rules, &policy.baseline}) {
      const bool admin = list == &policy.admin, baseline = list == &policy.baseline;
      for (const auto& part : *list) {
        if (!seen.insert(part.id).second) continue;
        const ir::Rule& rule = representative(*list, part.id, peer, t);
        RuleVerdict rv = ruleVerdict(program, sources, rule);
        rv.tier = admin ? ir::Tier::Admin : baseline ? ir::Tier::Baseline : ir::Tier::Network;
        if (!ir::peerMatches(rule.peer, peer)) {
          rv.status = RuleVerdict::Status::PeerMismatch;
          rv.detail = "the rule's peers do not include " + side.peer + namedPortMismatch(program, *list, part.id, peer);
          if (!rule.peer.dnsNames.empty())
            rv.detail += peer.learnedNames.empty()
                             ? " (no name was learned for it: explain --learned NAME says it was)"
                             : " (it was learned for " + joined(peer.learnedNames) + ", which " +
                                   features::dns::describePeer(rule.peer.dnsNames) + " does not match)";
        } else if (!ir::conditionsMatch(rule, t)) {
          rv.detail = trafficMismatch(rule, t, rv.status);
        } else if (admin && &rule != firstAdmin) {
          rv.status = RuleVerdict::Status::AlsoMatches;
          rv.detail = "matches too; " + ruleRef(program, firstAdmin->id) + " comes first in the admin tier";
        } else if (admin && rule.action == ir::Action::Pass) {
          rv.status = RuleVerdict::Status::Passes;
          rv.detail = "the admin tier leaves the connection to the ordinary policies" +
                      std::string(baselineReached ? " and the baseline tier" : "");
        } else if (!admin && adminDecided) {
          rv.status = RuleVerdict::Status::NotReached;
          rv.detail = "the admin tier decided first, by " + ruleRef(program, verdict.rule);
        } else if (baseline && !baselineReached) {
          rv.status = RuleVerdict::Status::NotReached;
          rv.detail = "an ordinary policy isolates the " + std::string(ir::directionName(dir)) +
                      ", so the baseline tier has no say";
        } else if (t.http.kind == ir::HttpMessage::Kind::None && rule.action == ir::Action::Deny &&
                   rule.condition<ir::HttpCondition>()) {
          rv.status = RuleVerdict::Status::AlsoMatches;
          rv.detail = "denies the requests it matches, never the connection: the socket layer reads each request";
        } else if (rule.audit) {
          rv.status = RuleVerdict::Status::AuditOnly;
          rv.detail = "policy " + rule.policy + " is in audit mode: a match is logged, not enforced";
          if (verdict.auditWouldDeny && verdict.auditRule == rule.id) {
            rv.detail += "; enforced, it would deny this connection";
            side.audit = rv;
          }
        } else if (verdict.rule == rule.id) {
          rv.status = RuleVerdict::Status::Decides;
          side.deciding = rv;
          continue;
        } else if (rule.action == ir::Action::Allow && verdict.reason == ir::Reason::DeniedByRule && !baseline) {
          rv.status = RuleVerdict::Status::OverriddenByDeny;
          rv.detail = "overridden: deny rules win, and " + ruleRef(program, verdict.rule) + " denies";
        } else {
          rv.status = RuleVerdict::Status::AlsoMatches;
          rv.detail = "matches too; " + ruleRef(program, verdict.rule) + " comes first";
        }
        side.others.push_back(std::move(rv));
      }
    }
  }
  // Rules that would match if their policy selected the subject: the usual
  // "why does my rule not apply" answer.
  for (const auto& cls : program.classes) {
    cls.direction(dir).forEachRule([&](const ir::Rule& rule) {
      if (!seen.insert(rule.id).second) return;
      if (std::binary_search(side.policies.begin(), side.policies.end(), rule.policy)) return;
      if (!ir::ruleMatches(rule, peer, t)) return;
      RuleVerdict rv = ruleVerdict(program, sources, rule);
      rv.status = RuleVerdict::Status::NotSelected;
      rv.detail = "would match, but policy " + rule.policy + " does not select " + side.subject;
      side.others.push_back(std::move(rv));
    });
  }
  return side;
}

// "/a (rule 1 at p.policy:5:5) or /b, /c (rule 2 at p.policy:6:5)".
std::string grantsText(const std::vector<SideExplanation::ProcessGrant>& grants) {
  std::string out;
  for (size_t i = 0; i < grants.size(); ++i)
    out += (i ? " or " : "") + joined(grants[i].executables) + " (rule " + std::to_string(grants[i].rule) + " at " +
           grants[i].location + ")";
  return out;
}

// What process rules (docs/process.md) make of the connection: which
// executables' calls may open it, or why the one named by --exe may not.
void addProcessNotes(const ir::Program& program, const End& src, Explanation& e) {
  const SideExplanation* egress = e.egress ? &*e.egress : nullptr;
  e.needsProcess = egress && egress->needsProcess;
  if (e.executable && !src.endpoint) {
    e.notes.push_back(
        "--exe names the source's executable, but the source is not an endpoint: no process rule "
        "applies");
    return;
  }
  if (!egress) return;
  if (!e.executable) {
    if (e.needsProcess && e.allowed)
      e.notes.push_back("allowed only for calls (connect, sendmsg) by the executables of process conditions: " +
                        grantsText(egress->processGrants) +
                        "; other executables get EPERM, and packets from a socket no such call opened (a raw socket, "
                        "one opened before the policy) are dropped (explain --exe PATH decides one call)");
    return;
  }
  // The `processes` clauses of the source's class: the executables that may
  // connect at all, whichever rule allows the flow.
  if (src.endpoint->classIndex) {
    const auto& clauses = program.classes.at(*src.endpoint->classIndex).egress.processClauses;
    std::vector<std::string> listing, refusing;
    for (const auto& clause : clauses) {
      auto it = program.rules.find(clause.rule);
      std::string where = "the `processes` clause of policy " +
                          (it == program.rules.end() ? std::string("?") : it->second.policy + " at " + it->second.location);
      bool listed = std::binary_search(clause.executables.begin(), clause.executables.end(), *e.executable);
      (listed ? listing : refusing).push_back(where + (listed ? "" : ", which lists " + joined(clause.executables)));
    }
    if (!refusing.empty())
      e.notes.push_back("refused by " + joined(refusing, " and by ") + ": no egress connection of " + src.endpoint->key() +
                        " is allowed for " + *e.executable + " (the socket hooks fail the call with EPERM)");
    else if (!listing.empty() && egress->verdict.allowed)
      e.notes.push_back("the call by " + *e.executable + " passes " + joined(listing, " and ") +
                        " (only the executables a policy's clause lists may connect at all)");
  }
  e.deniedForExecutable = !egress->verdict.allowed && !egress->processGrants.empty();
  if (e.deniedForExecutable) {
    e.notes.push_back("denied for its executable only: the call by " + *e.executable + " fails with EPERM; calls by " +
                      grantsText(egress->processGrants) + " are allowed");
    return;
  }
  if (!egress->verdict.allowed || egress->verdict.reason != ir::Reason::AllowedByRule) return;
  for (const auto& g : egress->processGrants)
    if (g.rule == egress->verdict.rule) {
      e.notes.push_back("a call by " + *e.executable + ": allowed by the process condition of rule " +
                        std::to_string(g.rule) + " at " + g.location + ", which lists it");
      return;
    }
  if (!egress->processGrants.empty()) return;
  // Allowed by a rule without a process condition: say so where process
  // rules exist for the source, since one might expect them to decide.
  bool processRules = false;
  if (src.endpoint->classIndex)
    for (const auto& r : program.classes.at(*src.endpoint->classIndex).egress.rules)
      processRules |= r.condition<ir::ProcessCondition>() != nullptr;
  if (processRules)
    e.notes.push_back(
        "the executable does not matter here: a rule without a process condition allows the "
        "connection for every executable's call");
}

// What must agree for several endpoints to be explained as one (last:
// whether the egress needs an executable, docs/process.md).
using Signature = std::tuple<bool, int, uint32_t, uint32_t, bool, int, uint32_t, uint32_t, bool>;
Signature signatureOf(const ir::FlowVerdict& fv) {
  auto part = [](const std::optional<ir::Verdict>& v) {
    return v ? std::tuple<bool, int, uint32_t, uint32_t>{v->allowed, static_cast<int>(v->reason), v->rule, v->auditRule}
             : std::tuple<bool, int, uint32_t, uint32_t>{true, -1, 0, 0};
  };
  return std::tuple_cat(part(fv.egress), part(fv.ingress), std::tuple<bool>{fv.egress && fv.egress->needsProcess});
}

std::vector<End> endsOf(const ResolvedEnd& r) {
  if (r.kind == ResolvedEnd::Kind::Host) return {End{nullptr, std::nullopt, true}};
  if (r.kind == ResolvedEnd::Kind::Outside) {
    End e{nullptr, r.address};
    e.learnedNames = r.learnedNames;
    return {e};
  }
  std::vector<End> out;  // an endpoint named by its address keeps that address
  for (const auto* e : r.endpoints) out.push_back(End{e, r.address});
  for (auto& e : out) e.learnedNames = r.learnedNames;
  return out;
}

std::string endName(const End& e) {
  if (e.host) return "host";
  if (e.endpoint) return e.endpoint->key();
  return e.address ? e.address->str() : "?";
}

}  // namespace

std::optional<Explanation> explainFlow(const ir::Program& program, const SourceManager* sources,
                                       const ResolvedEnd& src, const ResolvedEnd& dst, const ir::Traffic& t,
                                       std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<Explanation> {
    if (error) *error = why;
    return std::nullopt;
  };
  if (src.kind != ResolvedEnd::Kind::Endpoints && dst.kind != ResolvedEnd::Kind::Endpoints)
    return fail("neither end is an endpoint of the inventory; policies apply only to endpoints");

  struct Pair {
    End src, dst;
    ir::FlowVerdict verdict;
  };
  std::vector<Pair> pairs;
  for (End s : endsOf(src)) {
    for (End d : endsOf(dst)) {
      pickAddresses(s, d);
      pairs.push_back({s, d, ir::evaluateFlow(program, s, d, t)});
    }
  }
  // Several endpoints are explained as one only when they are treated alike.
  std::map<Signature, std::vector<std::string>> groups;
  for (const auto& p : pairs) groups[signatureOf(p.verdict)].push_back(endName(p.src) + " -> " + endName(p.dst));
  if (groups.size() > 1) {
    std::string msg = "the endpoints named are not treated alike for this connection; name one endpoint on each side:";
    for (const auto& [sig, names] : groups)
      msg += "\n  " + std::string(std::get<0>(sig) && std::get<4>(sig) ? "allowed: " : "denied:  ") + joined(names);
    return fail(msg);
  }

  const Pair& p = pairs.front();
  Explanation e;
  e.src = endName(p.src);
  e.dst = endName(p.dst);
  e.traffic = trafficText(t);
  e.allowed = p.verdict.allowed();
  if (p.verdict.egress && !p.verdict.egress->allowed && p.src.endpoint && p.src.endpoint->classIndex) {
    const auto& egressPolicy = program.classes.at(*p.src.endpoint->classIndex).egress;
    e.refusedByName = ir::refusedByName(egressPolicy, ir::peerOf(program, p.dst), t);
    if (e.refusedByName)
      e.notes.push_back("denied for its name only: the datapath answers the query REFUSED (on tc; cgroup_skb drops it)");
  }
  if (p.verdict.egress && p.verdict.egress->learnsDns && t.dns.kind == ir::DnsMessage::Kind::Query)
    e.notes.push_back("allowed by a rule with a dns condition: the answer teaches " + e.src +
                      " addresses for " + t.dns.name + " (name peers then match them)");
  if (p.verdict.egress)
    e.egress = explainSide(program, sources, p.src, p.dst, ir::Direction::Egress, *p.verdict.egress, t);
  if (p.verdict.ingress)
    e.ingress = explainSide(program, sources, p.dst, p.src, ir::Direction::Ingress, *p.verdict.ingress, t);
  e.executable = t.executable;
  addProcessNotes(program, p.src, e);
  bool inspects = (e.egress && e.egress->inspectsHttp) || (e.ingress && e.ingress->inspectsHttp);
  if (t.http.kind == ir::HttpMessage::Kind::None && inspects && e.allowed)
    e.notes.push_back("HTTP rules apply: the connection is let through to the socket layer, which decides its "
                      "requests one by one (explain --request 'METHOD /path' decides one)");
  if (t.http.kind != ir::HttpMessage::Kind::None && !inspects)
    e.notes.push_back("no HTTP rule applies to this connection: its requests are not read, and the connection's "
                      "verdict is every request's");
  if (src.endpoints.size() > 1)
    e.notes.push_back("the source names " + std::to_string(src.endpoints.size()) +
                      " endpoints, all treated alike; shown for " + e.src);
  if (dst.endpoints.size() > 1)
    e.notes.push_back("the destination names " + std::to_string(dst.endpoints.size()) +
                      " endpoints, all treated alike; shown for " + e.dst);
  auto notEndpoint = [](const End& end, const std::string& name) {
    return end.host ? std::string("host is the node, not an endpoint")
                    : name + " is not an endpoint of the inventory";
  };
  if (!p.src.endpoint) e.notes.push_back(notEndpoint(p.src, e.src) + ": only the destination's ingress applies");
  if (!p.dst.endpoint) e.notes.push_back(notEndpoint(p.dst, e.dst) + ": only the source's egress applies");
  return e;
}

// ---- renderers ---------------------------------------------------------------------

const char* statusName(RuleVerdict::Status s) {
  switch (s) {
    case RuleVerdict::Status::Decides: return "decides";
    case RuleVerdict::Status::AlsoMatches: return "also-matches";
    case RuleVerdict::Status::OverriddenByDeny: return "overridden-by-deny";
    case RuleVerdict::Status::AuditOnly: return "audit-only";
    case RuleVerdict::Status::PeerMismatch: return "peer-mismatch";
    case RuleVerdict::Status::ProtocolMismatch: return "protocol-mismatch";
    case RuleVerdict::Status::PortMismatch: return "port-mismatch";
    case RuleVerdict::Status::DnsMismatch: return "dns-mismatch";
    case RuleVerdict::Status::HttpMismatch: return "http-mismatch";
    case RuleVerdict::Status::ProcessMismatch: return "process-mismatch";
    case RuleVerdict::Status::NotSelected: return "not-selected";
    case RuleVerdict::Status::Passes: return "passes";
    case RuleVerdict::Status::NotReached: return "not-reached";
  }
  return "";
}

namespace {

const char* sideName(ir::Direction d) { return d == ir::Direction::Egress ? "egress" : "ingress"; }

std::string verdictText(const SideExplanation& s) {
  switch (s.verdict.reason) {
    case ir::Reason::AllowedByRule: return "allowed by a rule";
    case ir::Reason::DeniedByRule: return "denied by a deny rule";
    case ir::Reason::DefaultDeny: return "denied: no rule matches (default deny)";
    case ir::Reason::UnreadableRequest: return "denied: not an HTTP/1.x request membrane reads";
    case ir::Reason::NoPolicy:
      if (s.tiered)
        return std::string("allowed: no tier rule decides, and no ordinary policy that selects it has an ") +
               sideName(s.direction) + " section";
      return s.policies.empty() ? "allowed: no policy selects " + s.subject
                                : std::string("allowed: no policy that selects it has an ") + sideName(s.direction) +
                                      " section";
  }
  return "";
}

// file:line:col, then the line and a caret, like a diagnostic.
// "[shop/api]", "[guard, admin tier]".
std::string policyTag(const RuleVerdict& r) {
  return "[" + r.policy + (r.tier == ir::Tier::Network ? "" : std::string(", ") + artifacts::tierName(r.tier) + " tier") +
         "]";
}

std::string snippet(const RuleVerdict& r, const std::string& indent) {
  std::string out = indent + r.location + ": " + r.text + "  " + policyTag(r) + "\n";
  if (r.sourceLine.empty()) return out;
  SourceExcerpt e = excerpt(r.sourceLine, r.column, r.length);
  return out + indent + "  " + e.line + "\n" + indent + "  " + e.caret + "\n";
}

}  // namespace

std::vector<std::string> SideExplanation::processExecutables() const {
  std::set<std::string> all;
  for (const auto& g : processGrants) all.insert(g.executables.begin(), g.executables.end());
  return {all.begin(), all.end()};
}

std::string renderExplanationText(const Explanation& e) {
  std::string out = e.src + " -> " + e.dst + " on " + e.traffic + ": " + (e.allowed ? "ALLOWED" : "DENIED");
  if (e.allowed && e.needsProcess) out += " (only for calls by " + joined(e.egress->processExecutables()) + ")";
  out += "\n";
  for (const auto& n : e.notes) out += "  note: " + n + "\n";
  for (const auto* side : {&e.egress, &e.ingress}) {
    if (!*side) continue;
    const SideExplanation& s = **side;
    out += std::string("\n") + sideName(s.direction) + " of " + s.subject + ": " + verdictText(s) + "\n";
    out += "  peer: " + s.peer + "\n";
    if (s.inspectsHttp) out += "  requests: read by the socket layer and decided one by one (HTTP rules apply)\n";
    if (s.needsProcess)
      out += "  calls: allowed only for " + joined(s.processExecutables()) +
             " (process rules); other executables get EPERM\n";
    if (s.policies.empty())
      out += "  selected by no policy\n";
    else
      out += "  selected by " + joined(s.policies) + " (class " + std::to_string(*s.classId) + ")\n";
    if (s.deciding) out += "  decided by:\n" + snippet(*s.deciding, "    ");
    if (s.audit) out += "  audit mode would deny it:\n" + snippet(*s.audit, "    ");
    if (!s.others.empty()) {
      out += "  other rules:\n";
      for (const auto& r : s.others)
        out += "    " + r.location + ": " + r.text + "  " + policyTag(r) + "\n      " + statusName(r.status) + ": " +
               r.detail + "\n";
    }
  }
  return out;
}

std::string renderExplanationJson(const Explanation& e) {
  using nlohmann::ordered_json;
  auto rule = [](const RuleVerdict& r) {
    ordered_json j{{"status", statusName(r.status)},
                   {"action", ir::actionName(r.action)},
                   {"audit", r.audit},
                   {"policy", r.policy},
                   {"text", r.text},
                   {"location", r.location}};
    if (r.tier != ir::Tier::Network) j["tier"] = artifacts::tierName(r.tier);
    if (!r.detail.empty()) j["detail"] = r.detail;
    return j;
  };
  auto processRules = [](const SideExplanation& s) {
    ordered_json out = ordered_json::array();
    for (const auto& g : s.processGrants)
      out.push_back(
          ordered_json{{"rule", g.rule}, {"location", g.location}, {"text", g.text}, {"executables", g.executables}});
    return out;
  };
  auto side = [&](const std::optional<SideExplanation>& s) -> ordered_json {
    if (!s) return nullptr;
    ordered_json others = ordered_json::array();
    for (const auto& r : s->others) others.push_back(rule(r));
    return ordered_json{{"subject", s->subject},
                        {"allowed", s->verdict.allowed},
                        {"reason", ir::reasonName(s->verdict.reason)},
                        {"policies", s->policies},
                        {"peer", s->peer},
                        {"decidingRule", s->deciding ? rule(*s->deciding) : ordered_json(nullptr)},
                        {"inspectsHttp", s->inspectsHttp},
                        {"needsProcess", s->needsProcess},
                        {"processRules", processRules(*s)},
                        {"auditWouldDeny", s->verdict.auditWouldDeny},
                        {"auditRule", s->audit ? rule(*s->audit) : ordered_json(nullptr)},
                        {"otherRules", std::move(others)}};
  };
  ordered_json j{{"src", e.src},
                 {"dst", e.dst},
                 {"traffic", e.traffic},
                 {"allowed", e.allowed},
                 {"refusedByName", e.refusedByName},
                 {"executable", e.executable ? ordered_json(*e.executable) : ordered_json(nullptr)},
                 {"needsProcess", e.needsProcess},
                 {"executables", e.egress ? e.egress->processExecutables() : std::vector<std::string>{}},
                 {"deniedForExecutable", e.deniedForExecutable},
                 {"egress", side(e.egress)},
                 {"ingress", side(e.ingress)},
                 {"notes", e.notes}};
  return j.dump(2) + "\n";
}

}  // namespace membrane::analysis
