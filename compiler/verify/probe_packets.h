// Packets for verification probes: the smallest well-formed frame that
// carries a given tuple to a class object's parser (Ethernet, IPv4 or IPv6,
// then TCP SYN, UDP, SCTP, ICMP/ICMPv6 or an opaque payload). Checksums
// stay zero: the datapath never reads them, and nothing leaves the kernel's
// test runner.
#pragma once

#include <cstdint>
#include <vector>

#include "abi/datapath.h"
#include "net/address.h"

namespace membrane::verify {

struct ProbeTuple {
  net::Address src, dst;
  uint8_t protocol = 6;
  // TCP/UDP/SCTP: the ports. ICMP/ICMPv6 (in their own family): `dport` is
  // the type and `sport` the echo id. Other protocols: unused.
  uint16_t sport = 0, dport = 0;
  bool reply = false;  // TCP: SYN-ACK instead of SYN
};

std::vector<uint8_t> probeFrame(const ProbeTuple& t);

// The connection key (struct mb_ct_key) the datapath builds from the parsed
// probeFrame(t) (lib/conntrack.h, mb_ct_key_init): addresses (IPv4 in the
// first 4 bytes), ports in network order (an ICMP echo's id in sport, 0 for
// other ICMP and port-less protocols), protocol, family, and `endpoint`.
// What process rules' mb_process_flows is keyed by (docs/process.md).
mb_ct_key flowKey(const ProbeTuple& t, uint32_t endpoint);

// The ICMP echo reply type of a family (0, or 129 for ICMPv6), and whether
// a type is an echo request.
uint8_t echoReplyType(net::Family f);
bool isEchoRequest(net::Family f, uint8_t protocol, uint16_t type);

}  // namespace membrane::verify
