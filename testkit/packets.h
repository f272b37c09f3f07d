// Crafted packets for the datapath tests: small builders that compose,
// e.g. frame(ip(A, B, kTcp, tcp(40000, 80, kSyn))). Checksums stay zero: the
// datapath never looks at them. Only test addresses are used
// (198.18.0.0/15, 2001:2::/48).
#pragma once

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace mbtest {

using Bytes = std::vector<uint8_t>;

inline constexpr uint8_t kHopByHop = 0, kIcmp = 1, kTcp = 6, kUdp = 17, kRouting = 43,
                         kFragment = 44, kAh = 51, kIcmp6 = 58, kDstOpts = 60, kMobility = 135,
                         kSctp = 132, kGre = 47;
inline constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;
inline constexpr uint16_t kEthIp = 0x0800, kEthIpv6 = 0x86dd, kEthArp = 0x0806, kEthLldp = 0x88cc;

struct Addr {
  int family = 4;  // 4 or 6, like MB_FAMILY_*
  std::array<uint8_t, 16> bytes{};  // IPv4 in the first 4

  static Addr parse(const std::string& text) {
    Addr a;
    if (text.find(':') != std::string::npos) {
      a.family = 6;
      if (inet_pton(AF_INET6, text.c_str(), a.bytes.data()) != 1)
        throw std::invalid_argument("bad IPv6 address " + text);
    } else if (inet_pton(AF_INET, text.c_str(), a.bytes.data()) != 1) {
      throw std::invalid_argument("bad IPv4 address " + text);
    }
    return a;
  }
  size_t size() const { return family == 4 ? 4 : 16; }
};

inline void put16(Bytes& b, uint16_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}
inline void put32(Bytes& b, uint32_t v) {
  put16(b, uint16_t(v >> 16));
  put16(b, uint16_t(v));
}
inline Bytes operator+(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
inline Bytes cut(Bytes b, size_t n) {
  b.resize(n);
  return b;
}

// ---- L4 -------------------------------------------------------------------

inline Bytes tcp(uint16_t sport, uint16_t dport, uint8_t flags = kSyn, uint8_t doff = 5) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put32(b, 1000);  // seq
  put32(b, (flags & kAck) ? 2000 : 0);
  b.push_back(uint8_t(doff << 4));
  b.push_back(flags);
  put16(b, 65535);  // window
  put16(b, 0);      // checksum
  put16(b, 0);      // urgent
  for (int i = 5; i < doff; i++) put32(b, 0x01010101);  // NOP options
  return b;
}

inline Bytes udp(uint16_t sport, uint16_t dport, size_t payload = 4) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put16(b, uint16_t(8 + payload));
  put16(b, 0);
  b.resize(8 + payload, 0xab);
  return b;
}

inline Bytes sctp(uint16_t sport, uint16_t dport) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put32(b, 0x12345678);  // verification tag
  put32(b, 0);           // checksum
  return b;
}

// ICMP and ICMPv6 share the layout we care about: type, code, checksum,
// then id/sequence (echo) or unused/MTU (errors), then the body.
inline Bytes icmp(uint8_t type, uint8_t code = 0, uint16_t id = 0, uint16_t seq = 1,
                  const Bytes& body = Bytes(8, 0x61)) {
  Bytes b{type, code, 0, 0};
  put16(b, id);
  put16(b, seq);
  return b + body;
}

// ---- L3 -------------------------------------------------------------------

struct Ipv4Opts {
  uint16_t id = 0x4242;
  uint16_t frag = 0;   // flags|offset field, host order (0x2000 = MF)
  Bytes options;       // padded to 4 bytes by the caller
  int ihl = -1;        // override the header length field (words)
  int version = 4;
};

inline Bytes ipv4(const Addr& src, const Addr& dst, uint8_t proto, const Bytes& payload,
                  const Ipv4Opts& o = {}) {
  Bytes b;
  int ihl = o.ihl >= 0 ? o.ihl : int(5 + o.options.size() / 4);
  b.push_back(uint8_t(o.version << 4 | (ihl & 0xf)));
  b.push_back(0);
  put16(b, uint16_t(20 + o.options.size() + payload.size()));
  put16(b, o.id);
  put16(b, o.frag);
  b.push_back(64);
  b.push_back(proto);
  put16(b, 0);
  b.insert(b.end(), src.bytes.begin(), src.bytes.begin() + 4);
  b.insert(b.end(), dst.bytes.begin(), dst.bytes.begin() + 4);
  return b + o.options + payload;
}

inline Bytes ipv6(const Addr& src, const Addr& dst, uint8_t nexthdr, const Bytes& payload,
                  int version = 6) {
  Bytes b{uint8_t(version << 4), 0, 0, 0};
  put16(b, uint16_t(payload.size()));
  b.push_back(nexthdr);
  b.push_back(64);
  b.insert(b.end(), src.bytes.begin(), src.bytes.end());
  b.insert(b.end(), dst.bytes.begin(), dst.bytes.end());
  return b + payload;
}

// An IPv6 extension header in front of `rest`. Hop-by-hop, routing and
// destination options count 8-byte units beyond the first 8; AH counts
// 4-byte units minus 2. `units` is the raw length field.
inline Bytes ext6(uint8_t type, uint8_t next, const Bytes& rest, uint8_t units = 0) {
  size_t len = type == kAh ? (size_t(units) + 2) * 4 : (size_t(units) + 1) * 8;
  Bytes b{next, units};
  if (type == kRouting) {
    b.push_back(0);  // routing type
    b.push_back(0);  // segments left
  }
  b.resize(len, type == kAh ? 0x55 : 0x01);  // PadN-ish filler / AH ICV
  return b + rest;
}

// An IPv6 fragment header: offset in 8-byte units.
inline Bytes frag6(uint8_t next, uint16_t offset, bool more, uint32_t id, const Bytes& rest) {
  Bytes b{next, 0};
  put16(b, uint16_t(offset << 3 | (more ? 1 : 0)));
  put32(b, id);
  return b + rest;
}

// An IP packet of the addresses' family, with `proto` as the (first) next header.
inline Bytes ip(const Addr& src, const Addr& dst, uint8_t proto, const Bytes& payload) {
  return src.family == 4 ? ipv4(src, dst, proto, payload) : ipv6(src, dst, proto, payload);
}

// ---- L2 -------------------------------------------------------------------

inline Bytes frame(uint16_t ethertype, const Bytes& payload) {
  Bytes b{0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};  // locally administered MACs
  put16(b, ethertype);
  return b + payload;
}

// An Ethernet frame around an IP packet, EtherType from its version nibble.
inline Bytes frame(const Bytes& l3) {
  return frame((!l3.empty() && (l3[0] >> 4) == 6) ? kEthIpv6 : kEthIp, l3);
}

inline Bytes arpRequest(const Addr& sender, const Addr& target) {
  Bytes b;
  put16(b, 1);       // Ethernet
  put16(b, kEthIp);  // IPv4
  b.push_back(6);
  b.push_back(4);
  put16(b, 1);  // request
  Bytes mac{0x02, 0, 0, 0, 0, 0x01};
  b = b + mac;
  b.insert(b.end(), sender.bytes.begin(), sender.bytes.begin() + 4);
  b = b + Bytes(6, 0);
  b.insert(b.end(), target.bytes.begin(), target.bytes.begin() + 4);
  return frame(kEthArp, b);
}

}  // namespace mbtest
