// What the reference evaluator is asked about: the peer on the other side
// of a packet and the traffic itself. Each rule kind reads its own slot of
// Traffic (docs/extending.md); L4 reads protocol and port.
#pragma once

#include <cstdint>
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

// The part of a packet rules look at, one slot per rule kind. L4's slot:
// `protocol`, and `port`, the destination port for TCP/UDP/SCTP (the
// subject's port on ingress, the peer's on egress) or the message type for
// ICMP/ICMPv6; other protocols have none. A kind that looks at more (an
// HTTP request, a DNS state, a process) adds its slot here.
struct Traffic {
  uint8_t protocol = kTCP;
  uint16_t port = 0;
};

}  // namespace membrane::ir
