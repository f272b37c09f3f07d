// Packets for verification probes: the smallest well-formed frame that
// carries a given tuple to a class object's parser (Ethernet, IPv4 or IPv6,
// then TCP SYN, UDP, SCTP, ICMP/ICMPv6 or an opaque payload). Checksums
// stay zero: the datapath never reads them, and nothing leaves the kernel's
// test runner.
#pragma once

#include <cstdint>
#include <vector>

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

// The ICMP echo reply type of a family (0, or 129 for ICMPv6), and whether
// a type is an echo request.
uint8_t echoReplyType(net::Family f);
bool isEchoRequest(net::Family f, uint8_t protocol, uint16_t type);

}  // namespace membrane::verify
