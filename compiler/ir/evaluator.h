// The reference evaluator: the one definition of "allowed" that the datapath,
// `explain`, `reach` and the differential tests are held to. Deliberately
// simple — a linear scan over the IR rules, no cleverness.
//
// Semantics (docs/language.md, "Semantics"):
//  - a direction no enforcing policy restricts is open;
//  - otherwise a matching deny rule denies, else a matching allow rule
//    allows, else the default is deny;
//  - audit-mode policies never change the verdict; they only report what
//    would have been denied had they been enforced.
#pragma once

#include <optional>

#include "ir/ir.h"

namespace membrane::ir {

// Who is on the other side of a packet.
struct Peer {
  enum class Kind { Endpoint, Host, World } kind = Kind::World;
  const Identity* identity = nullptr;   // Kind::Endpoint
  std::optional<net::Address> address;  // for CIDR rules; may be absent

  static Peer world(net::Address a) { return {Kind::World, nullptr, a}; }
  static Peer host(std::optional<net::Address> a = {}) { return {Kind::Host, nullptr, a}; }
  static Peer endpoint(const Identity* id, std::optional<net::Address> a = {}) { return {Kind::Endpoint, id, a}; }
};

// The part of a packet rules look at. `port` is the destination port for
// TCP/UDP/SCTP (the subject's port on ingress, the peer's on egress) and the
// message type for ICMP/ICMPv6; other protocols have none.
struct Traffic {
  uint8_t protocol = kTCP;
  uint16_t port = 0;
};

enum class Reason { NoPolicy, AllowedByRule, DeniedByRule, DefaultDeny };

struct Verdict {
  bool allowed = true;
  Reason reason = Reason::NoPolicy;
  uint32_t rule = 0;  // deciding rule; 0 for NoPolicy and DefaultDeny
  // Audit: the verdict had audit-mode policies been enforced.
  bool auditWouldDeny = false;
  uint32_t auditRule = 0;  // the audit deny rule, or 0 for audit default-deny
};

bool peerMatches(const PeerMatch& m, const Peer& peer);
bool trafficMatches(const std::vector<L4Match>& l4, const Traffic& t);
bool ruleMatches(const Rule& rule, const Peer& peer, const Traffic& t);

Verdict evaluate(const DirectionPolicy& policy, const Peer& peer, const Traffic& t);
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

struct FlowEnd {
  const Endpoint* endpoint = nullptr;  // null: not a known endpoint
  net::Address address;
  bool host = false;  // the node itself
};

FlowVerdict evaluateFlow(const Program& program, const FlowEnd& src, const FlowEnd& dst, const Traffic& t);

const char* reasonName(Reason r);

}  // namespace membrane::ir
