// See evaluator.h: the one definition of "allowed".
#include "evaluator/evaluator.h"

#include <algorithm>

#include "features/dns/dns.h"
#include "features/registry/registry.h"

namespace membrane::ir {

bool peerMatches(const PeerMatch& m, const Peer& peer) {
  if (m.all) return true;
  switch (peer.kind) {
    case Peer::Kind::Endpoint:
      if (m.cluster) return true;
      if (peer.identity)
        for (uint32_t bit : m.selectorBits)
          if (peer.identity->hasBit(bit)) return true;
      break;
    case Peer::Kind::Host:
      if (m.host || m.cluster) return true;
      break;
    case Peer::Kind::World:
      if (m.world) return true;
      break;
  }
  if (peer.address)
    for (const auto& c : m.cidrs)
      if (c.matches(*peer.address)) return true;
  return !m.dnsNames.empty() && features::dns::peerMatches(m.dnsNames, peer);
}

bool conditionsMatch(const Rule& rule, const Traffic& t) {
  for (const auto& c : rule.conditions)
    if (!features::matches(c, t)) return false;
  return true;
}

bool ruleMatches(const Rule& rule, const Peer& peer, const Traffic& t) {
  return peerMatches(rule.peer, peer) && conditionsMatch(rule, t);
}

const Rule* firstMatch(const std::vector<Rule>& rules, const Peer& peer, const Traffic& t) {
  for (const auto& r : rules)
    if (ruleMatches(r, peer, t)) return &r;
  return nullptr;
}

bool allowedByClauses(const DirectionPolicy& policy, const std::string& executable) {
  for (const auto& clause : policy.processClauses)
    if (!std::binary_search(clause.executables.begin(), clause.executables.end(), executable)) return false;
  return true;
}

namespace {
// Deny wins; then the lowest-numbered allow; else default deny. On a
// connection (no request read), a rule with an http condition stands for
// the requests it may match: an allow lets the connection through to the
// socket layer, a deny does not deny the connection but makes its requests
// worth reading.
Verdict decide(const DirectionPolicy& policy, const Peer& peer, const Traffic& t, bool includeAudit) {
  if (t.http.kind == HttpMessage::Kind::Unreadable) {
    // Not a request: denied if the connection is one the socket layer
    // reads; otherwise nothing reads it, and the connection's verdict holds.
    Traffic connection = t;
    connection.http = {};
    Verdict v = decide(policy, peer, connection, includeAudit);
    if (v.allowed && v.inspectsHttp) return {false, Reason::UnreadableRequest, 0, false, 0};
    return v;
  }
  const bool connection = t.http.kind == HttpMessage::Kind::None;
  const Rule* deny = nullptr;
  const Rule* allow = nullptr;
  bool httpRule = false, httpDeny = false, plainAllow = false;
  const bool packet = !t.executable;
  bool processRule = false, processFreeAllow = false;
  // A call by an executable some `processes` clause of the class does not
  // list: no allow rule lets it through, whatever its conditions say.
  const bool clauseRefuses = !packet && !allowedByClauses(policy, *t.executable);
  for (const auto& r : policy.rules) {
    if (r.audit && !includeAudit) continue;
    if (clauseRefuses && r.action == Action::Allow) continue;
    if (!ruleMatches(r, peer, t)) continue;
    const bool http = r.condition<HttpCondition>() != nullptr;
    if (connection && http) {
      httpRule = true;
      if (r.action == Action::Deny) {
        httpDeny = true;
        continue;
      }
    }
    if (!http && r.action == Action::Allow) plainAllow = true;
    if (r.action == Action::Allow) {
      const bool process = r.condition<ProcessCondition>() != nullptr;
      processRule |= process;
      processFreeAllow |= !process;
    }
    // The first matching rule of its kind decides: `rules` is in the order
    // the rules were written (deny rules first), which the datapath follows.
    const Rule*& slot = r.action == Action::Deny ? deny : allow;
    if (!slot) slot = &r;
  }
  if (deny) return {false, Reason::DeniedByRule, deny->id, false, 0};
  if (allow) {
    Verdict v{true, Reason::AllowedByRule, allow->id, false, 0};
    v.learnsDns = allow->condition<DnsCondition>() != nullptr;
    v.inspectsHttp = connection && httpRule && (httpDeny || !plainAllow);
    v.needsProcess = packet && processRule && !processFreeAllow;
    return v;
  }
  return {false, Reason::DefaultDeny, 0, false, 0};
}

Verdict tierVerdict(const Rule& r) {
  return r.action == Action::Allow ? Verdict{true, Reason::AllowedByRule, r.id, false, 0}
                                   : Verdict{false, Reason::DeniedByRule, r.id, false, 0};
}
}  // namespace

Verdict evaluate(const DirectionPolicy& policy, const Peer& peer, const Traffic& t) {
  // The admin tier first: an allow or deny decides; a pass, or no match,
  // leaves the flow to the ordinary policies.
  if (const Rule* admin = firstMatch(policy.admin, peer, t); admin && admin->action != Action::Pass)
    return tierVerdict(*admin);
  Verdict v = policy.enforced ? decide(policy, peer, t, false) : Verdict{};
  // Where no ordinary policy isolates the direction, the baseline tier
  // decides; without a match the flow is allowed.
  if (policy.baselineDecides())
    if (const Rule* baseline = firstMatch(policy.baseline, peer, t)) v = tierVerdict(*baseline);
  if (!policy.enforced && !policy.processClauses.empty()) {
    // `processes` clauses isolate a direction nothing else does: their
    // executables connect anywhere, nothing else connects. (Lowering writes
    // this as an enforced direction with an allow rule of the clause's; read
    // here from the clauses themselves.)
    const uint32_t clause = policy.processClauses.front().rule;
    if (t.executable && !allowedByClauses(policy, *t.executable)) return {false, Reason::DefaultDeny, 0, false, 0};
    v = {true, Reason::AllowedByRule, clause, false, 0};
    v.needsProcess = !t.executable;
    return v;
  }
  if (v.allowed && policy.audited) {
    Verdict would = decide(policy, peer, t, true);
    if (!would.allowed) {
      v.auditWouldDeny = true;
      v.auditRule = would.rule;
    }
  }
  return v;
}

Verdict evaluate(const Program& program, const Endpoint& subject, Direction dir, const Peer& peer,
                 const Traffic& t) {
  if (!subject.classIndex) return {};
  return evaluate(program.classes.at(*subject.classIndex).direction(dir), peer, t);
}

bool refusedByName(const DirectionPolicy& policy, const Peer& peer, const Traffic& t) {
  if (t.dns.kind != DnsMessage::Kind::Query || evaluate(policy, peer, t).allowed) return false;
  Traffic anyName = t;
  anyName.dns = {};  // no message: every dns condition holds
  return evaluate(policy, peer, anyName).allowed;
}

Peer peerOf(const Program& program, const FlowEnd& end) {
  Peer p;
  if (end.host)
    p = Peer::host(end.address);
  else if (end.endpoint)
    p = Peer::endpoint(program.identity(end.endpoint->identity), end.address);
  else
    p = {Peer::Kind::World, nullptr, end.address, {}};
  p.learnedNames = end.learnedNames;
  return p;
}

FlowVerdict evaluateFlow(const Program& program, const FlowEnd& src, const FlowEnd& dst, const Traffic& t) {
  FlowVerdict fv;
  if (src.endpoint) fv.egress = evaluate(program, *src.endpoint, Direction::Egress, peerOf(program, dst), t);
  if (dst.endpoint) fv.ingress = evaluate(program, *dst.endpoint, Direction::Ingress, peerOf(program, src), t);
  return fv;
}

const char* reasonName(Reason r) {
  switch (r) {
    case Reason::NoPolicy: return "no-policy";
    case Reason::AllowedByRule: return "allowed-by-rule";
    case Reason::DeniedByRule: return "denied-by-rule";
    case Reason::DefaultDeny: return "default-deny";
    case Reason::UnreadableRequest: return "unreadable-request";
  }
  return "";
}

}  // namespace membrane::ir
