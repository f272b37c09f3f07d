// The finitely many regions one direction's policy cuts the packet space
// into, and one probe at each end of every region.
//
// A decision reads the peer (who: an identity's selector bits, the host or
// the world; where: its address) and the traffic (protocol and port or ICMP
// type). The rules' CIDRs cut each address family into ranges, and their
// ports cut each protocol into intervals (analysis/traffic_space.h), on each
// of which every rule matches everywhere or nowhere: so the IR's verdict is
// constant on every (peer kind, address range, traffic interval). Probing
// both ends of every range and interval, for every identity the program
// has, checks a compiled object against the IR everywhere, not on a sample:
// an object that moved a boundary by one disagrees at one of the ends.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evaluator/evaluator.h"
#include "ir/ir.h"
#include "net/address.h"

namespace membrane::verify {

// What a probe carries: `port` is the destination port for TCP/UDP/SCTP,
// the type for ICMP and ICMPv6, and 0 for protocols without ports.
using TrafficProbe = ir::Traffic;

struct FamilyRegions {
  net::Family family = net::Family::V4;
  std::vector<net::Address> addresses;  // both ends of every range, sorted
  std::vector<TrafficProbe> traffic;    // both ends of every interval the family can carry
  size_t addressRanges = 0, trafficIntervals = 0;
  // Intervals no packet of this family reaches policy with (IPv6 neighbour
  // discovery, which always passes; IPv6 extension header numbers), by name.
  std::vector<std::string> skipped;
};

// One direction's regions, per family (IPv4, then IPv6).
std::vector<FamilyRegions> regionsOf(const ir::DirectionPolicy& policy);

// Who can be behind an address: every distinct identity of the program (by
// selector bits; the first of equals stands for all), the host, the world.
struct PeerKind {
  ir::Peer::Kind kind = ir::Peer::Kind::World;
  const ir::Identity* identity = nullptr;  // Kind::Endpoint
  std::string describe() const;            // "identity 260 (shop, app=api)", "host", "world"
};
std::vector<PeerKind> peerKinds(const ir::Program& program);

// Probes for one direction: peer kinds x addresses x traffic, both families.
uint64_t probeCount(const std::vector<FamilyRegions>& regions, size_t peerKinds);

}  // namespace membrane::verify
