#include "ir/protocols.h"

#include <utility>

#include "ir/ir.h"

namespace membrane::ir {

namespace {
using Entry = std::pair<const char*, uint8_t>;

// RFC 792 and friends, names as in iptables and Cilium.
const std::vector<Entry> kIcmpV4Types = {
    {"echo-reply", 0},         {"destination-unreachable", 3}, {"source-quench", 4},
    {"redirect", 5},           {"echo-request", 8},            {"router-advertisement", 9},
    {"router-solicitation", 10}, {"time-exceeded", 11},        {"parameter-problem", 12},
    {"timestamp-request", 13}, {"timestamp-reply", 14},        {"info-request", 15},
    {"info-reply", 16},        {"address-mask-request", 17},   {"address-mask-reply", 18},
};

// RFC 4443 and RFC 4861.
const std::vector<Entry> kIcmpV6Types = {
    {"destination-unreachable", 1}, {"packet-too-big", 2},         {"time-exceeded", 3},
    {"parameter-problem", 4},       {"echo-request", 128},         {"echo-reply", 129},
    {"multicast-listener-query", 130}, {"multicast-listener-report", 131},
    {"multicast-listener-done", 132},  {"router-solicitation", 133},
    {"router-advertisement", 134},  {"neighbor-solicitation", 135},
    {"neighbor-advertisement", 136}, {"redirect", 137},
};
}  // namespace

std::optional<uint8_t> icmpTypeByName(bool v6, const std::string& name) {
  for (const auto& [n, t] : v6 ? kIcmpV6Types : kIcmpV4Types)
    if (name == n) return t;
  return std::nullopt;
}

std::vector<std::string> icmpTypeNames(bool v6) {
  std::vector<std::string> out;
  for (const auto& e : v6 ? kIcmpV6Types : kIcmpV4Types) out.push_back(e.first);
  return out;
}

std::string icmpTypeName(bool v6, uint8_t type) {
  for (const auto& [n, t] : v6 ? kIcmpV6Types : kIcmpV4Types)
    if (t == type) return n;
  return std::to_string(type);
}

std::string protocolName(uint8_t p) {
  switch (p) {
    case kAnyProtocol: return "any";
    case kICMP: return "icmp";
    case kTCP: return "tcp";
    case kUDP: return "udp";
    case kICMPv6: return "icmpv6";
    case kSCTP: return "sctp";
  }
  return std::to_string(p);
}

const char* directionName(Direction d) { return d == Direction::Ingress ? "ingress" : "egress"; }
const char* actionName(Action a) { return a == Action::Allow ? "allow" : a == Action::Deny ? "deny" : "pass"; }

}  // namespace membrane::ir
