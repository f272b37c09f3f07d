// The reference evaluator: the one definition of "allowed" that the datapath,
// `explain`, `reach` and the differential tests are held to. Deliberately
// simple — a linear scan over the IR rules, no cleverness.
//
// Semantics (docs/language.md, "Semantics" and "Tiers"):
//  - the admin tier's rules come first: the first that matches decides,
//    unless it is a `pass`, which (like no match) goes on to the rest;
//  - a direction no enforcing policy restricts is decided by the baseline
//    tier's first matching rule, and is otherwise open;
//  - otherwise a matching deny rule denies, else a matching allow rule
//    allows, else the default is deny;
//  - audit-mode policies never change the verdict; they only report what
//    would have been denied had they been enforced;
//  - HTTP (docs/http.md): a connection some matching rule's http condition
//    covers is allowed for the socket layer to decide its requests (deny
//    rules with an http condition deny requests, never the connection);
//    each request is then decided like a packet; bytes on such a connection
//    that are not a readable request are denied;
//  - process (docs/process.md): a call (Traffic::executable set) is decided
//    with each process condition tested on its executable; a packet (no
//    executable) meets process rules as the calls the socket hooks
//    allowed: allowed, but only on sockets those hooks let through
//    (needsProcess), unless a rule without a process condition allows it.
//  - `processes` clauses (docs/process.md, DirectionPolicy::processClauses):
//    a call whose executable one of them does not list is allowed by no
//    rule (deny rules still deny it); lowering has written the same into
//    every allow rule's process condition. A direction nothing but clauses
//    isolates lets their executables connect anywhere, nothing else.
#pragma once

#include <optional>

#include "ir/ir.h"
#include "ir/traffic.h"

namespace membrane::ir {

enum class Reason { NoPolicy, AllowedByRule, DeniedByRule, DefaultDeny, UnreadableRequest };

struct Verdict {
  bool allowed = true;
  Reason reason = Reason::NoPolicy;
  uint32_t rule = 0;  // deciding rule; 0 for NoPolicy and DefaultDeny
  // Audit: the verdict had audit-mode policies been enforced.
  bool auditWouldDeny = false;
  uint32_t auditRule = 0;  // the audit deny rule, or 0 for audit default-deny
  // Allowed by a rule with a dns condition: the answer to this query teaches
  // the subject addresses (docs/dns.md).
  bool learnsDns = false;
  // The connection (Traffic::http None) is allowed, and its requests are
  // decided one by one by the socket layer (MB_VERDICT_L7): some matching
  // rule has an http condition and no rule without one allows every
  // request. False for a request's own verdict.
  bool inspectsHttp = false;
  // A packet (Traffic::executable absent) allowed only by rules with a
  // process condition: allowed on a socket whose call (connect, sendmsg)
  // the socket hooks allowed, denied on any other (a raw socket, a socket
  // opened before the rules; MB_VERDICT_PROCESS). False for a call.
  bool needsProcess = false;
};

bool peerMatches(const PeerMatch& m, const Peer& peer);
// Every condition of the rule holds (each kind's meaning is its module's).
bool conditionsMatch(const Rule& rule, const Traffic& t);
bool ruleMatches(const Rule& rule, const Peer& peer, const Traffic& t);
// The first of `rules` that matches, or null: how a tier decides.
const Rule* firstMatch(const std::vector<Rule>& rules, const Peer& peer, const Traffic& t);
// Whether every `processes` clause of the direction lists the executable
// (true when it has none).
bool allowedByClauses(const DirectionPolicy& policy, const std::string& executable);

Verdict evaluate(const DirectionPolicy& policy, const Peer& peer, const Traffic& t);
// A query denied only for its name (some rule would allow it for some name):
// the datapath answers it REFUSED rather than dropping it.
bool refusedByName(const DirectionPolicy& policy, const Peer& peer, const Traffic& t);
// For an endpoint; unrestricted (NoPolicy) when no policy selects it.
Verdict evaluate(const Program& program, const Endpoint& subject, Direction dir, const Peer& peer,
                 const Traffic& t);

// A new connection from `src` to `dst`, each a known endpoint or an outside
// address: allowed only if the source's egress and the destination's ingress
// both allow it.
struct FlowVerdict {
  std::optional<Verdict> egress;   // set when the source is a known endpoint
  std::optional<Verdict> ingress;  // set when the destination is a known endpoint
  bool allowed() const { return (!egress || egress->allowed) && (!ingress || ingress->allowed); }
};

// One end of a connection, as every flow question (explain, reach, verify,
// the differential tests) asks it.
struct FlowEnd {
  FlowEnd() = default;
  FlowEnd(const Endpoint* e, std::optional<net::Address> a, bool isHost = false)
      : endpoint(e), address(std::move(a)), host(isHost) {}

  const Endpoint* endpoint = nullptr;   // null: not a known endpoint
  std::optional<net::Address> address;  // absent: the host, or an endpoint without one; CIDR rules then match nothing
  bool host = false;                    // the node itself
  // The names the other end looked up and was answered this address for,
  // still live: what name peers match (docs/dns.md).
  std::vector<std::string> learnedNames;
};

// The peer an end is to the other end's rules.
Peer peerOf(const Program& program, const FlowEnd& end);

FlowVerdict evaluateFlow(const Program& program, const FlowEnd& src, const FlowEnd& dst, const Traffic& t);

const char* reasonName(Reason r);

}  // namespace membrane::ir
