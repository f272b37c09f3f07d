// What the reference evaluator is asked about: the peer on the other side
// of a packet and the traffic itself. Each rule kind reads its own slot of
// Traffic (docs/extending.md); L4 reads protocol and port.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ir/ir.h"

namespace membrane::ir {

// Who is on the other side of a packet.
struct Peer {
  enum class Kind { Endpoint, Host, World } kind = Kind::World;
  const Identity* identity = nullptr;   // Kind::Endpoint
  std::optional<net::Address> address;  // for CIDR rules; may be absent
  // Egress: the names the subject looked up and was answered this address
  // for, still live (the datapath's mb_dns_learned), for name peers.
  std::vector<std::string> learnedNames;

  static Peer world(net::Address a) { return {Kind::World, nullptr, a, {}}; }
  static Peer host(std::optional<net::Address> a = {}) { return {Kind::Host, nullptr, a, {}}; }
  static Peer endpoint(const Identity* id, std::optional<net::Address> a = {}) { return {Kind::Endpoint, id, a, {}}; }
};

// The part of a packet rules look at, one slot per rule kind. L4's slot:
// `protocol`, and `port`, the destination port for TCP/UDP/SCTP (the
// subject's port on ingress, the peer's on egress) or the message type for
// ICMP/ICMPv6; other protocols have none. A kind that looks at more (an
// HTTP request, a process) adds its slot here.
//
// DNS's slot: what the packet carries on a port a dns condition covers. A
// query (with its name, normalized), a packet that is not a query the
// datapath can read, or none (a TCP packet without payload, or not a DNS
// port at all).
struct DnsMessage {
  enum class Kind : uint8_t { None, Query, Unreadable } kind = Kind::None;
  std::string name;  // Query

  static DnsMessage query(std::string name) { return {Kind::Query, std::move(name)}; }
  static DnsMessage unreadable() { return {Kind::Unreadable, {}}; }
};

struct Traffic {
  Traffic() = default;
  Traffic(uint8_t p, uint16_t destinationPort, DnsMessage message = {})
      : protocol(p), port(destinationPort), dns(std::move(message)) {}

  uint8_t protocol = kTCP;
  uint16_t port = 0;
  DnsMessage dns;
};

}  // namespace membrane::ir
