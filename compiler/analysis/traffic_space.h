// The traffic side of a set of rules cut into atoms: every rule's ports (or
// ICMP types) cut each protocol's space into intervals on which every rule
// matches all ports or none, so every verdict is constant on an interval and
// one probe per interval ("atom") is exact. Protocols no rule names behave
// alike and share one atom. Shared by `reach`, `diff` and `verify`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/ir.h"

namespace membrane::analysis {

struct ProtoSpace {
  uint8_t protocol = 0;  // the number probed
  std::string name;      // "TCP", ..., the number, or "other"
  bool hasPorts = true;
  uint16_t lo = 0, hi = 0;  // the port or type space (hasPorts)
};

struct Atom {
  size_t space = 0;  // index into the spaces
  uint8_t protocol = 0;
  uint16_t first = 0, last = 0;
};

struct Atoms {
  std::vector<ProtoSpace> spaces;  // TCP, UDP, SCTP, ICMP, ICMPv6, numbered ones, one "other"
  std::vector<Atom> atoms;         // by space, then port
};

// `lowestPort` is where TCP/UDP/SCTP ports start: 1 for what connections
// use, 0 to cover every value a packet can carry.
Atoms partitionTraffic(const std::vector<const ir::Rule*>& rules, uint16_t lowestPort);

}  // namespace membrane::analysis
