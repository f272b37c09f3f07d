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

// HTTP's slot (docs/http.md): what the socket layer read on a connection
// whose port some rule's http condition covers. None is the connection
// itself (its packets, before any request); a Request is one request's
// header block as read (features/http, readRequest); Unreadable is bytes
// that are not a request the datapath reads (TLS, HTTP/2, malformed, too
// long), which are denied on such a connection whatever the rules say.
struct HttpRequest {
  std::string method;  // as sent
  std::string target;  // the request-target as sent, query included
  std::vector<std::pair<std::string, std::string>> headers;  // in order; names as sent, values trimmed
};

struct HttpMessage {
  enum class Kind : uint8_t { None, Request, Unreadable } kind = Kind::None;
  HttpRequest request;  // Request
  std::string why;      // Unreadable: what the reader refused, for explain

  static HttpMessage of(HttpRequest r) { return {Kind::Request, std::move(r), {}}; }
  static HttpMessage unreadable(std::string why) { return {Kind::Unreadable, {}, std::move(why)}; }
};

struct Traffic {
  Traffic() = default;
  Traffic(uint8_t p, uint16_t destinationPort, DnsMessage message = {})
      : protocol(p), port(destinationPort), dns(std::move(message)) {}

  uint8_t protocol = kTCP;
  uint16_t port = 0;
  DnsMessage dns;
  HttpMessage http;
  // Process's slot (docs/process.md): the executable of the subject's task
  // that makes the call — connect(), or sendmsg() with an address — as the
  // socket hooks see it. Absent for a packet: the packet programs see no
  // task, and a process condition then holds for the connection, whose
  // call the socket hooks decided (Verdict::needsProcess).
  std::optional<std::string> executable;
};

}  // namespace membrane::ir
