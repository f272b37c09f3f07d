// See regions.h.
#include "verify/regions.h"

#include <algorithm>
#include <map>
#include <set>

#include "analysis/address_space.h"
#include "analysis/traffic_space.h"

namespace membrane::verify {

namespace {

// ICMPv6 router/neighbour discovery (133-137) always passes the datapath
// (docs/datapath.md): no policy can block it, so the IR says nothing of it.
bool alwaysPasses(net::Family f, uint8_t protocol, uint16_t type) {
  return f == net::Family::V6 && protocol == ir::kICMPv6 && type >= 133 && type <= 137;
}

// IPv6 walks these as extension headers: no packet has them as its L4.
bool extensionHeader(uint8_t protocol) {
  switch (protocol) {
    case 0: case 43: case 44: case 51: case 60: case 135: case 139: case 140: case 253: case 254: return true;
  }
  return false;
}

// Whether the family's parser gives this protocol ports (or ICMP types).
bool portsIn(net::Family f, uint8_t protocol) {
  if (protocol == ir::kTCP || protocol == ir::kUDP || protocol == ir::kSCTP) return true;
  return protocol == (f == net::Family::V4 ? ir::kICMP : ir::kICMPv6);
}

}  // namespace

std::vector<FamilyRegions> regionsOf(const ir::DirectionPolicy& policy) {
  std::vector<const ir::Rule*> rules;
  std::vector<net::Prefix> cuts;
  policy.forEachRule([&](const ir::Rule& r) {
    rules.push_back(&r);
    for (const auto& c : r.peer.cidrs) {
      cuts.push_back(c.prefix);
      cuts.insert(cuts.end(), c.except.begin(), c.except.end());
    }
  });
  // Port 0 too: a packet can carry it, so the object must decide it as the IR does.
  analysis::Atoms atoms = analysis::partitionTraffic(rules, 0);

  std::vector<FamilyRegions> out;
  for (net::Family f : {net::Family::V4, net::Family::V6}) {
    FamilyRegions fr;
    fr.family = f;
    analysis::AddressRanges ranges = analysis::partitionAddresses(f, cuts);
    std::set<net::Address> addresses;
    for (const auto& [first, last] : ranges.ranges) {
      addresses.insert(analysis::fromU(f, first));
      addresses.insert(analysis::fromU(f, last));
    }
    fr.addresses.assign(addresses.begin(), addresses.end());
    fr.addressRanges = ranges.ranges.size();

    std::set<std::pair<uint8_t, uint16_t>> traffic;
    for (const auto& atom : atoms.atoms) {
      const analysis::ProtoSpace& space = atoms.spaces[atom.space];
      if (f == net::Family::V6 && extensionHeader(atom.protocol)) {
        fr.skipped.push_back(space.name + " (an IPv6 extension header)");
        continue;
      }
      if (!portsIn(f, atom.protocol)) {
        // Without ports in this family (ICMP in IPv6, ICMPv6 in IPv4, other
        // protocols): one region and one probe, port 0, however the rules
        // cut its numbers.
        fr.trafficIntervals += traffic.insert({atom.protocol, 0}).second;
        continue;
      }
      ++fr.trafficIntervals;
      // Both ends, moved inwards past types that always pass.
      uint32_t lo = atom.first, hi = atom.last;
      while (lo <= hi && alwaysPasses(f, atom.protocol, static_cast<uint16_t>(lo))) ++lo;
      while (hi >= lo && hi > 0 && alwaysPasses(f, atom.protocol, static_cast<uint16_t>(hi))) --hi;
      if (lo > hi || alwaysPasses(f, atom.protocol, static_cast<uint16_t>(hi))) {
        --fr.trafficIntervals;
        fr.skipped.push_back((atom.first == atom.last ? "ICMPv6 type " + std::to_string(atom.first)
                                                      : "ICMPv6 types " + std::to_string(atom.first) + "-" +
                                                            std::to_string(atom.last)) +
                             " (neighbour discovery always passes)");
        continue;
      }
      traffic.insert({atom.protocol, static_cast<uint16_t>(lo)});
      traffic.insert({atom.protocol, static_cast<uint16_t>(hi)});
    }
    for (const auto& [protocol, port] : traffic) fr.traffic.push_back({protocol, port});
    out.push_back(std::move(fr));
  }
  return out;
}

std::string PeerKind::describe() const {
  switch (kind) {
    case ir::Peer::Kind::Host: return "host";
    case ir::Peer::Kind::World: return "world";
    case ir::Peer::Kind::Endpoint: break;
  }
  std::string labels;
  for (const auto& [k, v] : identity->labels) labels += (labels.empty() ? "" : ",") + k + "=" + v;
  return "identity " + std::to_string(identity->id) + " (" + identity->ns + (labels.empty() ? "" : ", " + labels) + ")";
}

std::vector<PeerKind> peerKinds(const ir::Program& program) {
  std::vector<PeerKind> out;
  std::set<std::vector<uint32_t>> seen;
  for (const auto& id : program.identities)
    if (seen.insert(id.selectorBits).second) out.push_back({ir::Peer::Kind::Endpoint, &id});
  out.push_back({ir::Peer::Kind::Host, nullptr});
  out.push_back({ir::Peer::Kind::World, nullptr});
  return out;
}

uint64_t probeCount(const std::vector<FamilyRegions>& regions, size_t peerKinds) {
  uint64_t n = 0;
  for (const auto& fr : regions) n += static_cast<uint64_t>(fr.addresses.size()) * fr.traffic.size();
  return n * peerKinds;
}

}  // namespace membrane::verify
